"""The double-entry ledger: accounts (with balances), transfer batches, history, balance as of, invariants.

A customer sees only accounts whose reference is `customer:<its id>` (or `customer:<its id>:<purpose>`) and
transfers touching them; staff see everything; only operators, treasury and admins write.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field

from bauhinia.adapters.store.db import read_connection
from bauhinia.adapters.store.ledger_tables import accounts as accounts_table
from bauhinia.domain import adjustments as adj
from bauhinia.domain import ledger as core
from bauhinia.domain.errors import NotFoundError, RefusedError
from bauhinia.domain.limits import int64_max, pending_timeout_s_max, transfer_batch_size_max
from bauhinia.entrypoints.api.auth import (
    ADMIN,
    AUDITOR,
    COMPLIANCE,
    CUSTOMER,
    OPERATOR,
    TREASURY,
    Principal,
    own_customer,
    require,
)
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public

router = APIRouter(prefix="/ledger", route_class=IdempotentRoute, tags=["ledger"])

READERS = (CUSTOMER, OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
STAFF_READERS = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
WRITERS = (OPERATOR, TREASURY, ADMIN)
AccountId = Annotated[int, Path(ge=1, le=int64_max)]
TransferId = Annotated[int, Path(ge=1, le=int64_max)]
Int64 = Annotated[int, Field(ge=0, le=int64_max)]
BATCH_MAX = 1_000  # per HTTP request (the ledger takes up to transfer_batch_size_max)
assert transfer_batch_size_max >= BATCH_MAX


def customer_of(reference: str | None) -> str | None:
    if reference and reference.startswith("customer:"):
        return reference.split(":", 2)[1] or None
    return None


class AccountCreate(BaseModel):
    id: int = Field(ge=1, le=int64_max)
    currency: str = Field(min_length=1, max_length=8)
    kind: core.AccountKind
    flags: int = Field(default=0, ge=0, le=3)
    code: int = Field(default=0, ge=0, le=65_535)
    reference: str | None = Field(default=None, max_length=128)


class AccountsCreate(BaseModel):
    accounts: list[AccountCreate] = Field(min_length=1, max_length=BATCH_MAX)


class BatchResults(BaseModel):
    results: list[str] = Field(description='one per item: "ok", "exists" or an error code')


class BalancePublic(BaseModel):
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class AccountPublic(BaseModel):
    id: int
    currency: str
    kind: str
    flags: int
    code: int
    reference: str | None
    closed: bool
    balance: BalancePublic
    posted: int
    available: int


def _balance(b: core.Balance) -> BalancePublic:
    return BalancePublic(debits_pending=b.debits_pending, debits_posted=b.debits_posted,
                         credits_pending=b.credits_pending, credits_posted=b.credits_posted)


def _account_public(view: object) -> AccountPublic:
    a = view.account  # type: ignore[attr-defined]
    return AccountPublic(
        id=a.id, currency=a.currency, kind=a.kind.value, flags=a.flags, code=a.code, reference=a.reference,
        closed=a.closed, balance=_balance(view.balance), posted=view.posted,  # type: ignore[attr-defined]
        available=view.available,  # type: ignore[attr-defined]
    )


def _visible_account(container: object, principal: Principal, account_id: int) -> object:
    view = container.ledger.account(account_id)  # type: ignore[attr-defined]
    if principal.is_customer_only and customer_of(view.account.reference) != principal.customer_id:
        # Not found rather than forbidden: a customer learns nothing about other customers' accounts.
        raise NotFoundError(f"account {account_id} not found", code="account_not_found")
    return view


@router.post("/accounts", response_model=BatchResults)
def create_accounts(
    body: AccountsCreate, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*WRITERS, scope="ledger:write"))],
) -> BatchResults:
    batch = [core.Account(a.id, a.currency, a.kind, a.flags, a.code, a.reference) for a in body.accounts]
    return BatchResults(results=container.ledger.create_accounts(batch))


@router.get("/accounts", response_model=Page[AccountPublic])
def list_accounts(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require(*READERS, scope="ledger:read"))],
    currency: Annotated[str | None, Query(max_length=8)] = None,
) -> dict:
    t = accounts_table
    stmt = sa.select(t.c.id).order_by(t.c.id).limit(pg.limit + 1)
    if isinstance(pg.after, int) and not isinstance(pg.after, bool):
        stmt = stmt.where(t.c.id > pg.after)
    if currency:
        stmt = stmt.where(t.c.currency == currency)
    if principal.is_customer_only:
        own_customer(principal, principal.customer_id)
        cid = principal.customer_id or ""
        stmt = stmt.where(sa.or_(t.c.reference == f"customer:{cid}", t.c.reference.startswith(f"customer:{cid}:")))
    with read_connection(container.engine) as conn:
        ids = [int(r[0]) for r in conn.execute(stmt)]
    views = container.ledger.lookup_accounts(ids) if ids else []
    return page([_account_public(v) for v in views], pg.limit, lambda a: a.id)


@router.get("/accounts/{account_id}", response_model=AccountPublic)
def get_account(
    account_id: AccountId, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*READERS, scope="ledger:read"))],
) -> AccountPublic:
    return _account_public(_visible_account(container, principal, account_id))


class TransferCreate(BaseModel):
    id: int = Field(ge=1, le=int64_max)
    debit_account_id: Int64 = 0
    credit_account_id: Int64 = 0
    amount: Int64 = Field(description="in the currency's smallest unit")
    currency: str = Field(default="", max_length=8)
    code: int = Field(default=0, ge=0, le=65_535)
    reference: str | None = Field(default=None, max_length=128)
    flags: int = Field(default=0, ge=0, le=15)
    pending_id: Int64 = 0
    timeout_s: int = Field(default=0, ge=0, le=pending_timeout_s_max)


class TransfersCreate(BaseModel):
    transfers: list[TransferCreate] = Field(min_length=1, max_length=BATCH_MAX)
    reason: str = Field(min_length=adj.reason_length_min, max_length=adj.reason_length_max,
                        description="why this adjustment is booked (what happened, which ticket)")


class TransferPublic(BaseModel):
    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: int
    reference: str | None
    flags: int
    pending_id: int
    timeout_s: int
    timestamp: int


class AdjustmentPublic(BaseModel):
    adjustment_id: str = Field(description="derived from the transfers and the reason: the same request is one "
                                           "adjustment")
    status: Literal["booked", "replay", "pending_approval"]
    results: list[str] = Field(description='one per transfer once booked: "ok", "exists" or an error code')
    needs_approval_because: list[str]
    approval: ApprovalPublic | None


@router.post("/transfers", response_model=AdjustmentPublic,
             responses={202: {"model": AdjustmentPublic, "description": "waiting for a second person"}})
def create_transfers(
    body: TransfersCreate, container: ContainerDep, response: Response,
    principal: Annotated[Principal, Depends(require(*WRITERS, scope="ledger:write"))],
) -> AdjustmentPublic:
    """A manual adjustment: its transfers in one transaction, all or nothing, journaled with the reason.

    Above the maker's role limit it is refused (403); above the approval threshold, or touching the issuer's
    books, a customer's account or any equity / income / expense account, it opens a maker-checker request
    (202, see /v1/approvals) and is booked when a second person approves it."""
    batch = [core.Transfer(t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code,
                           t.reference, t.flags, t.pending_id, t.timeout_s) for t in body.transfers]
    out = container.adjustments.propose(batch, body.reason, maker=principal.subject, maker_roles=principal.roles)
    if out.status == "pending_approval":
        response.status_code = status.HTTP_202_ACCEPTED
    elif out.status == "refused":
        told = "; ".join(f"transfer {t.id}: {r}" for t, r in zip(batch, out.results, strict=False) if r != "ok")
        raise RefusedError(f"the ledger refused the adjustment, nothing was booked: {told}",
                           code="adjustment_refused")
    return AdjustmentPublic(adjustment_id=out.adjustment_id, status=out.status, results=out.results,
                            needs_approval_because=list(out.needs_approval_because),
                            approval=approval_public(out.approval) if out.approval is not None else None)


class AdjustmentEntryPublic(BaseModel):
    adjustment_id: str
    reason: str
    maker: str
    approval_id: str | None
    approvers: list[str]
    transfers: list[dict[str, Any]]
    currency: str
    amount_minor_total: int
    booked_at_ns: int


@router.get("/adjustments", response_model=Page[AdjustmentEntryPublic])
def list_adjustments(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(*STAFF_READERS, scope="ledger:read"))],
) -> dict:
    """The journal of adjustments booked (who proposed, who approved, why), by id."""
    after = pg.after if isinstance(pg.after, str) else None
    rows = container.adjustments.journal.page(after=after, limit=pg.limit + 1)
    items = [AdjustmentEntryPublic(adjustment_id=e.adjustment_id, reason=e.reason, maker=e.maker,
                                   approval_id=e.approval_id, approvers=list(e.approvers),
                                   transfers=[dict(t) for t in e.transfers], currency=e.currency,
                                   amount_minor_total=e.amount_minor_total, booked_at_ns=e.booked_at_ns)
             for e in rows]
    return page(items, pg.limit, lambda e: e.adjustment_id)


@router.get("/transfers/{transfer_id}", response_model=TransferPublic)
def get_transfer(
    transfer_id: TransferId, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*READERS, scope="ledger:read"))],
) -> TransferPublic:
    found = container.ledger.lookup_transfers([transfer_id])
    if not found:
        raise NotFoundError(f"transfer {transfer_id} not found", code="transfer_not_found")
    rec = found[0]
    if principal.is_customer_only:
        views = container.ledger.lookup_accounts([rec.debit_account_id, rec.credit_account_id])
        if not any(customer_of(v.account.reference) == principal.customer_id for v in views):
            raise NotFoundError(f"transfer {transfer_id} not found", code="transfer_not_found")
    return TransferPublic(**rec._asdict())


class HistoryEntryPublic(BaseModel):
    transfer: TransferPublic
    balance: BalancePublic


@router.get("/accounts/{account_id}/history", response_model=Page[HistoryEntryPublic])
def history(
    account_id: AccountId, container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require(*READERS, scope="ledger:read"))],
) -> dict:
    """The account's transfers in time order with its balances after each (cursor: the last timestamp)."""
    _visible_account(container, principal, account_id)
    after = pg.after if isinstance(pg.after, int) and not isinstance(pg.after, bool) else -1
    entries = [e for e in container.ledger.history(account_id) if e.transfer.timestamp > after][: pg.limit + 1]
    items = [HistoryEntryPublic(transfer=TransferPublic(**e.transfer._asdict()), balance=_balance(e.balance))
             for e in entries]
    return page(items, pg.limit, lambda e: e.transfer.timestamp)


