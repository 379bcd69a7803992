"""What the console and the transparency page show, read from the same stores the services write.

Nothing here changes state except `redemptions_due`, which runs the issuance service's redemption tracker (it
raises the deadline alerts once per level, exactly as the worker does). Coverage is computed the way the
reserve service does it: reserve value (cash at the reserve bank per the ledger plus the valued reserve pool)
over liabilities (coins outstanding, frozen included, plus redemptions accepted but not yet paid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from bauhinia.domain import issuance as iss
from bauhinia.domain import reserves as rsv
from bauhinia.domain.calendar import HK_TZ, from_ns
from bauhinia.domain.errors import NotFoundError
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Amount, Currency, base_units_to_minor, minor_to_base_units

FIATS = (Currency.HKD, Currency.CNH)
HISTORY_DAYS = 60
LIST_ROWS_MAX = 200

KIND_LABELS = {
    "cash": "Cash at banks", "time_deposit": "Time deposits", "government_security": "Government securities",
    "reverse_repo": "Reverse repos", "money_market_fund": "Money-market funds",
}


def money(units: int, currency: Currency | str) -> str:
    return Amount(int(units), Currency(currency)).format()


def coverage_text(bps: int | None) -> str:
    return "n/a" if bps is None else f"{bps // 100}.{bps % 100:02d}%"


def mask_account(account: str) -> str:
    """Bank account numbers are never shown in full: the last four digits only."""
    digits = [c for c in account if c.isalnum()]
    return "•••• " + "".join(digits[-4:]) if len(digits) > 4 else "••••"


def hk_time(ns: int | None) -> str:
    if not ns:
        return "-"
    return from_ns(int(ns)).astimezone(HK_TZ).strftime("%Y-%m-%d %H:%M HKT")


def hk_datetime(value: datetime) -> str:
    return value.astimezone(HK_TZ).strftime("%Y-%m-%d %H:%M HKT")


def duration_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    days, rest = divmod(s, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{sign}{days} d {hours} h"
    return f"{sign}{hours} h {minutes:02d} min"


def today_hk(container: Any) -> date:
    return from_ns(container.clock.now_ns()).astimezone(HK_TZ).date()


def issuance_store(container: Any) -> Any:
    """The issuance store without building the chain (reads need only the database)."""
    built = container.__dict__.get("issuance")
    if built is not None:
        return built.store
    cached = container.__dict__.get("_web_issuance_store")
    if cached is None:
        from bauhinia.adapters.store.issuance_repo import SqlIssuanceStore

        cached = container.__dict__["_web_issuance_store"] = SqlIssuanceStore(container.engine, container.ledger)
    return cached


def compliance_repo(container: Any) -> Any:
    from bauhinia.adapters.store.compliance_repo import ComplianceRepository

    return ComplianceRepository(container.engine, pepper=container.settings.resolved_cdd_pepper())


def _posted(container: Any, account_id: int) -> int:
    return int(container.ledger.account(account_id).posted)


# --- coins, reserves, coverage --------------------------------------------------------------------------------


@dataclass
class CoinView:
    fiat: Currency
    coin: Currency
    outstanding_minor: int
    in_flight_minor: int
    reserve_cash_minor: int
    pool_value_minor: int
    composition: list[tuple[str, int]]
    coverage_bps: int | None
    breaker: rsv.BreakerState
    recon: rsv.ReconciliationRun | None
    root: rsv.PublishedRoot | None
    excluded: list[str] = field(default_factory=list)

    @property
    def liabilities_minor(self) -> int:
        return self.outstanding_minor + self.in_flight_minor

    @property
    def reserve_total_minor(self) -> int:
        return self.reserve_cash_minor + self.pool_value_minor

    @property
    def coverage(self) -> str:
        return coverage_text(self.coverage_bps)

    @property
    def coverage_level(self) -> str:
        if self.coverage_bps is None:
            return "ok"
        return "ok" if self.coverage_bps >= 10_000 else "breached"


def coin_view(container: Any, fiat: Currency) -> CoinView | None:
    """One coin's figures, or None when the coin is not configured (its books do not exist)."""
    try:
        outstanding = _posted(container, iss.book_account_id(fiat, Book.COINS_OUTSTANDING))
        in_flight = _posted(container, iss.book_account_id(fiat, Book.REDEMPTIONS_PAYABLE))
        cash = _posted(container, iss.book_account_id(fiat, Book.RESERVE_CASH))
    except NotFoundError:
        return None
    store = container.reserves
    coin = fiat.coin
    day = today_hk(container)
    pool = rsv.value_pool(coin, store.list_assets(coin), store.market_data(day))
    composition = [("Cash at the reserve bank (ledger)", cash)]
    for kind, value in sorted(pool.composition_minor().items(), key=lambda kv: -kv[1]):
        composition.append((KIND_LABELS.get(kind.value, kind.value.replace("_", " ").capitalize()), value))
    liabilities = minor_to_base_units(outstanding + in_flight)
    runs = store.list_recon_runs(coin, limit=1)
    return CoinView(
        fiat=fiat, coin=coin, outstanding_minor=outstanding, in_flight_minor=in_flight, reserve_cash_minor=cash,
        pool_value_minor=pool.reserve_value_minor, composition=composition,
        coverage_bps=rsv.coverage_bps(cash + pool.reserve_value_minor, liabilities),
        breaker=store.breaker_state(coin), recon=runs[0] if runs else None, root=latest_root(container, coin),
        excluded=[asset_id for asset_id, _ in pool.excluded],
    )


