"""API: one-time client enrolments (who created a client, the code its owner redeems for the secret).

Revision ID: api_0002_enrolments
Revises: api_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_0002_enrolments"
down_revision = "api_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_enrolments",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
        sa.Column("used_at_ns", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("api_enrolments")
