"""Reserve use cases: holdings, market data, coverage and the mint gate, reconciliation runs, the minting
circuit breaker, incidents and proof-of-liabilities snapshots.

Everything the reserve cannot know by itself comes in as arguments: the outstanding supply (frozen included)
and redemptions in flight from the ledger / chain, the reconciliation inputs from the bank, ledger and indexer,
`now_ns` and ids. The lead wires these to the ledger and chain services.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain import proofs
from bauhinia.domain import reserves as rsv
from bauhinia.domain.errors import ConflictError, RefusedError, ValidationError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.domain.reconciliation import ReconciliationInput, ReconciliationResult, reconcile
from bauhinia.ports import ReservesStore

default_buffer_bps: int = 0
default_bank_cap_bps: int = 5_000
breaks_stored_max: int = 1_000
reason_length_min: int = 10


# --- holdings and market data ----------------------------------------------------------------------------


def record_approval(store: ReservesStore, approval: rsv.RegulatorApproval, now_ns: int) -> None:
    if not approval.approval_ref.strip():
        raise ValidationError("approval reference must not be blank", code="bad_approval")
    if approval.currency == approval.coin.fiat:
        raise ValidationError("no approval is needed for the pool's own currency", code="bad_approval")
    store.put_approval(approval, now_ns)


def add_asset(store: ReservesStore, asset: rsv.ReserveAsset, as_of: date, now_ns: int) -> None:
    """Add a holding to its coin's pool. Refuses ineligible assets and foreign-currency assets whose
    approval reference is not recorded, for this coin and currency, and valid on `as_of`."""
    rsv.require_eligible(asset, as_of)
    with store.transaction() as tx:
        if asset.currency != asset.pool_currency:
            approval = tx.get_approval(asset.regulator_approval_ref)
            if approval is None:
                raise RefusedError(
                    f"regulator approval {asset.regulator_approval_ref!r} is not recorded",
                    code="approval_not_recorded",
                )
            if not approval.covers(asset, as_of):
                raise RefusedError(
                    f"approval {approval.approval_ref} does not cover {asset.currency} assets of {asset.coin} "
                    f"on {as_of}",
                    code="approval_not_applicable",
                )
        tx.add_asset(asset, now_ns)


def load_market_data(
    store: ReservesStore,
    as_of: date,
    *,
    prices_micro: Mapping[str, int] | None = None,
    accrued_interest_minor: Mapping[str, int] | None = None,
    fx_rates_micro: Mapping[tuple[Currency, Currency], int] | None = None,
    source: str = "manual",
) -> int:
    """Load one day's prices, accrued interest and FX rates. Returns the number of rows written."""
    n = 0
    with store.transaction() as tx:
        if prices_micro:
            n += tx.put_prices(as_of, prices_micro, source)
        if accrued_interest_minor:
            n += tx.put_accruals(as_of, accrued_interest_minor)
        if fx_rates_micro:
            n += tx.put_fx_rates(as_of, fx_rates_micro)
    return n


# --- coverage and the mint gate ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverageReport:
    pool: rsv.PoolValuation
    outstanding_base_units: int
    redemptions_in_flight_base_units: int
    liabilities_base_units: int
    coverage_bps: int | None
    ladder: tuple[rsv.LadderRung, ...]
    concentration_bps: dict[str, int]
    concentration_breaches: list[rsv.ConcentrationBreach]
    breaker: rsv.BreakerState


def compute_coverage(
    store: ReservesStore,
    coin: Currency,
    as_of: date,
    *,
    outstanding_base_units: int,
    redemptions_in_flight_base_units: int,
    now_ns: int,
    bank_cap_bps: int = default_bank_cap_bps,
    caps_bps_by_bank: Mapping[str, int] | None = None,
    record: bool = True,
) -> CoverageReport:
    """Value the pool of `coin` on `as_of` against the liabilities passed in; record the day's point."""
    pool = rsv.value_pool(coin, store.list_assets(coin), store.market_data(as_of))
    liabilities = rsv.liabilities_base_units(outstanding_base_units, redemptions_in_flight_base_units)
    cov = rsv.coverage_bps(pool.reserve_value_minor, liabilities)
    if record:
        store.put_coverage(
            rsv.CoveragePoint(
                coin, as_of, pool.reserve_value_minor, pool.market_value_minor, liabilities, cov, now_ns
            )
        )
    return CoverageReport(
        pool=pool,
        outstanding_base_units=outstanding_base_units,
        redemptions_in_flight_base_units=redemptions_in_flight_base_units,
        liabilities_base_units=liabilities,
        coverage_bps=cov,
        ladder=rsv.liquidity_ladder(pool),
        concentration_bps=rsv.concentration_bps(pool),
        concentration_breaches=rsv.concentration_breaches(pool, bank_cap_bps, caps_bps_by_bank),
        breaker=store.breaker_state(coin),
    )


