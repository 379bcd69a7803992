"""Approvals: policies changed through a `policy_change` approval (what differs from the code's defaults).

Revision ID: approvals_0002
Revises: approvals_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "approvals_0002"
down_revision = "approvals_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_policy_overrides",
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("approval_key", sa.String(120), nullable=False),
        sa.Column("changed_at_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("approval_policy_overrides")
