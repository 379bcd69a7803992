"""Issuance tables: customers (the minimum issue 8 needs), coins, bank files and entries, subscriptions, mint
batches, redemptions, payout batches and every audited state transition. Alembic branch "issuance"."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

customers = sa.Table(
    "iss_customers", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("deposit_reference", sa.String(16), nullable=False, unique=True),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)
bank_accounts = sa.Table(
    "iss_bank_accounts", metadata,
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("iss_customers.id"), primary_key=True),
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("scheme", sa.String(16), nullable=False),
    sa.Column("holder_name", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("bic", sa.String(11)),
    sa.Column("verified_at_ns", sa.BigInteger, nullable=False),
)
wallets = sa.Table(
    "iss_wallets", metadata,
    sa.Column("address", sa.String(42), primary_key=True),
    sa.Column("customer_id", sa.String(64), sa.ForeignKey("iss_customers.id"), nullable=False, index=True),
    sa.Column("signature", sa.String(200), nullable=False),
    sa.Column("verified_at_ns", sa.BigInteger, nullable=False),
)
coins = sa.Table(
    "iss_coins", metadata,
    sa.Column("fiat", sa.String(8), primary_key=True),
    sa.Column("licence_number", sa.String(64), nullable=False),
    sa.Column("mainland_approval_reference", sa.String(64)),
    sa.Column("subscription_fee_bps", sa.Integer, nullable=False),
    sa.Column("redemption_fee_bps", sa.Integer, nullable=False),
)
bank_files = sa.Table(
    "iss_bank_files", metadata,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("message_key", sa.String(200), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("received_at_ns", sa.BigInteger, nullable=False),
)
bank_entries = sa.Table(
    "iss_bank_entries", metadata,
    sa.Column("entry_key", sa.String(64), primary_key=True),
    sa.Column("file_hash", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(4), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # subscription | suspense | payout | ignored
    sa.Column("flow_seq", sa.BigInteger),
    sa.Column("detail", sa.String(300)),
)
subscriptions = sa.Table(
    "iss_subscriptions", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("entry_key", sa.String(64), unique=True),
    sa.Column("customer_id", sa.String(64), nullable=True, index=True),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("wallet", sa.String(42)),
    sa.Column("mint_batch", sa.BigInteger, index=True),
    sa.Column("approval_id", sa.String(64)),  # a mint above the policy threshold waits for a second approver
    sa.Column("approved_by", sa.String(120)),
    sa.Column("reason", sa.String(300)),
    sa.Column("received_at_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)
sa.Index("ix_iss_subscriptions_status", subscriptions.c.fiat, subscriptions.c.status, subscriptions.c.seq)
suspense_credits = sa.Table(
    "iss_suspense", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("entry_key", sa.String(64), nullable=False, unique=True),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("debtor_name", sa.String(200)),
    sa.Column("remittance", sa.String(500)),
    sa.Column("status", sa.String(16), nullable=False),  # open | assigned
    sa.Column("received_at_ns", sa.BigInteger, nullable=False),
)
mint_batches = sa.Table(
    "iss_mint_batches", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
    sa.Column("credits", sa.Integer, nullable=False),
    sa.Column("amount_base_units", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | mined | refused
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)
redemptions = sa.Table(
    "iss_redemptions", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("wallet", sa.String(42), nullable=False),
    sa.Column("bank_account", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("coin_event", sa.String(100), unique=True),
    sa.Column("burn_key", sa.String(120)),
    sa.Column("payout_batch", sa.BigInteger),
    sa.Column("requested_at_ns", sa.BigInteger, nullable=False),
    sa.Column("valid_at_ns", sa.BigInteger),
    sa.Column("deadline_ns", sa.BigInteger),
    sa.Column("paid_at_ns", sa.BigInteger),
    sa.Column("alert_level", sa.Integer, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)
sa.Index("ix_iss_redemptions_status", redemptions.c.fiat, redemptions.c.status, redemptions.c.seq)
payout_batches = sa.Table(
    "iss_payout_batches", metadata,
    sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("fiat", sa.String(8), nullable=False),
    sa.Column("message_id", sa.String(35), nullable=False, unique=True),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("execution_date", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | written
    sa.Column("file_name", sa.String(200)),
)
claimed_events = sa.Table(
    "iss_claimed_coin_events", metadata,
    sa.Column("event_key", sa.String(100), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # redemption | unmatched
    sa.Column("flow_seq", sa.BigInteger),
)
transitions = sa.Table(
    "iss_transitions", metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(16), nullable=False),
    sa.Column("flow_seq", sa.BigInteger, nullable=False),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
)
sa.Index("ix_iss_transitions_flow", transitions.c.flow, transitions.c.flow_seq)
