"""Issuance: customers (bank accounts, wallets proven by signature), bank files in, subscriptions and mint runs,
redemptions (request, run, deadlines) and recovery. Every step is a service command; large mints wait for a
second approver inside the service."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response, status
from pydantic import BaseModel, Field

from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.limits import int64_max
from bauhinia.domain.money import Currency, minor_to_base_units
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
from bauhinia.entrypoints.api.idempotency import REPLAYED_HEADER, SERVICE_KEYED, IdempotentRoute, idempotency_header
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.entrypoints.api.schemas import Minor, Name, Text
from bauhinia.services import controls
from bauhinia.services import issuance as svc
from bauhinia.services.bank_intake import hold_upload, summary

router = APIRouter(route_class=IdempotentRoute, tags=["issuance"])

STAFF_READ = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Seq = Annotated[int, Path(ge=1, le=int64_max)]
BANK_FILE_BYTES_MAX = 32 * 1024 * 1024


FiatCode = Annotated[str, Field(pattern=r"^(CNH|HKD)$", description="the coin's fiat currency")]


def _fiat(code: str) -> Currency:
    return Currency(code)


# --- customers -------------------------------------------------------------------------------------------


class CustomerCreate(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: Name = Field(min_length=1, max_length=200)


class CustomerPublic(BaseModel):
    customer_id: str
    name: str
    status: str
    deposit_reference: str


def _customer_public(c: iss.Customer) -> CustomerPublic:
    return CustomerPublic(customer_id=c.id, name=c.name, status=c.status.value, deposit_reference=c.deposit_reference)


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic)
def create_customer(body: CustomerCreate, container: ContainerDep,
                    principal: Annotated[Principal, Depends(require(OPERATOR, COMPLIANCE, ADMIN,
                                                                    scope="issuance:write"))]) -> CustomerPublic:
    """Open a customer (status onboarding: due diligence clears it). Posting the same customer again is
    idempotent; the same id with other data is a 409 (`customer_exists`), never the old record under a 201."""
    try:
        existing = container.issuance.store.customer(body.customer_id)
    except NotFoundError:
        existing = None
    if existing is not None and existing.name != body.name:
        raise ConflictError(f"customer {body.customer_id} exists with other data", code="customer_exists")
    return _customer_public(svc.onboard_customer(container.issuance, body.customer_id, body.name, cleared=False))


class StatusChange(BaseModel):
    status: str = Field(pattern=r"^(onboarding|cleared|suspended)$")
    reason: Text = Field(min_length=3, max_length=300)


@router.post("/customers/{customer_id}/status", response_model=CustomerPublic)
def change_customer_status(customer_id: CustomerId, body: StatusChange, container: ContainerDep,
                           principal: Annotated[Principal, Depends(require(COMPLIANCE, ADMIN,
                                                                           scope="issuance:write"))]
                           ) -> CustomerPublic:
    """Clear or suspend a customer after due diligence (compliance)."""
    ctx = container.issuance
    svc.set_customer_status(ctx, customer_id, iss.CustomerStatus(body.status), f"{principal.subject}: {body.reason}")
    return _customer_public(ctx.store.customer(customer_id))


@router.get("/customers", response_model=Page[CustomerPublic])
def list_customers(container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
                   principal: Annotated[Principal, Depends(require(*STAFF_READ, scope="issuance:read"))]
                   ) -> dict[str, Any]:
    after = int(pg.after or 0)
    rows = [c for c in container.issuance.store.customers() if c.seq > after][: pg.limit + 1]
    out = page(rows, pg.limit, key=lambda c: c.seq)
    out["items"] = [_customer_public(c) for c in out["items"]]
    return out


class CustomerDetail(CustomerPublic):
    bank_accounts: list[dict[str, str]]
    wallets: list[str]


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: CustomerId, container: ContainerDep,
                 principal: Annotated[Principal, Depends(require(CUSTOMER, *STAFF_READ, scope="issuance:read"))]
                 ) -> CustomerDetail:
    _own_or_404(principal, customer_id)
    store = container.issuance.store
    c = store.customer(customer_id)
    accounts = [{"account": "****" + a.account[-4:], "currency": a.currency.value, "holder_name": a.holder_name}
                for a in store.bank_accounts(customer_id)]
    return CustomerDetail(**_customer_public(c).model_dump(), bank_accounts=accounts,
                          wallets=[w.address for w in store.wallets(customer_id)])


def _own_or_404(principal: Principal, customer_id: str) -> None:
    if principal.is_customer_only and principal.customer_id != customer_id:
        raise NotFoundError(f"customer {customer_id} not found", code="customer_not_found")


class BankAccountCreate(BaseModel):
    account: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")
    scheme: str = Field(default="BBAN", pattern=r"^(IBAN|BBAN|OTHR)$")
    holder_name: Name = Field(min_length=1, max_length=140)
    currency: FiatCode
    bic: str | None = Field(default=None, pattern=r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
    override_reason: Text | None = Field(
        default=None, min_length=3, max_length=500,
        description="why an account in another party's name is the customer's: a second person approves it (202)")


@router.post("/customers/{customer_id}/bank-accounts", status_code=status.HTTP_201_CREATED)
def add_bank_account(customer_id: CustomerId, body: BankAccountCreate, container: ContainerDep, response: Response,
                     principal: Annotated[Principal, Depends(require(OPERATOR, COMPLIANCE, ADMIN,
                                                                     scope="issuance:write"))]) -> dict[str, str]:
    """Record a bank account verified to be in the customer's own name; payouts go only there. One in another
    party's name is refused (422) unless `override_reason` is given: then a `bank_account_override` approval
    waits for a second person (202) and the account is recorded when it is approved."""
    account = iss.VerifiedBankAccount(customer_id, body.account, body.scheme, body.holder_name,
                                      _fiat(body.currency), body.bic)
    if body.override_reason:
        approval = svc.request_bank_account_override(container.issuance, account, body.override_reason,
                                                     maker=principal.subject)
        response.status_code = status.HTTP_202_ACCEPTED
        return {"customer_id": customer_id, "account": "****" + body.account[-4:], "approval": approval}
    svc.add_bank_account(container.issuance, account)
    return {"customer_id": customer_id, "account": "****" + body.account[-4:]}


class WalletChallengeCreate(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")


class WalletChallengePublic(BaseModel):
    address: str
    nonce: str
    message: str


@router.post("/customers/{customer_id}/wallet-challenges", status_code=status.HTTP_201_CREATED,
             response_model=WalletChallengePublic)
def wallet_challenge(customer_id: CustomerId, body: WalletChallengeCreate, container: ContainerDep,
                     principal: Annotated[Principal, Depends(require(CUSTOMER, OPERATOR, ADMIN,
                                                                     scope="issuance:write"))]
                     ) -> WalletChallengePublic:
    """The message the customer signs (EIP-191 personal_sign) with the wallet's key to prove ownership."""
    _own_or_404(principal, customer_id)
    container.issuance.store.customer(customer_id)
    nonce = secrets.token_hex(16)
    return WalletChallengePublic(address=body.address, nonce=nonce,
                                 message=iss.wallet_challenge(customer_id, body.address, nonce))