def coin_views(container: Any) -> list[CoinView]:
    return [v for v in (coin_view(container, f) for f in FIATS) if v is not None]


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    day: date
    reserve_minor: int
    liabilities_minor: int


def history(container: Any, view: CoinView, days: int = HISTORY_DAYS) -> list[HistoryPoint]:
    """Recorded daily coverage points of the coin, with today's live figures as the last point."""
    today = today_hk(container)
    points = container.reserves.coverage_series(view.coin, today - timedelta(days=days), today)
    out = [HistoryPoint(p.as_of, p.reserve_value_minor, _whole_minor(p.liabilities_base_units))
           for p in sorted(points, key=lambda p: p.as_of) if p.as_of < today]
    out.append(HistoryPoint(today, view.reserve_total_minor, view.liabilities_minor))
    return out


def _whole_minor(base_units: int) -> int:
    return base_units_to_minor(base_units - base_units % minor_to_base_units(1))


def latest_root(container: Any, coin: Currency) -> rsv.PublishedRoot | None:
    from bauhinia.adapters.store.reserves_tables import liability_roots as t

    with container.engine.connect() as conn:
        r = conn.execute(sa.select(t).where(t.c.coin == coin.value)
                         .order_by(t.c.published_at_ns.desc(), t.c.snapshot_id.desc()).limit(1)).first()
    if r is None:
        return None
    return rsv.PublishedRoot(r.snapshot_id, Currency(r.coin), r.as_of, r.root_hash, int(r.total_base_units),
                             int(r.leaf_count), int(r.published_at_ns))


def published_roots(container: Any, limit: int = 50) -> list[rsv.PublishedRoot]:
    from bauhinia.adapters.store.reserves_tables import liability_roots as t

    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.published_at_ns.desc()).limit(limit)).all()
    return [rsv.PublishedRoot(r.snapshot_id, Currency(r.coin), r.as_of, r.root_hash, int(r.total_base_units),
                              int(r.leaf_count), int(r.published_at_ns)) for r in rows]


# --- redemptions ------------------------------------------------------------------------------------------------


def redemptions_due(container: Any) -> list[Any]:
    """Unpaid redemptions with their time left, most urgent first (services.issuance.redemption_tracker)."""
    from bauhinia.services import issuance as svc

    ctx = container.__dict__.get("issuance") or SimpleNamespace(
        store=issuance_store(container), clock=container.clock, actor="console")
    rows = svc.redemption_tracker(ctx)
    return sorted(rows, key=lambda r: r.time_left_s)[:LIST_ROWS_MAX]


