"""Reserves: holdings, prices, accruals, FX rates, approvals, circuit breaker, incidents, reconciliation runs,
coverage series, proof-of-liabilities roots.

Revision ID: reserves_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reserves_0001"
down_revision = None
branch_labels = ("reserves",)
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_TABLES = (
    "reserve_assets",
    "reserve_prices",
    "reserve_accruals",
    "reserve_fx_rates",
    "reserve_approvals",
    "reserve_breaker",
    "reserve_breaker_events",
    "reserve_incidents",
    "reserve_recon_runs",
    "reserve_coverage",
    "reserve_liability_roots",
)


def upgrade() -> None:
    op.create_table(
        "reserve_assets",
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
    op.create_table(
        "reserve_prices",
        sa.Column("instrument_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("price_micro", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
    )
    op.create_table(
        "reserve_accruals",
        sa.Column("asset_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("accrued_interest_minor", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "reserve_fx_rates",
        sa.Column("from_currency", sa.String(8), primary_key=True),
        sa.Column("to_currency", sa.String(8), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("rate_micro", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "reserve_approvals",
        sa.Column("approval_ref", sa.String(128), primary_key=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("granted_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date),
        sa.Column("note", sa.String(512), nullable=False),
        sa.Column("recorded_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "reserve_breaker",
        sa.Column("coin", sa.String(8), primary_key=True),
        sa.Column("halted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("changed_at_ns", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(64)),
    )
    op.create_table(
        "reserve_breaker_events",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at_ns", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(64)),
    )
    op.create_table(
        "reserve_incidents",
        sa.Column("incident_id", sa.String(64), primary_key=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(512), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at_ns", sa.BigInteger, nullable=False),
        sa.Column("closed_at_ns", sa.BigInteger),
        sa.Column("run_id", sa.String(64)),
    )
    op.create_table(
        "reserve_recon_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("ran_at_ns", sa.BigInteger, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("break_count", sa.Integer, nullable=False),
        sa.Column("accounts_checked", sa.Integer, nullable=False),
        sa.Column("holders_checked", sa.Integer, nullable=False),
        sa.Column("breaks_json", sa.Text, nullable=False),
    )
    op.create_table(
        "reserve_coverage",
        sa.Column("coin", sa.String(8), primary_key=True),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("reserve_value_minor", sa.BigInteger, nullable=False),
        sa.Column("market_value_minor", sa.BigInteger, nullable=False),
        sa.Column("liabilities_base_units", sa.BigInteger, nullable=False),
        sa.Column("coverage_bps", sa.Integer),
        sa.Column("recorded_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "reserve_liability_roots",
        sa.Column("snapshot_id", sa.String(64), primary_key=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("total_base_units", sa.BigInteger, nullable=False),
        sa.Column("leaf_count", sa.Integer, nullable=False),
        sa.Column("published_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_reserve_assets_coin", "reserve_assets", ["coin"])
    op.create_index("ix_reserve_incidents_status", "reserve_incidents", ["status", "opened_at_ns"])
    op.create_index("ix_reserve_recon_runs_coin", "reserve_recon_runs", ["coin", "as_of"])
    op.create_index("ix_reserve_breaker_events_coin", "reserve_breaker_events", ["coin", "at_ns"])


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
