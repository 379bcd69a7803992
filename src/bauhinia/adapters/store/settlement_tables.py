"""Settlement tables (SQLAlchemy Core). The schema itself is created by the Alembic branch "settlement".

- settlement_parties: trade parties (exporters, importers) with their chain address and last screening.
- settlement_invoices: trade invoices, their state and escrow terms; line items as JSON.
- settlement_invoice_events: the audit trail, one row per transition (invoice id, sequence).
- settlement_quotes: firm swap quotes, the maker's signature and what became of them.
- settlement_payments: settled payments (released invoices, swap legs) for the trade report.
- settlement_contracts: the escrow and swap contracts per chain.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

parties = sa.Table(
    "settlement_parties",
    metadata,
    sa.Column("party_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(140), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("address", sa.String(42), nullable=False),
    sa.Column("screening_decision", sa.String(16), nullable=False),
    sa.Column("screened_at_ns", sa.BigInteger, nullable=False),
)

invoices = sa.Table(
    "settlement_invoices",
    metadata,
    sa.Column("invoice_id", sa.String(35), primary_key=True),
    sa.Column("exporter_id", sa.String(64), nullable=False),
    sa.Column("importer_id", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("line_items_json", sa.Text, nullable=False),
    sa.Column("bill_of_lading_hash", sa.String(64), nullable=False),
    sa.Column("packing_list_hash", sa.String(64), nullable=False),
    sa.Column("agent_address", sa.String(42)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("escrow_expiry_s", sa.BigInteger),
    sa.Column("issued_at_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)
sa.Index("ix_settlement_invoices_state", invoices.c.state)

invoice_events = sa.Table(
    "settlement_invoice_events",
    metadata,
    sa.Column("invoice_id", sa.String(35), primary_key=True),
    sa.Column("sequence", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reference", sa.String(128), nullable=False),
)

quotes = sa.Table(
    "settlement_quotes",
    metadata,
    sa.Column("quote_id", sa.String(64), primary_key=True),
    sa.Column("maker", sa.String(42), nullable=False),
    sa.Column("taker", sa.String(42), nullable=False),
    sa.Column("maker_coin", sa.String(8), nullable=False),
    sa.Column("maker_amount_base_units", sa.BigInteger, nullable=False),
    sa.Column("taker_coin", sa.String(8), nullable=False),
    sa.Column("taker_amount_base_units", sa.BigInteger, nullable=False),
    sa.Column("rate_base", sa.String(8), nullable=False),
    sa.Column("rate_quote", sa.String(8), nullable=False),
    sa.Column("rate_numerator", sa.BigInteger, nullable=False),
    sa.Column("rate_denominator", sa.BigInteger, nullable=False),
    sa.Column("rounding", sa.String(16), nullable=False),
    sa.Column("created_at_s", sa.BigInteger, nullable=False),
    sa.Column("expiry_s", sa.BigInteger, nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False, unique=True),
    sa.Column("signature", sa.String(132), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | settled | refused
    sa.Column("status_detail", sa.Text, nullable=False),
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)

payments = sa.Table(
    "settlement_payments",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("reference", sa.String(80), primary_key=True),
    sa.Column("payer", sa.String(42), nullable=False),
    sa.Column("payee", sa.String(42), nullable=False),
    sa.Column("payer_country", sa.String(2), nullable=False),
    sa.Column("payee_country", sa.String(2), nullable=False),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("amount_base_units", sa.BigInteger, nullable=False),
    sa.Column("settled_at_ns", sa.BigInteger, nullable=False),
)
sa.Index("ix_settlement_payments_settled_at", payments.c.settled_at_ns)

contracts = sa.Table(
    "settlement_contracts",
    metadata,
    sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(32), primary_key=True),  # escrow_BCNH, escrow_BHKD, swap
    sa.Column("address", sa.String(42), nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)

# A redemption that pays out a released invoice's proceeds: its payout carries the invoice number in the ISO
# 20022 remittance information (issuance's write_payout_file asks through IssuanceContext.invoice_reference_for).
redemption_links = sa.Table(
    "settlement_redemption_links",
    metadata,
    sa.Column("redemption_key", sa.String(120), primary_key=True),  # the redemption's idempotency key
    sa.Column("invoice_id", sa.String(35), nullable=False, index=True),
    sa.Column("linked_at_ns", sa.BigInteger, nullable=False),
)
