"""Issuance tables added after the first revision (issuance_0002): who paid each credit, as the bank gave it, and
the refunds that send money back to them. Their own MetaData, so issuance_0001 (which creates the first tables
from issuance_tables) never creates these; issuance_0002 spells them out."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

credit_payers = sa.Table(
    "iss_credit_payers", metadata,
    sa.Column("entry_key", sa.String(80), primary_key=True),  # the booked credit (or batch part) it paid
    sa.Column("name", sa.String(140), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("scheme", sa.String(35), nullable=False),
)
refunds = sa.Table(
    "iss_refunds", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(16), nullable=False),  # suspense | subscription
    sa.Column("source_seq", sa.BigInteger, nullable=False),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("creditor_name", sa.String(140), nullable=False),
    sa.Column("creditor_account", sa.String(64), nullable=False),
    sa.Column("creditor_scheme", sa.String(35), nullable=False),
    sa.Column("creditor_bic", sa.String(11)),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("approval_key", sa.String(120), nullable=False),
    sa.Column("message_id", sa.String(35), nullable=False, unique=True),
    sa.Column("execution_date", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # instructed | written | paid
    sa.Column("file_name", sa.String(200)),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("source", "source_seq", name="uq_iss_refunds_source"),
)
sa.Index("ix_iss_refunds_status", refunds.c.status, refunds.c.seq)
