"""Reserves: bank statement closing balances and covered entries, proof-of-liabilities leaves.

Revision ID: reserves_0002
Revises: reserves_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reserves_0002"
down_revision = "reserves_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reserve_bank_statements",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("closing_minor", sa.BigInteger, nullable=False),
        sa.Column("closing_on", sa.Date),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("ingested_at_ns", sa.BigInteger, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
    )
    op.create_table(
        "reserve_statement_entries",
        sa.Column("entry_key", sa.String(64), primary_key=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "reserve_liability_leaves",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("holder_id", sa.String(128), nullable=False),
        sa.Column("balance_base_units", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("reserve_liability_leaves", "reserve_statement_entries", "reserve_bank_statements"):
        op.drop_table(name)