def check_mint_allowed(
    store: ReservesStore,
    coin: Currency,
    as_of: date,
    *,
    mint_base_units: int,
    outstanding_base_units: int,
    redemptions_in_flight_base_units: int,
    buffer_bps: int = default_buffer_bps,
    reserve_added_minor: int = 0,
) -> rsv.MintCheck:
    """The gate every mint passes: the circuit breaker must be closed and coverage after the mint must stay at
    or above 100 % + buffer. Raises RefusedError otherwise."""
    state = store.breaker_state(coin)
    if state.halted:
        raise RefusedError(
            f"minting of {coin} is halted by the circuit breaker: {state.reason}", code="minting_halted"
        )
    pool = rsv.value_pool(coin, store.list_assets(coin), store.market_data(as_of))
    return rsv.require_mint_covered(
        reserve_value_minor=pool.reserve_value_minor,
        outstanding_base_units=outstanding_base_units,
        redemptions_in_flight_base_units=redemptions_in_flight_base_units,
        mint_base_units=mint_base_units,
        buffer_bps=buffer_bps,
        reserve_added_minor=reserve_added_minor,
    )


# --- the ledger's side of coverage (shared with the issuance mint gate) ------------------------------------


class LedgerReader(Protocol):
    def account(self, account_id: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class LedgerFigures:
    """One coin's books: liabilities in token base units, reserve cash in fiat minor units."""

    fiat: Currency
    outstanding_base_units: int  # coins outstanding, frozen balances included
    redemptions_in_flight_base_units: int  # burned, not yet paid out
    reserve_cash_available_minor: int  # cash at bank not held for pending payouts
    reserve_cash_posted_minor: int  # what the bank should show (held payout cash included)

    @property
    def held_for_payouts_minor(self) -> int:
        return self.reserve_cash_posted_minor - self.reserve_cash_available_minor


def ledger_figures(ledger: LedgerReader, fiat: Currency) -> LedgerFigures:
    outstanding = ledger.account(iss.book_account_id(fiat, iss.Book.COINS_OUTSTANDING)).posted
    in_flight = ledger.account(iss.book_account_id(fiat, iss.Book.REDEMPTIONS_PAYABLE)).posted
    cash = ledger.account(iss.book_account_id(fiat, iss.Book.RESERVE_CASH))
    return LedgerFigures(
        fiat, minor_to_base_units(outstanding), minor_to_base_units(in_flight), cash.available, cash.posted
    )


def reserve_value_minor(store: ReservesStore, ledger: LedgerReader, fiat: Currency, as_of: date) -> int:
    """The reserve backing a coin: its pool's value after haircuts plus the ledger's available reserve cash."""
    pool = rsv.value_pool(fiat.coin, store.list_assets(fiat.coin), store.market_data(as_of))
    return pool.reserve_value_minor + ledger_figures(ledger, fiat).reserve_cash_available_minor


def gate_mint(
    store: ReservesStore,
    ledger: LedgerReader,
    fiat: Currency,
    as_of: date,
    *,
    mint_base_units: int,
    buffer_bps: int = default_buffer_bps,
    now_ns: int | None = None,
) -> rsv.MintCheck:
    """The mint gate fed from the books: breaker closed, coverage after the mint >= 100 % + buffer, where the
    reserve is the pool plus available reserve cash and the liabilities are coins outstanding (frozen included)
    plus redemptions in flight. With `now_ns`, the day's coverage point (before the mint) is recorded first."""
    figures = ledger_figures(ledger, fiat)
    if now_ns is not None:
        record_coverage_point(store, ledger, fiat, as_of, now_ns=now_ns)
    return check_mint_allowed(
        store,
        fiat.coin,
        as_of,
        mint_base_units=mint_base_units,
        outstanding_base_units=figures.outstanding_base_units,
        redemptions_in_flight_base_units=figures.redemptions_in_flight_base_units,
        buffer_bps=buffer_bps,
        reserve_added_minor=figures.reserve_cash_available_minor,
    )


def record_coverage_point(
    store: ReservesStore, ledger: LedgerReader, fiat: Currency, as_of: date, *, now_ns: int
) -> rsv.CoveragePoint:
    report = coin_coverage(store, ledger, fiat, as_of, now_ns=now_ns, record=True)
    return rsv.CoveragePoint(
        fiat.coin,
        as_of,
        report.pool.reserve_value_minor,
        report.pool.market_value_minor,
        report.liabilities_base_units,
        report.coverage_bps,
        now_ns,
    )


def pool_with_ledger_cash(
    store: ReservesStore, ledger: LedgerReader, fiat: Currency, as_of: date, *, cash_bank: str = "reserve account"
) -> rsv.PoolValuation:
    """The coin's pool as valued from the reserves store, plus the ledger's available reserve cash as a cash
    holding at `cash_bank` (liquid today, no haircut): the same reserve the mint gate counts."""
    from dataclasses import replace

    pool = rsv.value_pool(fiat.coin, store.list_assets(fiat.coin), store.market_data(as_of))
    cash = ledger_figures(ledger, fiat).reserve_cash_available_minor
    if cash <= 0:
        return pool
    held = rsv.AssetValuation(f"ledger-cash-{fiat.value}", rsv.AssetKind.CASH, cash_bank, cash, 0, 0, 0)
    return replace(pool, assets=(*pool.assets, held))


def coin_coverage(
    store: ReservesStore,
    ledger: LedgerReader,
    fiat: Currency,
    as_of: date,
    *,
    now_ns: int,
    cash_bank: str = "reserve account",
    bank_cap_bps: int = default_bank_cap_bps,
    caps_bps_by_bank: Mapping[str, int] | None = None,
    record: bool = True,
) -> CoverageReport:
    """Coverage of one coin from the books: the pool plus reserve cash against coins outstanding (frozen
    included) plus redemptions payable in flight; ladder and concentration over the same reserve."""
    figures = ledger_figures(ledger, fiat)
    pool = pool_with_ledger_cash(store, ledger, fiat, as_of, cash_bank=cash_bank)
    liabilities = rsv.liabilities_base_units(
        figures.outstanding_base_units, figures.redemptions_in_flight_base_units
    )
    cov = rsv.coverage_bps(pool.reserve_value_minor, liabilities)
    if record:
        store.put_coverage(
            rsv.CoveragePoint(
                fiat.coin, as_of, pool.reserve_value_minor, pool.market_value_minor, liabilities, cov, now_ns
            )
        )
    return CoverageReport(
        pool=pool,
        outstanding_base_units=figures.outstanding_base_units,
        redemptions_in_flight_base_units=figures.redemptions_in_flight_base_units,
        liabilities_base_units=liabilities,
        coverage_bps=cov,
        ladder=rsv.liquidity_ladder(pool),
        concentration_bps=rsv.concentration_bps(pool),
        concentration_breaches=rsv.concentration_breaches(pool, bank_cap_bps, caps_bps_by_bank),
        breaker=store.breaker_state(fiat.coin),
    )


def coin_stress(
    store: ReservesStore,
    ledger: LedgerReader,
    fiat: Currency,
    as_of: date,
    *,
    run_bps: int,
    days: int,
    cash_bank: str = "reserve account",
    supply_base_units: int | None = None,
) -> rsv.StressResult:
    """A redemption run of `run_bps` of the coins outstanding (or, for a what-if, of `supply_base_units`) over
    `days` days against the ladder of the pool plus the ledger's reserve cash: the what-if changes the supply
    only, never the reserve it runs against."""
    supply = ledger_figures(ledger, fiat).outstanding_base_units if supply_base_units is None else supply_base_units
    pool = pool_with_ledger_cash(store, ledger, fiat, as_of, cash_bank=cash_bank)
    return rsv.stress_test(pool, supply_base_units=supply, run_bps=run_bps, days=days)


# --- bank statements: the closing balances the reconciliation compares the ledger with -------------------


def record_bank_statement(
    store: ReservesStore, message: bnk.BankMessage, reserve_accounts: Mapping[str, Currency], now_ns: int
) -> int:
    """Hook for the bank ingest: store the closing balance (CLBD) of each reserve account a camt.053 reports,
    with the keys of the booked entries it covers. Notifications (camt.054) and accounts that are not reserve
    accounts are ignored; a statement already recorded is kept as first seen. Returns statements recorded."""
    if message.kind is not bnk.MessageKind.STATEMENT:
        return 0
    created_at_ns = int(message.created_at.timestamp() * 1_000_000_000) if message.created_at else now_ns
    recorded = 0
    for rep in message.reports:
        fiat = reserve_accounts.get(rep.account.value)
        if fiat is None:
            continue
        closing = next((b for b in rep.balances if b.type_code == "CLBD"), None)
        if closing is None:
            continue
        keys = [e.entry_key for e in rep.entries if e.status == "BOOK"]
        statement = rsv.StatementBalance(
            rep.account.value,
            message.message_id[:64],
            fiat,
            closing.amount_minor,
            closing.on,
            created_at_ns,
            now_ns,
        )
        if store.record_statement(statement, keys):
            recorded += 1
    return recorded


def stress(
    store: ReservesStore, coin: Currency, as_of: date, *, supply_base_units: int, run_bps: int, days: int
) -> rsv.StressResult:
    pool = rsv.value_pool(coin, store.list_assets(coin), store.market_data(as_of))
    return rsv.stress_test(pool, supply_base_units=supply_base_units, run_bps=run_bps, days=days)


# --- circuit breaker and incidents ----------------------------------------------------------------------------


def trip_breaker(
    store: ReservesStore, coin: Currency, *, reason: str, actor: str, now_ns: int, run_id: str | None = None
) -> rsv.BreakerState:
    """Halt minting of `coin`. Tripping a halted breaker keeps the first reason (and records nothing new)."""
    if not reason.strip():
        raise ValidationError("a reason is required to trip the breaker", code="reason_required")
    with store.transaction() as tx:
        current = tx.breaker_state(coin)
        if current.halted:
            return current
        state = rsv.BreakerState(coin, True, reason.strip(), actor, now_ns, run_id)
        tx.set_breaker(state)
        return state


def reset_breaker(
    store: ReservesStore, coin: Currency, *, reason: str, actor: str, now_ns: int
) -> rsv.BreakerState:
    """An operator re-opens minting, saying why (at least a short sentence)."""
    if len(reason.strip()) < reason_length_min:
        raise ValidationError(
            f"resetting the breaker needs a reason of at least {reason_length_min} characters",
            code="reason_required",
        )
    if not actor.strip():
        raise ValidationError("resetting the breaker needs the operator's name", code="actor_required")
    with store.transaction() as tx:
        current = tx.breaker_state(coin)
        if not current.halted:
            raise ConflictError(f"minting of {coin} is not halted", code="breaker_not_tripped")
        state = rsv.BreakerState(coin, False, reason.strip(), actor.strip(), now_ns, None)
        tx.set_breaker(state)
        return state


def open_set_aside_incidents(store: ReservesStore, set_aside: Iterable[Any], now_ns: int) -> list[str]:
    """An incident (once) for each journaled chain transaction the node would not take (adapters.chain.sender
    SetAside), naming the key to fund and the gas it needs; returns the reasons of those opened now. The coin is
    read from the transaction's idempotency key, which names its fiat currency."""
    import hashlib

    existing = {i.incident_id for i in store.list_incidents()}
    opened = []
    for item in set_aside:
        incident_id = "INC-CHAIN-" + hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:16]
        if incident_id in existing:
            continue
        coin = Currency.BCNH if ":CNH" in item.idempotency_key else Currency.BHKD
        open_incident(store, incident_id=incident_id, coin=coin, kind="chain_tx_set_aside", summary=item.reason[:300],
                      now_ns=now_ns, details={"idempotency_key": item.idempotency_key, "op": item.op,
                                              "key": item.sender, "gas_needed_wei": item.gas_needed_wei,
                                              "code": item.code})
        existing.add(incident_id)
        opened.append(item.reason)
    return opened


