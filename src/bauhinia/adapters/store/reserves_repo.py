"""The reserves store over SQLAlchemy Core: implements ports.ReservesStore on SQLite and PostgreSQL.

Each method runs in its own transaction unless called on the repository handed out by `transaction()`, where
every call shares one connection and commits (or rolls back) together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bauhinia.adapters.store import reserves_tables as t
from bauhinia.domain import reserves as rsv
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.money import Currency

market_rows_max = 100_000


def _opt_issuer(value: str | None) -> rsv.IssuerType | None:
    return rsv.IssuerType(value) if value else None


def _asset_from_row(r: Any) -> rsv.ReserveAsset:
    return rsv.ReserveAsset(
        asset_id=r.asset_id,
        coin=Currency(r.coin),
        kind=rsv.AssetKind(r.kind),
        currency=Currency(r.currency),
        bank=r.bank,
        instrument_id=r.instrument_id,
        issuer_type=_opt_issuer(r.issuer_type),
        principal_minor=int(r.principal_minor),
        quantity_units=int(r.quantity_units),
        start_date=r.start_date,
        maturity_date=r.maturity_date,
        collateral_issuer_type=_opt_issuer(r.collateral_issuer_type),
        collateral_maturity_date=r.collateral_maturity_date,
        fund_holds_only_eligible=bool(r.fund_holds_only_eligible),
        regulator_approval_ref=r.regulator_approval_ref,
        haircut_bps=int(r.haircut_bps),
        liquidity_days=r.liquidity_days,
    )


class ReservesRepository:
    """ports.ReservesStore backed by the shared database."""

    def __init__(self, engine: Engine, conn: sa.Connection | None = None) -> None:
        self._engine = engine
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[ReservesRepository]:
        if self._conn is not None:
            yield self
            return
        with self._engine.begin() as conn:
            yield ReservesRepository(self._engine, conn)

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self._engine.begin() as conn:
                yield conn

    def _upsert(
        self, conn: sa.Connection, table: sa.Table, keys: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """Insert or update in one statement (ON CONFLICT): an update-then-insert let two processes both find no
        row and the second insert fail on the key (two mint runners recording the day's coverage point)."""
        if conn.dialect.name in ("postgresql", "sqlite"):
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            else:
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            stmt = dialect_insert(table).values(**keys, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=values))
            return
        where = sa.and_(*[table.c[k] == v for k, v in keys.items()])
        updated = conn.execute(sa.update(table).where(where).values(**values)).rowcount
        if not updated:
            conn.execute(sa.insert(table).values(**keys, **values))

    # --- holdings ---

    def add_asset(self, asset: rsv.ReserveAsset, now_ns: int) -> None:
        row = {
            "asset_id": asset.asset_id,
            "coin": asset.coin.value,
            "kind": asset.kind.value,
            "currency": asset.currency.value,
            "bank": asset.bank,
            "instrument_id": asset.instrument_id,
            "issuer_type": asset.issuer_type.value if asset.issuer_type else None,
            "principal_minor": asset.principal_minor,
            "quantity_units": asset.quantity_units,
            "start_date": asset.start_date,
            "maturity_date": asset.maturity_date,
            "collateral_issuer_type": asset.collateral_issuer_type.value
            if asset.collateral_issuer_type
            else None,
            "collateral_maturity_date": asset.collateral_maturity_date,
            "fund_holds_only_eligible": asset.fund_holds_only_eligible,
            "regulator_approval_ref": asset.regulator_approval_ref,
            "haircut_bps": asset.haircut_bps,
            "liquidity_days": asset.liquidity_days,
            "added_at_ns": now_ns,
            "removed_at_ns": None,
        }
        try:
            with self._tx() as conn, conn.begin_nested():
                conn.execute(sa.insert(t.assets).values(**row))
        except IntegrityError:
            raise ConflictError(
                f"reserve asset {asset.asset_id} already exists", code="asset_exists"
            ) from None

    def remove_asset(self, asset_id: str, now_ns: int) -> None:
        with self._tx() as conn:
            n = conn.execute(
                sa.update(t.assets)
                .where(t.assets.c.asset_id == asset_id, t.assets.c.removed_at_ns.is_(None))
                .values(removed_at_ns=now_ns)
            ).rowcount
        if not n:
            raise NotFoundError(f"no active reserve asset {asset_id}", code="asset_not_found")

    def list_assets(self, coin: Currency | None = None) -> list[rsv.ReserveAsset]:
        q = sa.select(t.assets).where(t.assets.c.removed_at_ns.is_(None)).order_by(t.assets.c.asset_id)
        if coin is not None:
            q = q.where(t.assets.c.coin == coin.value)
        with self._tx() as conn:
            return [_asset_from_row(r) for r in conn.execute(q)]

    # --- market data ---

    def put_prices(self, as_of: date, prices_micro: Mapping[str, int], source: str) -> int:
        if len(prices_micro) > market_rows_max:
            raise ValidationError("too many prices in one load", code="too_many_rows")
        with self._tx() as conn:
            for instrument_id, price in prices_micro.items():
                if price < 0:
                    raise ValidationError(f"negative price for {instrument_id}", code="bad_price")
                self._upsert(
                    conn,
                    t.prices,
                    {"instrument_id": instrument_id, "as_of": as_of},
                    {"price_micro": price, "source": source},
                )
        return len(prices_micro)

    def put_accruals(self, as_of: date, accrued_interest_minor: Mapping[str, int]) -> int:
        with self._tx() as conn:
            for asset_id, value in accrued_interest_minor.items():
                if value < 0:
                    raise ValidationError(f"negative accrued interest for {asset_id}", code="bad_accrual")
                self._upsert(
                    conn,
                    t.accruals,
                    {"asset_id": asset_id, "as_of": as_of},
                    {"accrued_interest_minor": value},
                )
        return len(accrued_interest_minor)

    def put_fx_rates(self, as_of: date, rates_micro: Mapping[tuple[Currency, Currency], int]) -> int:
        with self._tx() as conn:
            for (src, dst), rate in rates_micro.items():
                if rate <= 0:
                    raise ValidationError(f"FX rate {src}->{dst} must be positive", code="bad_fx_rate")
                self._upsert(
                    conn,
                    t.fx_rates,
                    {"from_currency": src.value, "to_currency": dst.value, "as_of": as_of},
                    {"rate_micro": rate},
                )
        return len(rates_micro)

    def fx_rate(self, source: Currency, target: Currency, as_of: date) -> tuple[int, date] | None:
        """The latest rate of `source` -> `target` on or before `as_of`, with the day it is for."""
        with self._tx() as conn:
            row = conn.execute(
                sa.select(t.fx_rates.c.rate_micro, t.fx_rates.c.as_of)
                .where(t.fx_rates.c.from_currency == source.value, t.fx_rates.c.to_currency == target.value,
                       t.fx_rates.c.as_of <= as_of)
                .order_by(t.fx_rates.c.as_of.desc()).limit(1)
            ).first()
        return None if row is None else (int(row.rate_micro), row.as_of)

    def market_data(self, as_of: date) -> rsv.MarketData:
        """Latest price / FX rate on or before `as_of`; accrued interest of exactly `as_of`."""
        with self._tx() as conn:
            latest_price = (
                sa.select(t.prices.c.instrument_id, sa.func.max(t.prices.c.as_of).label("d"))
                .where(t.prices.c.as_of <= as_of)
                .group_by(t.prices.c.instrument_id)
                .subquery()
            )
            prices = {
                r.instrument_id: int(r.price_micro)
                for r in conn.execute(
                    sa.select(t.prices.c.instrument_id, t.prices.c.price_micro).join(
                        latest_price,
                        sa.and_(
                            t.prices.c.instrument_id == latest_price.c.instrument_id,
                            t.prices.c.as_of == latest_price.c.d,
                        ),
                    )
                )
            }
            accruals = {
                r.asset_id: int(r.accrued_interest_minor)
                for r in conn.execute(sa.select(t.accruals).where(t.accruals.c.as_of == as_of))
            }
            fx: dict[tuple[Currency, Currency], int] = {}
            rows = conn.execute(
                sa.select(t.fx_rates).where(t.fx_rates.c.as_of <= as_of).order_by(t.fx_rates.c.as_of)
            )
            for r in rows:
                fx[(Currency(r.from_currency), Currency(r.to_currency))] = int(r.rate_micro)
        return rsv.MarketData(as_of, prices, accruals, fx)

    # --- approvals ---

    def put_approval(self, approval: rsv.RegulatorApproval, now_ns: int) -> None:
        try:
            with self._tx() as conn, conn.begin_nested():
                conn.execute(
                    sa.insert(t.approvals).values(
                        approval_ref=approval.approval_ref,
                        coin=approval.coin.value,
                        currency=approval.currency.value,
                        granted_on=approval.granted_on,
                        expires_on=approval.expires_on,
                        note=approval.note,
                        recorded_at_ns=now_ns,
                    )
                )
        except IntegrityError:
            raise ConflictError(
                f"approval {approval.approval_ref} already recorded", code="approval_exists"
            ) from None

    def get_approval(self, approval_ref: str) -> rsv.RegulatorApproval | None:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.approvals).where(t.approvals.c.approval_ref == approval_ref)).first()
        if r is None:
            return None
        return rsv.RegulatorApproval(
            r.approval_ref, Currency(r.coin), Currency(r.currency), r.granted_on, r.expires_on, r.note
        )

    # --- circuit breaker ---

    def breaker_state(self, coin: Currency) -> rsv.BreakerState:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.breaker).where(t.breaker.c.coin == coin.value)).first()
        if r is None:
            return rsv.BreakerState(coin, halted=False)
        return rsv.BreakerState(coin, bool(r.halted), r.reason, r.actor, int(r.changed_at_ns), r.run_id)

    def set_breaker(self, state: rsv.BreakerState) -> None:
        with self._tx() as conn:
            self._upsert(
                conn,
                t.breaker,
                {"coin": state.coin.value},
                {
                    "halted": state.halted,
                    "reason": state.reason,
                    "actor": state.actor,
                    "changed_at_ns": state.changed_at_ns,
                    "run_id": state.run_id,
                },
            )
            conn.execute(
                sa.insert(t.breaker_events).values(
                    coin=state.coin.value,
                    action="trip" if state.halted else "reset",
                    reason=state.reason,
                    actor=state.actor,
                    at_ns=state.changed_at_ns,
                    run_id=state.run_id,
                )
            )

    def breaker_history(self, coin: Currency) -> list[rsv.BreakerEvent]:
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(t.breaker_events)
                .where(t.breaker_events.c.coin == coin.value)
                .order_by(t.breaker_events.c.id)
            )
            return [rsv.BreakerEvent(coin, r.action, r.reason, r.actor, int(r.at_ns), r.run_id) for r in rows]

    # --- incidents and reconciliation runs ---

    def add_incident(self, incident: rsv.Incident) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.insert(t.incidents).values(
                    incident_id=incident.incident_id,
                    coin=incident.coin.value,
                    kind=incident.kind,
                    severity=incident.severity,
                    summary=incident.summary[:512],
                    details_json=incident.details_json,
                    status=incident.status,
                    opened_at_ns=incident.opened_at_ns,
                    closed_at_ns=incident.closed_at_ns,
                    run_id=incident.run_id,
                )
            )

    def list_incidents(self, status: str | None = None) -> list[rsv.Incident]:
        q = sa.select(t.incidents).order_by(t.incidents.c.opened_at_ns, t.incidents.c.incident_id)
        if status is not None:
            q = q.where(t.incidents.c.status == status)
        with self._tx() as conn:
            return [
                rsv.Incident(
                    r.incident_id,
                    Currency(r.coin),
                    r.kind,
                    r.severity,
                    r.summary,
                    r.details_json,
                    r.status,
                    int(r.opened_at_ns),
                    r.closed_at_ns,
                    r.run_id,
                )
                for r in conn.execute(q)
            ]

    def add_recon_run(self, run: rsv.ReconciliationRun) -> None:
        try:
            with self._tx() as conn, conn.begin_nested():
                conn.execute(
                    sa.insert(t.recon_runs).values(
                        run_id=run.run_id,
                        coin=run.coin.value,
                        as_of=run.as_of,
                        ran_at_ns=run.ran_at_ns,
                        ok=run.ok,
                        break_count=run.break_count,
                        accounts_checked=run.accounts_checked,
                        holders_checked=run.holders_checked,
                        breaks_json=run.breaks_json,
                    )
                )
        except IntegrityError:
            raise ConflictError(
                f"reconciliation run {run.run_id} already recorded", code="run_exists"
            ) from None

    def list_recon_runs(self, coin: Currency, limit: int = 100) -> list[rsv.ReconciliationRun]:
        q = (
            sa.select(t.recon_runs)
            .where(t.recon_runs.c.coin == coin.value)
            .order_by(t.recon_runs.c.ran_at_ns.desc())
            .limit(min(limit, 10_000))
        )
        with self._tx() as conn:
            return [
                rsv.ReconciliationRun(
                    r.run_id,
                    Currency(r.coin),
                    r.as_of,
                    int(r.ran_at_ns),
                    bool(r.ok),
                    int(r.break_count),
                    int(r.accounts_checked),
                    int(r.holders_checked),
                    r.breaks_json,
                )
                for r in conn.execute(q)
            ]

    # --- coverage series and liability roots ---

    def put_coverage(self, point: rsv.CoveragePoint) -> None:
        with self._tx() as conn:
            self._upsert(
                conn,
                t.coverage,
                {"coin": point.coin.value, "as_of": point.as_of},
                {
                    "reserve_value_minor": point.reserve_value_minor,
                    "market_value_minor": point.market_value_minor,
                    "liabilities_base_units": point.liabilities_base_units,
                    "coverage_bps": point.coverage_bps,
                    "recorded_at_ns": point.recorded_at_ns,
                },
            )

    def coverage_series(self, coin: Currency, start: date, end: date) -> list[rsv.CoveragePoint]:
        q = (
            sa.select(t.coverage)
            .where(t.coverage.c.coin == coin.value, t.coverage.c.as_of >= start, t.coverage.c.as_of <= end)
            .order_by(t.coverage.c.as_of)
        )
        with self._tx() as conn:
            return [
                rsv.CoveragePoint(
                    coin,
                    r.as_of,
                    int(r.reserve_value_minor),
                    int(r.market_value_minor),
                    int(r.liabilities_base_units),
                    r.coverage_bps,
                    int(r.recorded_at_ns),
                )
                for r in conn.execute(q)
            ]

    def put_liability_root(self, root: rsv.PublishedRoot) -> None:
        try:
            with self._tx() as conn, conn.begin_nested():
                conn.execute(
                    sa.insert(t.liability_roots).values(
                        snapshot_id=root.snapshot_id,
                        coin=root.coin.value,
                        as_of=root.as_of,
                        root_hash=root.root_hash_hex,
                        total_base_units=root.total_base_units,
                        leaf_count=root.leaf_count,
                        published_at_ns=root.published_at_ns,
                    )
                )
        except IntegrityError:
            raise ConflictError(
                f"snapshot {root.snapshot_id} already published", code="root_exists"
            ) from None

    def get_liability_root(self, snapshot_id: str) -> rsv.PublishedRoot | None:
        with self._tx() as conn:
            r = conn.execute(
                sa.select(t.liability_roots).where(t.liability_roots.c.snapshot_id == snapshot_id)
            ).first()
        if r is None:
            return None
        return rsv.PublishedRoot(
            r.snapshot_id,
            Currency(r.coin),
            r.as_of,
            r.root_hash,
            int(r.total_base_units),
            int(r.leaf_count),
            int(r.published_at_ns),
        )

    # --- bank statements (closing balances) and proof-of-liabilities leaves ---

    def record_statement(self, statement: rsv.StatementBalance, entry_keys: list[str]) -> bool:
        """Record a statement's closing balance and the entries it covers; a statement already recorded (same
        account and message id) is kept as first seen. Returns whether it was new."""
        with self._tx() as conn:
            seen = conn.execute(
                sa.select(t.bank_statements.c.message_id).where(
                    t.bank_statements.c.account == statement.account,
                    t.bank_statements.c.message_id == statement.message_id,
                )
            ).first()
            if seen is not None:
                return False
            conn.execute(
                sa.insert(t.bank_statements).values(
                    account=statement.account,
                    message_id=statement.message_id,
                    currency=statement.currency.value,
                    closing_minor=statement.closing_minor,
                    closing_on=statement.closing_on,
                    created_at_ns=statement.created_at_ns,
                    ingested_at_ns=statement.ingested_at_ns,
                    entries=len(entry_keys),
                )
            )
            known = set()
            for i in range(0, len(entry_keys), 500):
                chunk = entry_keys[i : i + 500]
                known |= {
                    r[0]
                    for r in conn.execute(
                        sa.select(t.statement_entries.c.entry_key).where(
                            t.statement_entries.c.entry_key.in_(chunk)
                        )
                    )
                }
            rows = [
                {"entry_key": k, "account": statement.account, "message_id": statement.message_id}
                for k in dict.fromkeys(entry_keys)
                if k not in known
            ]
            if rows:
                conn.execute(sa.insert(t.statement_entries), rows)
        return True

    def latest_statements(self) -> dict[str, rsv.StatementBalance]:
        """The latest statement per account (by creation time, then ingestion time)."""
        out: dict[str, rsv.StatementBalance] = {}
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(t.bank_statements).order_by(
                    t.bank_statements.c.created_at_ns, t.bank_statements.c.ingested_at_ns
                )
            )
            for r in rows:
                out[r.account] = rsv.StatementBalance(
                    r.account,
                    r.message_id,
                    Currency(r.currency),
                    int(r.closing_minor),
                    r.closing_on,
                    int(r.created_at_ns),
                    int(r.ingested_at_ns),
                )
        return out

    def put_liability_leaves(self, snapshot_id: str, leaves: list[tuple[str, int]]) -> None:
        with self._tx() as conn:
            rows = [
                {"snapshot_id": snapshot_id, "position": i, "holder_id": h, "balance_base_units": b}
                for i, (h, b) in enumerate(leaves)
            ]
            for i in range(0, len(rows), 10_000):
                conn.execute(sa.insert(t.liability_leaves), rows[i : i + 10_000])

    def liability_leaves(self, snapshot_id: str) -> list[tuple[str, int]]:
        with self._tx() as conn:
            return [
                (r.holder_id, int(r.balance_base_units))
                for r in conn.execute(
                    sa.select(t.liability_leaves.c.holder_id, t.liability_leaves.c.balance_base_units)
                    .where(t.liability_leaves.c.snapshot_id == snapshot_id)
                    .order_by(t.liability_leaves.c.position)
                )
            ]

    def latest_liability_root(self, coin: Currency) -> rsv.PublishedRoot | None:
        with self._tx() as conn:
            r = conn.execute(
                sa.select(t.liability_roots.c.snapshot_id)
                .where(t.liability_roots.c.coin == coin.value)
                .order_by(t.liability_roots.c.published_at_ns.desc())
                .limit(1)
            ).first()
        return None if r is None else self.get_liability_root(r.snapshot_id)