class WalletCreate(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    nonce: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    signature: str = Field(pattern=r"^(0x)?[0-9a-fA-F]{130}$")


@router.post("/customers/{customer_id}/wallets", status_code=status.HTTP_201_CREATED)
def add_wallet(customer_id: CustomerId, body: WalletCreate, container: ContainerDep,
               principal: Annotated[Principal, Depends(require(CUSTOMER, OPERATOR, ADMIN, scope="issuance:write"))]
               ) -> dict[str, str]:
    """Whitelist a wallet whose ownership the signature of the challenge proves."""
    _own_or_404(principal, customer_id)
    svc.verify_wallet(container.issuance, customer_id, body.address, body.nonce, body.signature)
    return {"customer_id": customer_id, "wallet": body.address.lower()}


# --- bank files and subscriptions ------------------------------------------------------------------------


class BankFileHeldPublic(BaseModel):
    file: str
    kind: str
    message_id: str
    content_sha256: str
    accounts: list[str]
    booked_entries: int
    credits_minor: dict[str, int]
    debits_minor: dict[str, int]
    signed: bool
    approval: ApprovalPublic


@router.post("/bank-files", response_model=BankFileHeldPublic, status_code=status.HTTP_202_ACCEPTED,
             openapi_extra={"requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}},
                                            "required": True}})
