"""Approvals: maker-checker approval requests.

Revision ID: approvals_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "approvals_0001"
down_revision = None
branch_labels = ("approvals",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("maker", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
        sa.Column("approvals_required", sa.Integer, nullable=False),
        sa.Column("decisions", sa.Text, nullable=False),
        sa.Column("execution_started_at_ns", sa.BigInteger),
        sa.Column("executed_at_ns", sa.BigInteger),
        sa.Column("result", sa.Text),
        sa.Column("last_error", sa.String(500)),
        sa.Column("reason", sa.String(500), nullable=False),
    )
    op.create_index("ix_approval_requests_status_expiry", "approval_requests", ["status", "expires_at_ns"])


def downgrade() -> None:
    op.drop_table("approval_requests")