def open_incident(
    store: ReservesStore,
    *,
    incident_id: str,
    coin: Currency,
    kind: str,
    summary: str,
    details: Mapping[str, object],
    now_ns: int,
    severity: str = "high",
    run_id: str | None = None,
) -> rsv.Incident:
    if severity not in ("high", "medium", "low"):
        raise ValidationError("severity must be high, medium or low", code="bad_severity")
    incident = rsv.Incident(
        incident_id,
        coin,
        kind,
        severity,
        summary,
        json.dumps(details, sort_keys=True, default=str),
        "open",
        now_ns,
        None,
        run_id,
    )
    store.add_incident(incident)
    return incident


# --- reconciliation ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReconciliationOutcome:
    run: rsv.ReconciliationRun
    result: ReconciliationResult
    breaker: rsv.BreakerState
    incident: rsv.Incident | None


def breaks_to_json(result: ReconciliationResult, limit: int = breaks_stored_max) -> str:
    return json.dumps(
        [
            {
                "source": b.source.value,
                "kind": b.kind.value,
                "key": b.key,
                "expected": b.expected,
                "actual": b.actual,
                "difference": b.difference,
                "unit": b.unit,
                "against": b.against.value,
            }
            for b in result.breaks[:limit]
        ]
    )


def run_reconciliation(
    store: ReservesStore,
    data: ReconciliationInput,
    *,
    as_of: date,
    run_id: str,
    now_ns: int,
    actor: str = "daily-reconciliation",
) -> ReconciliationOutcome:
    """Reconcile, record the run; on any break trip the breaker and open an incident, all in one transaction."""
    coin = Currency(data.coin)
    result = reconcile(data)
    run = rsv.ReconciliationRun(
        run_id,
        coin,
        as_of,
        now_ns,
        result.ok,
        result.break_count,
        result.accounts_checked,
        result.holders_checked,
        breaks_to_json(result),
    )
    return record_reconciliation(store, run, result, actor=actor)