def upload_bank_file(container: ContainerDep,
                     content: Annotated[bytes, Body(media_type="application/xml")],
                     principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, ADMIN,
                                                                     scope="issuance:write"))],
                     x_bank_signature: Annotated[str | None, Header(max_length=8_192,
                                                                    description="the bank's detached signature "
                                                                                "(base64), when its channel "
                                                                                "signs files")] = None,
                     ) -> BankFileHeldPublic:
    """A camt.054 or camt.053 a person uploads: checked now (its signature when the bank signs files, then its
    schema; a bad file answers 422 and a copy is quarantined), then held until a second person approves it
    (see /v1/approvals); only then is it booked. Files from the bank's host-to-host folder need no approval."""
    if not content or len(content) > BANK_FILE_BYTES_MAX:
        raise ValidationError(f"a bank file of 1..{BANK_FILE_BYTES_MAX} bytes is required", code="bad_bank_file")
    signature = x_bank_signature.encode() if x_bank_signature else None
    held = hold_upload(container.issuance, container.approvals, content, maker=principal.subject,
                       signature=signature)
    info = summary(held.message)
    return BankFileHeldPublic(file=held.name, signed=bool(signature), approval=approval_public(held.approval),
                              **info)


class SubscriptionPublic(BaseModel):
    seq: int
    customer_id: str | None
    currency: str
    amount_minor: int
    fee_minor: int
    status: str
    wallet: str | None
    reason: str | None
    approval_id: str | None


def _sub_public(s: Any) -> SubscriptionPublic:
    return SubscriptionPublic(seq=s.seq, customer_id=s.customer_id, currency=s.fiat, amount_minor=s.amount_minor,
                              fee_minor=s.fee_minor, status=s.status, wallet=s.wallet, reason=s.reason,
                              approval_id=s.approval_id)


@router.get("/subscriptions", response_model=Page[SubscriptionPublic])
def list_subscriptions(container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
                       principal: Annotated[Principal, Depends(require(CUSTOMER, *STAFF_READ,
                                                                       scope="issuance:read"))]) -> dict[str, Any]:
    rows = container.issuance.store.subscriptions(limit=pg.limit + 1 if not principal.is_customer_only else 100_000,
                                                  after_seq=int(pg.after or 0))
    if principal.is_customer_only:
        rows = [r for r in rows if r.customer_id == principal.customer_id][: pg.limit + 1]
    return page([_sub_public(r) for r in rows], pg.limit, key=lambda s: s.seq)


@router.get("/subscriptions/{seq}", response_model=SubscriptionPublic)
def get_subscription(seq: Seq, container: ContainerDep,
                     principal: Annotated[Principal, Depends(require(CUSTOMER, *STAFF_READ, scope="issuance:read"))]
                     ) -> SubscriptionPublic:
    s = container.issuance.store.subscription(seq)
    if principal.is_customer_only and s.customer_id != principal.customer_id:
        raise NotFoundError(f"subscription {seq} not found", code="subscription_not_found")
    return _sub_public(s)


class SuspensePublic(BaseModel):
    seq: int
    currency: str
    amount_minor: int
    debtor_name: str | None
    remittance: str | None
    status: str
    received_at_ns: int


@router.get("/suspense", response_model=list[SuspensePublic])
def list_suspense(container: ContainerDep,
                  principal: Annotated[Principal, Depends(require(*STAFF_READ, scope="issuance:read"))],
                  status_: Annotated[str, Query(alias="status", pattern="^(open|assigned|all)$")] = "open",
                  ) -> list[SuspensePublic]:
    """Bank receipts that matched no customer, with the payer and remittance the bank gave."""
    rows = container.issuance.store.suspense(None if status_ == "all" else status_)
    return [SuspensePublic(seq=int(r.seq), currency=r.fiat, amount_minor=int(r.amount_minor),
                           debtor_name=r.debtor_name, remittance=r.remittance, status=r.status,
                           received_at_ns=int(r.received_at_ns)) for r in rows[:10_000]]


