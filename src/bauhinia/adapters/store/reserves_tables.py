"""Reserve tables (SQLAlchemy Core). The schema is created by the Alembic branch "reserves".

Holdings, prices / accrued interest / FX rates loaded as data per date, regulator approvals for assets in another
currency, the minting circuit breaker (one row per coin, plus its history), incidents, reconciliation runs, the
daily coverage series and the published proof-of-liabilities roots. Times are nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


assets = sa.Table(
    "reserve_assets",
    metadata,
    sa.Column("asset_id", sa.String(64), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("bank", sa.String(128), nullable=False),
    sa.Column("instrument_id", sa.String(64), nullable=False),
    sa.Column("issuer_type", sa.String(32)),
    sa.Column("principal_minor", sa.BigInteger, nullable=False),
    sa.Column("quantity_units", sa.BigInteger, nullable=False),
    sa.Column("start_date", sa.Date),
    sa.Column("maturity_date", sa.Date),
    sa.Column("collateral_issuer_type", sa.String(32)),
    sa.Column("collateral_maturity_date", sa.Date),
    sa.Column("fund_holds_only_eligible", sa.Boolean, nullable=False),
    sa.Column("regulator_approval_ref", sa.String(128), nullable=False),
    sa.Column("haircut_bps", sa.Integer, nullable=False),
    sa.Column("liquidity_days", sa.Integer),
    sa.Column("added_at_ns", sa.BigInteger, nullable=False),
    sa.Column("removed_at_ns", sa.BigInteger),
)

prices = sa.Table(
    "reserve_prices",
    metadata,
    sa.Column("instrument_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("price_micro", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
)

accruals = sa.Table(
    "reserve_accruals",
    metadata,
    sa.Column("asset_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("accrued_interest_minor", sa.BigInteger, nullable=False),
)

fx_rates = sa.Table(
    "reserve_fx_rates",
    metadata,
    sa.Column("from_currency", sa.String(8), primary_key=True),
    sa.Column("to_currency", sa.String(8), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("rate_micro", sa.BigInteger, nullable=False),
)

approvals = sa.Table(
    "reserve_approvals",
    metadata,
    sa.Column("approval_ref", sa.String(128), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("granted_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date),
    sa.Column("note", sa.String(512), nullable=False),
    sa.Column("recorded_at_ns", sa.BigInteger, nullable=False),
)

breaker = sa.Table(
    "reserve_breaker",
    metadata,
    sa.Column("coin", sa.String(8), primary_key=True),
    sa.Column("halted", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(512), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("changed_at_ns", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(64)),
)

breaker_events = sa.Table(
    "reserve_breaker_events",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("action", sa.String(8), nullable=False),  # trip | reset
    sa.Column("reason", sa.String(512), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(64)),
)

incidents = sa.Table(
    "reserve_incidents",
    metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("details_json", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | closed
    sa.Column("opened_at_ns", sa.BigInteger, nullable=False),
    sa.Column("closed_at_ns", sa.BigInteger),
    sa.Column("run_id", sa.String(64)),
)

recon_runs = sa.Table(
    "reserve_recon_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("ran_at_ns", sa.BigInteger, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("break_count", sa.Integer, nullable=False),
    sa.Column("accounts_checked", sa.Integer, nullable=False),
    sa.Column("holders_checked", sa.Integer, nullable=False),
    sa.Column("breaks_json", sa.Text, nullable=False),  # the first breaks, for the report
)

coverage = sa.Table(
    "reserve_coverage",
    metadata,
    sa.Column("coin", sa.String(8), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("reserve_value_minor", sa.BigInteger, nullable=False),
    sa.Column("market_value_minor", sa.BigInteger, nullable=False),
    sa.Column("liabilities_base_units", sa.BigInteger, nullable=False),
    sa.Column("coverage_bps", sa.Integer),
    sa.Column("recorded_at_ns", sa.BigInteger, nullable=False),
)

liability_roots = sa.Table(
    "reserve_liability_roots",
    metadata,
    sa.Column("snapshot_id", sa.String(64), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("total_base_units", sa.BigInteger, nullable=False),
    sa.Column("leaf_count", sa.Integer, nullable=False),
    sa.Column("published_at_ns", sa.BigInteger, nullable=False),
)

# Bank statements (camt.053) as ingested: the closing balance (CLBD) per reserve account, and the keys of the
# entries each statement covers (to tell which ledger bookings from notifications are not on a statement yet).
bank_statements = sa.Table(
    "reserve_bank_statements",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("closing_minor", sa.BigInteger, nullable=False),
    sa.Column("closing_on", sa.Date),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),  # the statement's creation time
    sa.Column("ingested_at_ns", sa.BigInteger, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
)

statement_entries = sa.Table(
    "reserve_statement_entries",
    metadata,
    sa.Column("entry_key", sa.String(64), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
)

# The holder balances of each proof-of-liabilities snapshot (holder ids in clear: private to the issuer),
# so a holder's inclusion proof can be produced later from the same leaves.
liability_leaves = sa.Table(
    "reserve_liability_leaves",
    metadata,
    sa.Column("snapshot_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("holder_id", sa.String(128), nullable=False),
    sa.Column("balance_base_units", sa.BigInteger, nullable=False),
)