def record_reconciliation(
    store: ReservesStore, run: rsv.ReconciliationRun, result: ReconciliationResult, *, actor: str
) -> ReconciliationOutcome:
    incident: rsv.Incident | None = None
    with store.transaction() as tx:
        tx.add_recon_run(run)
        if result.ok:
            return ReconciliationOutcome(run, result, tx.breaker_state(run.coin), None)
        by_source = {s.value: n for s, n in result.by_source().items() if n}
        first = result.breaks[0].describe() if result.breaks else ""
        summary = f"reconciliation {run.run_id} of {run.coin} on {run.as_of}: {result.break_count} break(s); {first}"
        state = trip_breaker(
            tx, run.coin, reason=summary[:512], actor=actor, now_ns=run.ran_at_ns, run_id=run.run_id
        )
        incident = open_incident(
            tx,
            incident_id=f"recon-{run.run_id}",
            coin=run.coin,
            kind="reconciliation_break",
            summary=summary,
            details={"run_id": run.run_id, "break_count": result.break_count, "by_source": by_source},
            now_ns=run.ran_at_ns,
            run_id=run.run_id,
        )
    return ReconciliationOutcome(run, result, state, incident)


# --- proof of liabilities ----------------------------------------------------------------------------------


def derive_holder_salt(snapshot_secret: bytes, snapshot_id: str, holder_id: str) -> bytes:
    """Per-holder salt = HMAC-SHA256(snapshot secret, snapshot id || 0x00 || holder id)."""
    if len(snapshot_secret) < 16:
        raise ValidationError("snapshot secret must be at least 16 bytes", code="bad_secret")
    message = snapshot_id.encode() + b"\x00" + holder_id.encode()
    return hmac.new(snapshot_secret, message, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class LiabilitySnapshot:
    tree: proofs.SumTree
    root: rsv.PublishedRoot
    snapshot_secret: bytes

    def proof_for(self, holder_id: str) -> proofs.InclusionProof:
        salt = derive_holder_salt(self.snapshot_secret, self.root.snapshot_id, holder_id)
        index = self.tree.index_of(proofs.hash_holder_id(holder_id, salt))
        return self.tree.proof(index, salt=salt)


def build_liability_snapshot(
    balances: Iterable[tuple[str, int]],
    *,
    coin: Currency,
    as_of: date,
    snapshot_id: str,
    snapshot_secret: bytes,
    now_ns: int,
) -> LiabilitySnapshot:
    """(holder_id, balance_base_units) for on-chain holders ("chain:0x...") and off-chain customers
    ("customer:...") -> the Merkle sum tree and the root to publish."""
    leaves = [
        (proofs.hash_holder_id(h, derive_holder_salt(snapshot_secret, snapshot_id, h)), b)
        for h, b in balances
    ]
    tree = proofs.build_sum_tree(leaves, snapshot_id=snapshot_id, coin=coin.value)
    r = tree.root
    root = rsv.PublishedRoot(snapshot_id, coin, as_of, r.hash.hex(), r.total, r.leaf_count, now_ns)
    return LiabilitySnapshot(tree, root, snapshot_secret)


def publish_liability_root(store: ReservesStore, snapshot: LiabilitySnapshot) -> rsv.PublishedRoot:
    store.put_liability_root(snapshot.root)
    return snapshot.root