class SuspenseAssignment(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    reason: Text = Field(min_length=3, max_length=500)


@router.post("/suspense/{seq}/assignment", status_code=status.HTTP_202_ACCEPTED)
def assign_suspense(seq: Seq, body: SuspenseAssignment, container: ContainerDep,
                    principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, COMPLIANCE, ADMIN,
                                                                    scope="issuance:write"))]) -> dict[str, Any]:
    """Ask a second person to credit a suspense receipt to a customer (approval `suspense_assignment`, 202); it
    is then received as the customer's subscription and minted through every usual check."""
    approval = svc.request_suspense_assignment(container.issuance, seq, body.customer_id, body.reason,
                                               maker=principal.subject)
    return {"suspense": seq, "customer_id": body.customer_id, "approval": approval}


class RefundPublic(BaseModel):
    seq: int
    source: str
    source_seq: int
    currency: str
    amount_minor: int
    creditor_name: str
    creditor_account: str
    status: str
    file_name: str | None
    created_at_ns: int


class RefundAccount(BaseModel):
    name: Name
    account: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ./-]+$")
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")


class RefundRequest(BaseModel):
    source: str = Field(pattern="^(suspense|subscription)$")
    seq: int = Field(ge=1, le=int64_max)
    reason: Text = Field(min_length=3, max_length=500)
    to: RefundAccount | None = Field(default=None, description="the payer's account, only when the bank's file "
                                                               "named none")


@router.get("/refunds", response_model=list[RefundPublic])
def list_refunds(container: ContainerDep,
                 principal: Annotated[Principal, Depends(require(*STAFF_READ, scope="issuance:read"))],
                 status_: Annotated[str, Query(alias="status", pattern="^(instructed|written|paid|all)$")] = "all",
                 ) -> list[RefundPublic]:
    """Refunds to payers (suspense credits, held subscriptions) with their state."""
    rows = container.issuance.store.refunds(None if status_ == "all" else [status_], limit=10_000)
    return [RefundPublic(seq=int(r.seq), source=r.source, source_seq=int(r.source_seq), currency=r.fiat,
                         amount_minor=int(r.amount_minor), creditor_name=r.creditor_name,
                         creditor_account=r.creditor_account, status=r.status, file_name=r.file_name,
                         created_at_ns=int(r.created_at_ns)) for r in rows]


@router.post("/refunds", status_code=status.HTTP_202_ACCEPTED)
def request_refund(body: RefundRequest, container: ContainerDep,
                   principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, COMPLIANCE, ADMIN,
                                                                   scope="issuance:write"))]) -> dict[str, Any]:
    """Ask a second person to send a suspense credit or a held subscription back to the account that paid it
    (approval `refund`, 202); once approved its pain.001 is written and the reserve cash held until the bank pays."""
    from bauhinia.domain import banking as bnk
    from bauhinia.services import refunds

    creditor = None if body.to is None else bnk.Party(body.to.name, bnk.AccountId(body.to.account, "OTHR"),
                                                      body.to.bic)
    approval = refunds.request_refund(container.issuance, body.source, body.seq, body.reason,
                                      maker=principal.subject, creditor=creditor)
    return {"source": body.source, "seq": body.seq, "approval": approval}


class PayoutRetryRequest(BaseModel):
    reason: Text = Field(min_length=3, max_length=500, description="why it can be paid now")
    bank_account: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ./-]+$",
                                     description="one of the customer's verified accounts (default: the one the "
                                                 "returned payout was sent to)")


