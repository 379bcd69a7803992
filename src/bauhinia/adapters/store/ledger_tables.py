"""Ledger tables (SQLAlchemy Core). The schema itself is created by the Alembic branch "ledger".

On SQLite the transfers table is keyed by the ledger's timestamp as its rowid, so appends go to the end of the
B-tree and the per-account indexes come out in time order for free.
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
)