# --- customers --------------------------------------------------------------------------------------------------


@dataclass
class CustomerView:
    customer: iss.Customer
    bank_accounts: list[iss.VerifiedBankAccount]
    wallets: list[iss.WhitelistedWallet]
    subscriptions: list[Any]
    redemptions: list[Any]
    balances: list[tuple[Currency, int]]
    compliance: Any | None


def customers(container: Any) -> list[tuple[iss.Customer, list[tuple[Currency, int]]]]:
    out = []
    for c in issuance_store(container).customers()[:LIST_ROWS_MAX]:
        out.append((c, _balances(container, c)))
    return out


def _balances(container: Any, c: iss.Customer) -> list[tuple[Currency, int]]:
    out = []
    for fiat in FIATS:
        try:
            out.append((fiat, _posted(container, iss.customer_account_id(c.seq, fiat))))
        except NotFoundError:
            continue
    return out


def customer(container: Any, customer_id: str) -> CustomerView:
    from bauhinia.adapters.store.issuance_tables import subscriptions as subs

    store = issuance_store(container)
    c = store.customer(customer_id)
    with container.engine.connect() as conn:
        subscriptions = conn.execute(sa.select(subs).where(subs.c.customer_id == customer_id)
                                     .order_by(subs.c.seq.desc()).limit(LIST_ROWS_MAX)).all()
    try:
        profile = compliance_repo(container).get_customer(customer_id)
    except NotFoundError:
        profile = None
    return CustomerView(
        customer=c, bank_accounts=store.bank_accounts(customer_id), wallets=store.wallets(customer_id),
        subscriptions=list(subscriptions),
        redemptions=list(reversed(store.redemptions(customer_id=customer_id, limit=LIST_ROWS_MAX))),
        balances=_balances(container, c), compliance=profile,
    )


# --- compliance ---------------------------------------------------------------------------------------------------


def alerts_and_cases(container: Any) -> tuple[list[tuple[Any, str | None]], list[Any]]:
    repo = compliance_repo(container)
    alerts = sorted(repo.list_alerts(), key=lambda ac: -ac[0].last_at_ns)[:LIST_ROWS_MAX]
    cases = sorted(repo.list_cases(), key=lambda c: -c.updated_at_ns)[:LIST_ROWS_MAX]
    return alerts, cases


def now_text(container: Any) -> str:
    return datetime.fromtimestamp(container.clock.now_ns() / 1e9, HK_TZ).strftime("%Y-%m-%d %H:%M HKT")


@dataclass(frozen=True)
class ControlRow:
    id: str
    requirement: str
    source: str
    controls: tuple[str, ...]
    configuration: str
    status: str  # proven | failing | unproven | not_run
    passed: int
    failed: int


@dataclass(frozen=True)
class ControlsView:
    rows: tuple[ControlRow, ...]
    pack_generated_at: str | None
    pack_ok: bool | None

    @property
    def proven(self) -> int:
        return sum(1 for r in self.rows if r.status == "proven")


def controls(container: Any) -> ControlsView:
    """The register, each requirement marked with the latest evidence pack's verdict."""
    import json

    from bauhinia.adapters.reports.evidence import load_register

    register = load_register()
    pack_path = container.settings.data_dir / "evidence" / "evidence.json"
    results: dict[str, dict[str, Any]] = {}
    generated, ok = None, None
    if pack_path.is_file():
        pack = json.loads(pack_path.read_text())
        results = {r["id"]: r for r in pack.get("requirements", [])}
        generated, ok = str(pack.get("generated_at", "")), bool(pack.get("ok"))
    rows = []
    for req in register.requirements:
        rid = req.id
        got = results.get(rid)
        rows.append(ControlRow(rid, req.requirement, req.source, tuple(req.controls), str(req.configuration),
                               got["status"] if got else "not_run", int(got["passed"]) if got else 0,
                               int(got["failed"]) if got else 0))
    return ControlsView(tuple(rows), generated, ok)