@router.post("/redemptions/{seq}/payout-retry", status_code=status.HTTP_202_ACCEPTED)
def request_payout_retry(seq: Annotated[int, Path(ge=1, le=int64_max)], body: PayoutRetryRequest,
                         container: ContainerDep,
                         principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, ADMIN,
                                                                         scope="issuance:write"))]) -> dict[str, Any]:
    """Ask a second person (approval `payout_retry`, 202) to pay again a redemption whose payout the payee's bank
    returned; once approved the next payout run instructs it to the account named."""
    from bauhinia.services import payout_returns

    approval = payout_returns.request_payout_retry(container.issuance, seq, body.reason, maker=principal.subject,
                                                   bank_account=body.bank_account)
    return {"redemption": seq, "approval": approval}


class HoldReleaseRequest(BaseModel):
    reason: Text = Field(min_length=3, max_length=500, description="what the case review found")
    case: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


@router.post("/subscriptions/{seq}/release-hold", status_code=status.HTTP_202_ACCEPTED)
def release_hold(seq: Seq, body: HoldReleaseRequest, container: ContainerDep,
                 principal: Annotated[Principal, Depends(require(COMPLIANCE, ADMIN, scope="issuance:write"))]
                 ) -> dict[str, Any]:
    """Ask a second compliance officer to let a deposit the payer check held be minted (approval
    `payer_hold_release`, 202); 409 when the subscription is not held by the payer check."""
    approval = svc.request_payer_hold_release(container.issuance, seq, body.reason, maker=principal.subject,
                                              case_id=body.case)
    return {"subscription": seq, "approval": approval}


class RunRequest(BaseModel):
    currency: FiatCode


class MintRunPublic(BaseModel):
    batches: int
    minted: int
    held: int
    minted_base_units: int
    refused: list[str]


@router.post("/mint-runs", response_model=MintRunPublic)
def run_mint(body: RunRequest, container: ContainerDep,
             principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, ADMIN, scope="issuance:write"))]
             ) -> MintRunPublic:
    """Mint every subscription that is ready (cleared customer, verified wallet, covered by the reserve)."""
    # The run's actor is the caller: a large mint's approval names it as the maker, so it cannot approve it.
    rep = controls.run_mint(container.issuance, _fiat(body.currency), principal.actor)
    return MintRunPublic(batches=rep.batches, minted=rep.minted, held=rep.held,
                         minted_base_units=rep.minted_base_units, refused=rep.refused)


# --- redemptions -----------------------------------------------------------------------------------------


