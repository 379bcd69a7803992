"""Ledger: the journal of manual adjustments.

Revision ID: ledger_0002
Revises: ledger_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_adjustments",
        sa.Column("adjustment_id", sa.String(40), primary_key=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("maker", sa.String(80), nullable=False),
        sa.Column("approval_id", sa.String(64)),
        sa.Column("approvers", sa.String(400), nullable=False),
        sa.Column("transfers_json", sa.Text, nullable=False),
        sa.Column("transfer_count", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("amount_minor_total", sa.BigInteger, nullable=False),
        sa.Column("booked_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ledger_adjustments_booked_at_ns", "ledger_adjustments", ["booked_at_ns"])


def downgrade() -> None:
    op.drop_index("ix_ledger_adjustments_booked_at_ns", table_name="ledger_adjustments")
    op.drop_table("ledger_adjustments")
