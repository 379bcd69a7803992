"""Reserves: assets, coverage, the minting circuit breaker (reset only with a second approver), incidents,
and checking a proof of liabilities."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field

from bauhinia.domain import proofs
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.limits import int64_max
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.api.auth import (
    ADMIN,
    ALL_ROLES,
    AUDITOR,
    COMPLIANCE,
    OPERATOR,
    TREASURY,
    Principal,
    require,
)
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.entrypoints.api.schemas import ApiDate, BaseUnits, Text
from bauhinia.services import controls
from bauhinia.services import reserves as svc
from bauhinia.services.regulatory import hk_today

router = APIRouter(prefix="/reserves", route_class=IdempotentRoute, tags=["reserves"])

READERS = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
BREAKER_TRIPPERS = (OPERATOR, TREASURY, COMPLIANCE, ADMIN)
BREAKER_RESETTERS = (TREASURY, ADMIN)


class Coin(StrEnum):
    BHKD = "BHKD"
    BCNH = "BCNH"


CoinPath = Annotated[Coin, Path()]


class AssetPublic(BaseModel):
    asset_id: str
    coin: str
    kind: str
    currency: str
    bank: str
    instrument_id: str
    principal_minor: int
    quantity_units: int
    maturity_date: date | None
    haircut_bps: int


@router.get("/assets", response_model=Page[AssetPublic])
def list_assets(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
    coin: Annotated[Coin | None, Query()] = None,
) -> dict:
    assets = sorted(container.reserves.list_assets(Currency(coin.value) if coin else None), key=lambda a: a.asset_id)
    if isinstance(pg.after, str):
        assets = [a for a in assets if a.asset_id > pg.after]
    items = [AssetPublic(asset_id=a.asset_id, coin=a.coin.value, kind=str(a.kind), currency=a.currency.value,
                         bank=a.bank, instrument_id=a.instrument_id, principal_minor=a.principal_minor,
                         quantity_units=a.quantity_units, maturity_date=a.maturity_date, haircut_bps=a.haircut_bps)
             for a in assets[: pg.limit + 1]]
    return page(items, pg.limit, lambda a: a.asset_id)


class CoveragePublic(BaseModel):
    coin: str
    as_of: date
    reserve_value_minor: int
    market_value_minor: int
    liabilities_base_units: int
    coverage_bps: int | None
    concentration_bps: dict[str, int]
    breaker_halted: bool


@router.get("/coverage/{coin}", response_model=CoveragePublic)
def coverage(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
    outstanding_base_units: Annotated[int, Query(ge=0, le=int64_max, description="coins outstanding, frozen too")],
    in_flight_base_units: Annotated[int, Query(ge=0, le=int64_max)] = 0,
    as_of: Annotated[ApiDate | None, Query()] = None,
) -> CoveragePublic:
    """Value the pool against the liabilities given (read-only: nothing is recorded)."""
    day = as_of or hk_today(container.clock.now_ns())
    r = svc.compute_coverage(
        container.reserves, Currency(coin.value), day, outstanding_base_units=outstanding_base_units,
        redemptions_in_flight_base_units=in_flight_base_units, now_ns=container.clock.now_ns(), record=False,
    )
    return CoveragePublic(
        coin=coin.value, as_of=day, reserve_value_minor=r.pool.reserve_value_minor,
        market_value_minor=r.pool.market_value_minor, liabilities_base_units=r.liabilities_base_units,
        coverage_bps=r.coverage_bps, concentration_bps=dict(r.concentration_bps), breaker_halted=r.breaker.halted,
    )


class BreakerPublic(BaseModel):
    coin: str
    halted: bool
    reason: str
    actor: str
    changed_at_ns: int


def _breaker(state: Any) -> BreakerPublic:
    return BreakerPublic(coin=state.coin.value, halted=state.halted, reason=state.reason, actor=state.actor,
                         changed_at_ns=state.changed_at_ns)


@router.get("/breakers/{coin}", response_model=BreakerPublic)
def breaker_status(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
) -> BreakerPublic:
    return _breaker(container.reserves.breaker_state(Currency(coin.value)))


class BreakerChange(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/breakers/{coin}/trip", response_model=BreakerPublic)
def trip_breaker(
    coin: CoinPath, body: BreakerChange, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*BREAKER_TRIPPERS, scope="reserves:write"))],
) -> BreakerPublic:
    """Halt minting at once (stopping is never held up by an approval)."""
    state = svc.trip_breaker(container.reserves, Currency(coin.value), reason=body.reason,
                             actor=principal.subject, now_ns=container.clock.now_ns())
    from bauhinia.adapters.store import audit

    with container.engine.begin() as conn:
        audit.append(conn, actor=principal.subject, action="breaker.tripped", subject=f"breaker:{coin.value}",
                     details={"reason": body.reason}, now_ns=container.clock.now_ns())
    return _breaker(state)


@router.post("/breakers/{coin}/reset", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def request_breaker_reset(
    coin: CoinPath, body: BreakerChange, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*BREAKER_RESETTERS, scope="reserves:write"))],
) -> ApprovalPublic:
    """Re-opening minting needs a second approver: this opens an approval request (see /v1/approvals)."""
    sub = controls.request_breaker_reset(container.approvals, container.reserves, Currency(coin.value), body.reason,
                                         principal.actor)
    return approval_public(sub.request)


class IncidentPublic(BaseModel):
    incident_id: str
    coin: str
    kind: str
    severity: str
    summary: str
    status: str
    opened_at_ns: int
    closed_at_ns: int | None


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@router.get("/incidents", response_model=Page[IncidentPublic])
def incidents(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
    status: Annotated[IncidentStatus | None, Query()] = None,
) -> dict:
    rows = sorted(container.reserves.list_incidents(status.value if status else None), key=lambda i: i.incident_id)
    if isinstance(pg.after, str):
        rows = [i for i in rows if i.incident_id > pg.after]
    items = [IncidentPublic(incident_id=i.incident_id, coin=i.coin.value, kind=i.kind, severity=i.severity,
                            summary=i.summary, status=i.status, opened_at_ns=i.opened_at_ns,
                            closed_at_ns=i.closed_at_ns) for i in rows[: pg.limit + 1]]
    return page(items, pg.limit, lambda i: i.incident_id)


class ProofCheck(BaseModel):
    proof: dict[str, Any] = Field(description="the inclusion proof JSON a holder downloaded")
    root_hash_hex: str | None = Field(default=None, pattern=r"^(0x)?[0-9a-fA-F]{64}$")
    root_total_base_units: BaseUnits | None = Field(default=None, ge=0, le=int64_max)
    holder_id: str | None = Field(default=None, max_length=256)


class ProofResult(BaseModel):
    valid: bool
    balance_base_units: int
    root_hash_hex: str
    root_total_base_units: int
    checked_against: str


@router.post("/proofs/verify", response_model=ProofResult)
def verify_proof(
    body: ProofCheck, _: Annotated[Principal, Depends(require(*ALL_ROLES, scope="reserves:read"))],
) -> ProofResult:
    """Check that a balance is counted in the published total of liabilities (422 problem when not)."""
    proof = proofs.proof_from_json(json.dumps(body.proof))
    if (body.root_hash_hex is None) != (body.root_total_base_units is None):
        raise ValidationError("give both root_hash_hex and root_total_base_units, or neither", code="bad_root")
    if body.root_hash_hex is not None and body.root_total_base_units is not None:
        root_hash, total, against = bytes.fromhex(body.root_hash_hex.removeprefix("0x")), \
            body.root_total_base_units, "published"
    else:
        root_hash, total, against = proof.root_hash, proof.root_total, "proof"
    proofs.verify_inclusion(proof, root_hash, total)
    if body.holder_id is not None:
        proofs.verify_holder(proof, body.holder_id)
    return ProofResult(valid=True, balance_base_units=proof.balance, root_hash_hex=root_hash.hex(),
                       root_total_base_units=total, checked_against=against)


# --- from the books: coverage, the daily reconciliation, proof of liabilities (issue 4) -------------------


class BooksCoveragePublic(BaseModel):
    coin: str
    as_of: date
    reserve_value_minor: int  # pool after haircuts + the ledger's available reserve cash
    outstanding_base_units: int  # coins outstanding, frozen included
    redemptions_in_flight_base_units: int
    coverage_bps: int | None
    ladder_minor: dict[str, int]
    concentration_bps: dict[str, int]
    breaker_halted: bool


@router.get("/coverage/{coin}/books", response_model=BooksCoveragePublic)
def coverage_from_books(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
) -> BooksCoveragePublic:
    """Coverage of the coin from the ledger and the reserves store (what the mint gate sees); nothing recorded."""
    day = hk_today(container.clock.now_ns())
    r = svc.coin_coverage(container.reserves, container.ledger, Currency(coin.value).fiat, day,
                          now_ns=container.clock.now_ns(), record=False, cash_bank=container.settings.reserve_bank_bic)
    return BooksCoveragePublic(
        coin=coin.value, as_of=day, reserve_value_minor=r.pool.reserve_value_minor,
        outstanding_base_units=r.outstanding_base_units,
        redemptions_in_flight_base_units=r.redemptions_in_flight_base_units, coverage_bps=r.coverage_bps,
        ladder_minor={x.bucket.value: x.amount_minor for x in r.ladder}, concentration_bps=dict(r.concentration_bps),
        breaker_halted=r.breaker.halted,
    )


class ReconciliationPublic(BaseModel):
    run_id: str
    coin: str
    as_of: date
    ok: bool
    break_count: int
    accounts_checked: int
    holders_checked: int
    breaks: list[dict[str, Any]]
    minting_halted: bool


def _run_public(run: Any, halted: bool) -> ReconciliationPublic:
    return ReconciliationPublic(run_id=run.run_id, coin=run.coin.value, as_of=run.as_of, ok=run.ok,
                                break_count=run.break_count, accounts_checked=run.accounts_checked,
                                holders_checked=run.holders_checked, breaks=json.loads(run.breaks_json)[:100],
                                minting_halted=halted)


@router.post("/reconciliations/{coin}", response_model=ReconciliationPublic)
def run_reconciliation(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(OPERATOR, TREASURY, ADMIN, scope="reserves:write"))],
) -> ReconciliationPublic:
    """Run the three-way reconciliation now (bank statement, ledger, chain); any break halts minting."""
    from bauhinia.domain.errors import RefusedError
    from bauhinia.entrypoints.reserve_context import reserve_context
    from bauhinia.services import reconciliation as rec

    try:  # the chain adapters and their indexers are built on first use
        rctx = reserve_context(container)
        rctx.index(Currency(coin.value).fiat)
    except Exception as exc:  # a node that is down or not configured: say so, don't 500
        raise RefusedError(f"the chain is not reachable: {type(exc).__name__}", code="chain_unavailable") from None
    daily = rec.run_daily(rctx, Currency(coin.value).fiat, hk_today(container.clock.now_ns()))
    return _run_public(daily.outcome.run, daily.outcome.breaker.halted)


@router.get("/reconciliations/{coin}", response_model=list[ReconciliationPublic])
def reconciliation_runs(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*READERS, scope="reserves:read"))],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[ReconciliationPublic]:
    c = Currency(coin.value)
    halted = container.reserves.breaker_state(c).halted
    return [_run_public(r, halted) for r in container.reserves.list_recon_runs(c, limit=limit)]


class LiabilityRootPublic(BaseModel):
    snapshot_id: str
    coin: str
    as_of: date
    root_hash_hex: str
    total_base_units: int
    leaf_count: int


@router.get("/liabilities/{coin}/root", response_model=LiabilityRootPublic)
def liability_root(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*ALL_ROLES, scope="reserves:read"))],
) -> LiabilityRootPublic:
    """The latest published proof-of-liabilities root and total."""
    from bauhinia.domain.errors import NotFoundError

    root = container.reserves.latest_liability_root(Currency(coin.value))
    if root is None:
        raise NotFoundError(f"no published snapshot for {coin.value}", code="no_snapshot")
    return LiabilityRootPublic(snapshot_id=root.snapshot_id, coin=root.coin.value, as_of=root.as_of,
                               root_hash_hex=root.root_hash_hex, total_base_units=root.total_base_units,
                               leaf_count=root.leaf_count)


@router.get("/liabilities/{coin}/proof")
def liability_proof(
    coin: CoinPath, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*ALL_ROLES, scope="reserves:read"))],
    holder: Annotated[str, Query(min_length=1, max_length=128, description="0x wallet or customer id")],
) -> dict[str, Any]:
    """A holder's inclusion proof in the latest snapshot (customers: only their own id and wallets)."""
    from pathlib import Path as FsPath

    from bauhinia.domain.errors import NotFoundError
    from bauhinia.entrypoints.reserve_context import secret_store
    from bauhinia.services import reconciliation as rec

    holder_id = rec.normalise_holder_id(holder)
    if principal.is_customer_only:
        cid = principal.customer_id or ""
        own = {f"customer:{cid}"} | {f"chain:{w.address.lower()}" for w in container.issuance.store.wallets(cid)}
        if holder_id not in own:
            raise NotFoundError("holder not in this snapshot", code="holder_not_found")
    rctx = rec.ReserveContext(
        reserves=container.reserves, sources=None, ledger=None, chains={}, coin_cursors={},  # type: ignore[arg-type]
        index=lambda _f: 0, reserve_accounts={}, clock=container.clock,
        snapshot_secret=secret_store(FsPath(container.settings.data_dir) / "pol-secrets"),
    )
    proof, _root = rec.holder_proof(rctx, Currency(coin.value), holder_id)
    return proofs.proof_to_dict(proof)