class BalanceAsOfPublic(BaseModel):
    account_id: int
    as_of_ns: int
    balance: BalancePublic


@router.get("/accounts/{account_id}/balance", response_model=BalanceAsOfPublic)
def balance_as_of(
    account_id: AccountId, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*READERS, scope="ledger:read"))],
    as_of_ns: Annotated[int, Query(ge=0, le=int64_max, description="ledger time, ns since the epoch")],
) -> BalanceAsOfPublic:
    _visible_account(container, principal, account_id)
    return BalanceAsOfPublic(account_id=account_id, as_of_ns=as_of_ns,
                             balance=_balance(container.ledger.balance_as_of(account_id, as_of_ns)))


class InvariantsPublic(BaseModel):
    ok: bool
    problems: list[str]
    accounts_checked: int
    transfers_checked: int
    totals_by_currency: dict[str, BalancePublic]
    status: Literal["ok", "broken"]


@router.get("/invariants", response_model=InvariantsPublic)
def invariants(
    container: ContainerDep,
    _: Annotated[Principal, Depends(require(*STAFF_READERS, scope="ledger:read"))],
) -> InvariantsPublic:
    r = container.ledger.check_invariants()
    return InvariantsPublic(
        ok=r.ok, problems=r.problems[:100], accounts_checked=r.accounts_checked,
        transfers_checked=r.transfers_checked,
        totals_by_currency={k: _balance(v) for k, v in r.totals_by_currency.items()},
        status="ok" if r.ok else "broken",
    )
