"""Security: console sign-in failure counters with lockouts, and server-side console sessions.

Revision ID: security_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "security_0001"
down_revision = None
branch_labels = ("security",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_signin_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start_ns", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "security_console_sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
        sa.Column("revoked_at_ns", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("security_console_sessions")
    op.drop_table("security_signin_failures")