class RedemptionCreate(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    currency: FiatCode
    amount_minor: Minor = Field(gt=0, le=int64_max // 10_000)
    wallet: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    bank_account: str = Field(min_length=1, max_length=64)


class RedemptionPublic(BaseModel):
    seq: int
    customer_id: str
    currency: str
    amount_minor: int
    fee_minor: int
    payout_minor: int
    status: str
    send_coins_to: str | None
    amount_base_units_to_send: int
    deadline_ns: int | None
    history: list[dict[str, Any]]


def _red_public(container: Any, r: Any, with_history: bool = False) -> RedemptionPublic:
    ctx = container.issuance
    hist = [{"from": t.from_status, "to": t.to_status, "at_ns": t.at_ns, "reason": t.reason}
            for t in ctx.store.transitions("redemption", r.seq)] if with_history else []
    send_to = ctx.chains[Currency(r.fiat)].redemption_address if r.status == "awaiting_coins" else None
    return RedemptionPublic(seq=r.seq, customer_id=r.customer_id, currency=r.fiat, amount_minor=r.amount_minor,
                            fee_minor=r.fee_minor, payout_minor=r.amount_minor - r.fee_minor, status=r.status,
                            send_coins_to=send_to, amount_base_units_to_send=minor_to_base_units(r.amount_minor),
                            deadline_ns=r.deadline_ns, history=hist)


@router.post("/redemptions", status_code=status.HTTP_201_CREATED, response_model=RedemptionPublic,
             openapi_extra={SERVICE_KEYED: True})
def request_redemption(body: RedemptionCreate, container: ContainerDep, response: Response,
                       idempotency_key: Annotated[str, Depends(idempotency_header)],
                       principal: Annotated[Principal, Depends(require(CUSTOMER, OPERATOR, ADMIN,
                                                                       scope="issuance:write"))]) -> RedemptionPublic:
    """Ask to redeem coins at par; the answer says where to send them. Paid by the end of the next HK business
    day after the coins arrive. The Idempotency-Key is kept with the request in one transaction: a repeat answers
    with the redemption as it is now (header Idempotent-Replayed: true); another request under the key is a 409."""
    own_customer(principal, body.customer_id)
    fiat = _fiat(body.currency)
    key = f"{principal.client_id}:{idempotency_key}"
    r, replayed = svc.request_redemption_keyed(
        container.issuance,
        iss.RedemptionRequest(body.customer_id, fiat.coin, body.amount_minor, body.wallet, body.bank_account,
                              key[:120]),
        actor=principal.subject, via={"via": "api", "idempotency_key": idempotency_key})
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
        return _red_public(container, r, with_history=True)
    # Just recorded: its history is the one transition written with it (no read needed).
    out = _red_public(container, r)
    out.history = [{"from": None, "to": r.status, "at_ns": r.requested_at_ns, "reason": r.idempotency_key}]
    return out


@router.get("/redemptions", response_model=Page[RedemptionPublic])
def list_redemptions(container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
                     principal: Annotated[Principal, Depends(require(CUSTOMER, *STAFF_READ, scope="issuance:read"))]
                     ) -> dict[str, Any]:
    cid = principal.customer_id if principal.is_customer_only else None
    rows = container.issuance.store.redemptions(limit=pg.limit + 1, customer_id=cid, after_seq=int(pg.after or 0))
    if principal.is_customer_only and cid is None:
        rows = []
    return page([_red_public(container, r) for r in rows], pg.limit, key=lambda r: r.seq)


@router.get("/redemptions/{seq}", response_model=RedemptionPublic)
def get_redemption(seq: Seq, container: ContainerDep,
                   principal: Annotated[Principal, Depends(require(CUSTOMER, *STAFF_READ, scope="issuance:read"))]
                   ) -> RedemptionPublic:
    r = container.issuance.store.redemption(seq)
    if principal.is_customer_only and r.customer_id != principal.customer_id:
        raise NotFoundError(f"redemption {seq} not found", code="redemption_not_found")
    return _red_public(container, r, with_history=True)


class RedemptionRunPublic(BaseModel):
    burned: int
    unmatched: int
    payout_files: list[str]


@router.post("/redemption-runs", response_model=RedemptionRunPublic)
def run_redemptions(body: RunRequest, container: ContainerDep,
                    principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, ADMIN,
                                                                    scope="issuance:write"))]) -> RedemptionRunPublic:
    """Match coins received to requests, burn them, book the entry and write the payout file."""
    rep = svc.run_redemptions(container.issuance, _fiat(body.currency))
    return RedemptionRunPublic(burned=rep.burned, unmatched=rep.unmatched, payout_files=rep.payout_files)


class DeadlinePublic(BaseModel):
    seq: int
    customer_id: str
    currency: str
    status: str
    amount_minor: int
    age_s: int
    time_left_s: int
    deadline: datetime
    level: str


@router.get("/redemption-deadlines", response_model=list[DeadlinePublic])
def redemption_deadlines(container: ContainerDep,
                         principal: Annotated[Principal, Depends(require(*STAFF_READ, scope="issuance:read"))]
                         ) -> list[DeadlinePublic]:
    """Every unpaid valid redemption with its age and time left to the payout deadline."""
    return [DeadlinePublic(seq=a.seq, customer_id=a.customer_id, currency=a.fiat, status=a.status,
                           amount_minor=a.amount_minor, age_s=a.age_s, time_left_s=a.time_left_s,
                           deadline=a.deadline, level=a.level) for a in svc.redemption_tracker(container.issuance)]


class RecoverRequest(BaseModel):
    reason: Text = Field(min_length=3, max_length=300)


@router.post("/issuance/recover")
def recover(body: RecoverRequest, container: ContainerDep,
            principal: Annotated[Principal, Depends(require(OPERATOR, ADMIN, scope="issuance:write"))]
            ) -> dict[str, int]:
    """Re-drive every flow from what was committed (after a crash); idempotent."""
    return svc.recover(container.issuance)
