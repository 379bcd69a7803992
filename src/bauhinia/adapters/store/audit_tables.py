"""Audit log tables (SQLAlchemy Core). The schema is created by the Alembic branch "audit".

`audit_log` is append-only: entry `seq` n carries the hash of entry n-1 (`prev_hash`) and its own hash over that
and its canonical JSON. `audit_head` is one row holding the last seq and hash; writers lock it, so concurrent
writers never fork the chain, and it catches a truncated tail.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
