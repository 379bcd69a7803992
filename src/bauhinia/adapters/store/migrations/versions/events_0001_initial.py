"""Events: the transactional outbox and the webhook dead-letter list.

Revision ID: events_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "events_0001"
down_revision = None
branch_labels = ("events",)
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at_ns", sa.BigInteger, nullable=False),
        sa.Column("published_at_ns", sa.BigInteger),
        sa.Column("last_error", sa.String(500)),
    )
    op.create_index("ix_outbox_events_status_id", "outbox_events", ["status", "id"])
    op.create_table(
        "webhook_dead_letters",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("replayed_at_ns", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("webhook_dead_letters")
    op.drop_table("outbox_events")
