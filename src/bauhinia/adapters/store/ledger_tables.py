"""Ledger tables (SQLAlchemy Core). The schema itself is created by the Alembic branch "ledger".

Transfers are keyed by the ledger's timestamp (the rowid on SQLite), so every batch appends at the end of the
B-tree. Looking transfers up by account or by reference goes through `ledger_postings` / `ledger_references`,
which the store fills in bulk, sorted, once enough transfers have arrived (a compaction, as an LSM tree does),
rather than one random B-tree insert per transfer per index; the not-yet-compacted tail is scanned.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "ledger_accounts",
    metadata,
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

transfers = sa.Table(
    "ledger_transfers",
    metadata,
    sa.Column("timestamp", BIGINT, primary_key=True, autoincrement=False),
    sa.Column("id", sa.BigInteger, nullable=False, unique=True),
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

postings = sa.Table(
    "ledger_postings",
    metadata,
    sa.Column("account_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("timestamp", sa.BigInteger, primary_key=True, autoincrement=False),
)

references = sa.Table(
    "ledger_references",
    metadata,
    sa.Column("reference", sa.String(128), primary_key=True),
    sa.Column("timestamp", sa.BigInteger, primary_key=True, autoincrement=False),
)

pending = sa.Table(
    "ledger_pending",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=False),
    sa.Column("debit_account_id", sa.BigInteger, nullable=False),
    sa.Column("credit_account_id", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("amount_posted", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
)

meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("last_timestamp", sa.BigInteger, nullable=False),
    sa.Column("indexed_until", sa.BigInteger, nullable=False),
    sa.Column("unindexed_count", sa.BigInteger, nullable=False),
)

# The journal of manual adjustments (domain/adjustments.py): one row per adjustment booked, written in the same
# transaction as its transfers, so a booked adjustment is always journaled and a journaled one always booked.
adjustments = sa.Table(
    "ledger_adjustments",
    metadata,
    sa.Column("adjustment_id", sa.String(40), primary_key=True),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("maker", sa.String(80), nullable=False),
    sa.Column("approval_id", sa.String(64)),
    sa.Column("approvers", sa.String(400), nullable=False),  # comma-separated; "" when none was needed
    sa.Column("transfers_json", sa.Text, nullable=False),
    sa.Column("transfer_count", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),  # the first transfer's; "" when taken from a pending one
    sa.Column("amount_minor_total", sa.BigInteger, nullable=False),
    sa.Column("booked_at_ns", sa.BigInteger, nullable=False, index=True),
)
