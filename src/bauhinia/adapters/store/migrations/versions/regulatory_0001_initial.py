"""Regulatory: incidents as the regulator sees them (notification step, timeline) and the periodic returns.

Revision ID: regulatory_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "regulatory_0001"
down_revision = None
branch_labels = ("regulatory",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reg_incidents",
        sa.Column("incident_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("summary", sa.String(512), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("opened_at_ns", sa.BigInteger, nullable=False),
        sa.Column("notify_by_ns", sa.BigInteger, nullable=False),
        sa.Column("notified_at_ns", sa.BigInteger),
        sa.Column("notification_ref", sa.String(120), nullable=False),
        sa.Column("closed_at_ns", sa.BigInteger),
    )
    op.create_index("ix_reg_incidents_state", "reg_incidents", ["state", "notify_by_ns"])
    op.create_table(
        "reg_incident_events",
        sa.Column("incident_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "reg_returns",
        sa.Column("return_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reg_returns")
    op.drop_table("reg_incident_events")
    op.drop_index("ix_reg_incidents_state", table_name="reg_incidents")
    op.drop_table("reg_incidents")
