"""Ledger: accounts, transfers, pending transfers and the writer lock row.

Revision ID: ledger_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("debits_pending", sa.BigInteger, nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False),
        sa.Column("credits_pending", sa.BigInteger, nullable=False),
        sa.Column("credits_posted", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ledger_accounts_reference", "ledger_accounts", ["reference"])
    op.create_table(
        "ledger_transfers",
        sa.Column("timestamp", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("debit_account_id", sa.BigInteger, nullable=False),
        sa.Column("credit_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("pending_id", sa.BigInteger, nullable=False),
        sa.Column("timeout_s", sa.BigInteger, nullable=False),
    )
    op.create_index("ux_ledger_transfers_id", "ledger_transfers", ["id"], unique=True)
    # Per-account and per-reference indexes are built in bulk by compaction (see ledger_store), not per row.
    op.create_table(
        "ledger_postings",
        sa.Column("account_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_references",
        sa.Column("reference", sa.String(128), primary_key=True),
        sa.Column("timestamp", sa.BigInteger, primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_pending",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("debit_account_id", sa.BigInteger, nullable=False),
        sa.Column("credit_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("amount_posted", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_ledger_pending_expiry",
        "ledger_pending",
        ["expires_at_ns"],
        sqlite_where=sa.text("status = 'pending' AND expires_at_ns > 0"),
        postgresql_where=sa.text("status = 'pending' AND expires_at_ns > 0"),
    )
    meta = op.create_table(
        "ledger_meta",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("indexed_until", sa.BigInteger, nullable=False),
        sa.Column("unindexed_count", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(meta, [{"id": 1, "version": 0, "last_timestamp": 0, "indexed_until": 0, "unindexed_count": 0}])


def downgrade() -> None:
    for name in (
        "ledger_meta", "ledger_pending", "ledger_references", "ledger_postings", "ledger_transfers", "ledger_accounts"
    ):
        op.drop_table(name)
