"""Settlement: trade parties, invoices and their audit trail, swap quotes, settled payments, contracts.

Revision ID: settlement_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "settlement_0001"
down_revision = None
branch_labels = ("settlement",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_contracts",
        sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settlement_invoice_events",
        sa.Column("invoice_id", sa.String(35), primary_key=True),
        sa.Column("sequence", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(None), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
    )
    op.create_table(
        "settlement_invoices",
        sa.Column("invoice_id", sa.String(35), primary_key=True),
        sa.Column("exporter_id", sa.String(64), nullable=False),
        sa.Column("importer_id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("line_items_json", sa.String(None), nullable=False),
        sa.Column("bill_of_lading_hash", sa.String(64), nullable=False),
        sa.Column("packing_list_hash", sa.String(64), nullable=False),
        sa.Column("agent_address", sa.String(42)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("escrow_expiry_s", sa.BigInteger),
        sa.Column("issued_at_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_settlement_invoices_state", "settlement_invoices", ["state"])
    op.create_table(
        "settlement_parties",
        sa.Column("party_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(140), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("screening_decision", sa.String(16), nullable=False),
        sa.Column("screened_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settlement_payments",
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
    op.create_index("ix_settlement_payments_settled_at", "settlement_payments", ["settled_at_ns"])
    op.create_table(
        "settlement_quotes",
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
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_detail", sa.String(None), nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlement_quotes")
    op.drop_table("settlement_payments")
    op.drop_table("settlement_parties")
    op.drop_table("settlement_invoices")
    op.drop_table("settlement_invoice_events")
    op.drop_table("settlement_contracts")
