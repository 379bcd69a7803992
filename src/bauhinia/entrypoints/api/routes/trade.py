"""Cross-border trade settlement: trade parties, invoices paid through escrow (issue, accept, fund, release,
refund, dispute), firm CNH/HKD quotes and their atomic swaps, and the trade report.

Who acts for whom: a party is an issuance customer (party id = customer id) on one of its verified wallets. A
customer only sees and acts on invoices and quotes where it is a party (others answer 404). Staff act for the
issuer: its documents agent releases (or decides disputes) against the document hash, its treasury makes quotes.
Funding by EIP-3009 authorisation needs no key here: the importer signs the typed data from
`GET .../funding-authorization` with its own wallet and posts the signature; the relayer submits it. Steps a
party must submit itself on chain (a permit lock, the importer's own release, a taker's swap) need that party's
key in this process (custodial wallets, and the embedded chain's demo customers); otherwise they are refused
with `no_key` and the chain is untouched.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field

from bauhinia.domain import settlement as st
from bauhinia.domain.errors import ForbiddenError, NotFoundError, RefusedError, ValidationError
from bauhinia.domain.limits import int64_max
from bauhinia.domain.money import Currency
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
from bauhinia.entrypoints.api.schemas import ApiDate, BaseUnits, Minor, Name, StrictCount, Text
from bauhinia.services import settlement as svc

router = APIRouter(prefix="/trade", route_class=IdempotentRoute, tags=["trade"])

ALL = (CUSTOMER, OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
STAFF_READ = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
ISSUER_TREASURY = "issuer-treasury"
PartyIdText = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
InvoiceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,34}$")]
QuoteId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Hash32 = Annotated[str, Field(pattern=r"^(0x)?[0-9a-fA-F]{64}$")]
Signature = Annotated[str, Field(pattern=r"^(0x)?[0-9a-fA-F]{130}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]

READ = Depends(require(*ALL, scope="trade:read"))
STAFF_ONLY_READ = Depends(require(*STAFF_READ, scope="trade:read"))
PARTY_WRITE = Depends(require(CUSTOMER, OPERATOR, ADMIN, scope="trade:write"))


# --- parties -----------------------------------------------------------------------------------------------


class PartyCreate(BaseModel):
    customer_id: PartyIdText
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2: CN (mainland), HK, ...")
    wallet: Address


class PartyPublic(BaseModel):
    party_id: str
    name: str
    country: str
    address: str
    screening: str


@router.post("/parties", status_code=status.HTTP_201_CREATED, response_model=PartyPublic)
def register_party(body: PartyCreate, container: ContainerDep,
                   principal: Annotated[Principal, Depends(require(OPERATOR, COMPLIANCE, ADMIN,
                                                                   scope="trade:write"))]) -> PartyPublic:
    """Make a cleared customer a trade party on one of its verified wallets, screened (names and wallet)."""
    store = container.issuance.store
    customer = store.customer(body.customer_id)
    customer.require_cleared()
    wallet = body.wallet.lower()
    if not any(w.address == wallet for w in store.wallets(customer.id)):
        raise RefusedError(f"{body.wallet} is not a verified wallet of {customer.id}", code="wallet_not_verified")
    party = svc.register_party(container.settlement, customer.id, customer.name, body.country, wallet)
    return PartyPublic(party_id=party.party_id, name=party.name, country=party.country, address=party.address,
                       screening="clear")


# --- invoices ----------------------------------------------------------------------------------------------


class LineItemBody(BaseModel):
    description: Name = Field(min_length=1, max_length=st.line_item_description_length_max)
    quantity: StrictCount = Field(gt=0, le=int64_max)
    amount_minor: Minor = Field(gt=0, le=int64_max // 10_000)


class InvoiceCreate(BaseModel):
    invoice_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,34}$")
    exporter_id: PartyIdText
    importer_id: PartyIdText
    currency: str = Field(pattern=r"^(CNH|HKD)$")
    due_date: ApiDate
    line_items: list[LineItemBody] = Field(min_length=1, max_length=st.line_items_max)
    bill_of_lading_hash: Hash32
    packing_list_hash: Hash32
    documents_agent: bool = Field(default=True, description="appoint the issuer's documents agent")


class TransitionPublic(BaseModel):
    sequence: int
    from_state: str | None
    to_state: str
    actor: str
    at_ns: int
    reason: str
    reference: str


class InvoicePublic(BaseModel):
    invoice_id: str
    exporter_id: str
    importer_id: str
    corridor: str
    currency: str
    amount_minor: int
    amount_base_units: int
    due_date: date
    line_items: list[LineItemBody]
    documents_hash: str
    escrow_id: str
    agent_address: str | None
    escrow_expiry_s: int | None
    state: str
    history: list[TransitionPublic] = []


def _invoice_public(inv: st.TradeInvoice, history: list[st.TransitionRecord] | None = None) -> InvoicePublic:
    return InvoicePublic(
        invoice_id=inv.invoice_id, exporter_id=inv.exporter.party_id, importer_id=inv.importer.party_id,
        corridor=inv.corridor.value, currency=inv.currency.value, amount_minor=inv.amount_minor,
        amount_base_units=inv.amount_base_units, due_date=inv.due_date,
        line_items=[LineItemBody(description=i.description, quantity=i.quantity, amount_minor=i.amount_minor)
                    for i in inv.line_items],
        documents_hash=inv.documents_hash, escrow_id=inv.escrow_id, agent_address=inv.agent_address,
        escrow_expiry_s=inv.escrow_expiry_s, state=inv.state.value,
        history=[TransitionPublic(sequence=r.sequence, from_state=r.from_state.value if r.from_state else None,
                                  to_state=r.to_state.value, actor=r.actor, at_ns=r.at_ns, reason=r.reason,
                                  reference=r.reference) for r in history or []])


def _visible_invoice(container: Any, principal: Principal, invoice_id: str) -> st.TradeInvoice:
    """The invoice, read from the store (no chain needed); 404 for customers who are not a party to it."""
    inv: st.TradeInvoice | None = container.settlement_store.get_invoice(invoice_id)
    if inv is None or (principal.is_customer_only and principal.customer_id not in (inv.exporter.party_id,
                                                                                     inv.importer.party_id)):
        raise NotFoundError(f"no invoice {invoice_id!r}", code="invoice_not_found")
    return inv


def _acting_as(principal: Principal, inv: st.TradeInvoice, *roles: str) -> None:
    """A customer acts on an invoice only in the role the step needs (importer or exporter)."""
    if not principal.is_customer_only:
        return
    ids = {"importer": inv.importer.party_id, "exporter": inv.exporter.party_id}
    if principal.customer_id not in {ids[r] for r in roles}:
        raise ForbiddenError(f"only the {' or '.join(roles)} takes this step", code="not_your_role")


@router.post("/invoices", status_code=status.HTTP_201_CREATED, response_model=InvoicePublic)
def issue_invoice(body: InvoiceCreate, container: ContainerDep,
                  principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """The exporter issues an invoice to the importer (both registered, screened trade parties)."""
    if principal.is_customer_only:
        own_customer(principal, body.exporter_id)
    _party(container, body.exporter_id)  # from the store first: nothing touches the chain for unknown parties
    _party(container, body.importer_id)
    deps = container.settlement
    inv = svc.issue_invoice(
        deps, invoice_id=body.invoice_id, exporter_id=body.exporter_id, importer_id=body.importer_id,
        currency=Currency(body.currency), due_date=body.due_date,
        line_items=[(i.description, i.quantity, i.amount_minor) for i in body.line_items],
        bill_of_lading_hash=body.bill_of_lading_hash, packing_list_hash=body.packing_list_hash,
        agent_address=deps.chain.agent.address if body.documents_agent and deps.chain.agent else None)
    return _invoice_public(inv, deps.store.history(inv.invoice_id))


@router.get("/invoices", response_model=Page[InvoicePublic])
def list_invoices(container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
                  principal: Annotated[Principal, READ],
                  state: Annotated[str | None, Query(pattern=r"^(issued|accepted|funded|released|refunded|"
                                                             r"disputed)$")] = None) -> dict[str, Any]:
    """Invoices in issue order (cursor pagination); a customer sees those where it is a party."""
    after = None
    if pg.after is not None:
        if not (isinstance(pg.after, list) and len(pg.after) == 2 and isinstance(pg.after[0], int)
                and isinstance(pg.after[1], str)):
            raise ValidationError("the cursor is not one this API issued", code="bad_cursor")
        after = (pg.after[0], pg.after[1])
    party = principal.customer_id or "" if principal.is_customer_only else None
    rows = container.settlement_store.list_invoices(state, pg.limit + 1, party_id=party, after=after)
    out = page(rows, pg.limit, key=lambda i: [i.issued_at_ns, i.invoice_id])
    out["items"] = [_invoice_public(i) for i in out["items"]]
    return out


@router.get("/invoices/{invoice_id}", response_model=InvoicePublic)
def get_invoice(invoice_id: InvoiceId, container: ContainerDep,
                principal: Annotated[Principal, READ]) -> InvoicePublic:
    """An invoice with its audit trail (checked to replay to its state)."""
    inv = _visible_invoice(container, principal, invoice_id)
    history = container.settlement_store.history(invoice_id)
    st.check_history(inv, history)
    return _invoice_public(inv, history)


@router.post("/invoices/{invoice_id}/accept", response_model=InvoicePublic)
def accept_invoice(invoice_id: InvoiceId, container: ContainerDep,
                   principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """The importer accepts the invoice (amount, items and the documents it names)."""
    inv = _visible_invoice(container, principal, invoice_id)
    _acting_as(principal, inv, "importer")
    return _invoice_public(svc.accept_invoice(container.settlement, invoice_id, inv.importer.address))


class FundingAuthorizationPublic(BaseModel):
    escrow_expiry_s: int
    typed_data: dict[str, Any]


@router.get("/invoices/{invoice_id}/funding-authorization", response_model=FundingAuthorizationPublic)
def funding_authorization(invoice_id: InvoiceId, container: ContainerDep,
                          principal: Annotated[Principal, READ]) -> FundingAuthorizationPublic:
    """The EIP-712 typed data (EIP-3009 ReceiveWithAuthorization) the importer signs with its own wallet to
    fund the escrow; its nonce fixes the escrow's terms. Post the signature and the expiry to `fund`."""
    inv = _visible_invoice(container, principal, invoice_id)
    _acting_as(principal, inv, "importer")
    expiry_s, typed = svc.funding_authorization(container.settlement, invoice_id)
    return FundingAuthorizationPublic(escrow_expiry_s=expiry_s, typed_data=typed)


class FundRequest(BaseModel):
    method: str = Field(default="authorization", pattern=r"^(authorization|permit)$")
    escrow_expiry_s: StrictCount | None = Field(default=None, gt=0, le=2**40)
    valid_after: StrictCount | None = Field(default=None, ge=0, le=2**40)
    valid_before: StrictCount | None = Field(default=None, gt=0, le=2**40)
    signature: Signature | None = Field(default=None, description="the importer's EIP-3009 signature")


@router.post("/invoices/{invoice_id}/fund", response_model=InvoicePublic)
def fund_invoice(invoice_id: InvoiceId, body: FundRequest, container: ContainerDep,
                 principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """Lock the invoice's coins in escrow: with the importer's signed EIP-3009 authorisation (relayed), or
    signed here for a custodial importer (authorization or permit)."""
    inv = _visible_invoice(container, principal, invoice_id)
    _acting_as(principal, inv, "importer")
    auth = None
    if body.signature is not None:
        if body.valid_after is None or body.valid_before is None or body.escrow_expiry_s is None:
            raise ValidationError("a signed authorisation comes with valid_after, valid_before and escrow_expiry_s",
                                  code="authorization_incomplete")
        auth = svc.SignedAuthorization(body.valid_after, body.valid_before, body.signature)
    new = svc.fund_invoice(container.settlement, invoice_id, method=body.method,
                           escrow_expiry_s=body.escrow_expiry_s, authorization=auth)
    return _invoice_public(new)


class ReleaseRequest(BaseModel):
    documents_hash: Hash32 = Field(description="the commitment of the documents presented (see documents_hash)")


@router.post("/invoices/{invoice_id}/release", response_model=InvoicePublic)
def release_invoice(invoice_id: InvoiceId, body: ReleaseRequest, container: ContainerDep,
                    principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """Accept the documents and pay the exporter: the importer (a customer) or the issuer's documents agent
    (staff). A hash that does not match the one locked is refused and nothing moves."""
    inv = _visible_invoice(container, principal, invoice_id)
    _acting_as(principal, inv, "importer")
    deps = container.settlement
    actor = inv.importer.address if principal.is_customer_only else _agent(deps, inv)
    return _invoice_public(svc.release_invoice(deps, invoice_id, actor, body.documents_hash))


def _agent(deps: Any, inv: st.TradeInvoice) -> str:
    agent = deps.chain.agent
    if agent is None or inv.agent_address is None or agent.address.lower() != inv.agent_address:
        raise RefusedError(f"the issuer's documents agent is not appointed on {inv.invoice_id}", code="no_agent")
    return str(agent.address)


@router.post("/invoices/{invoice_id}/refund", response_model=InvoicePublic)
def refund_invoice(invoice_id: InvoiceId, container: ContainerDep,
                   principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """Return the coins to the importer: anyone once the escrow expired (the relayer submits), or the agent's
    decision on a disputed invoice (staff)."""
    inv = _visible_invoice(container, principal, invoice_id)
    deps = container.settlement
    actor = _agent(deps, inv) if inv.state is st.InvoiceState.DISPUTED and not principal.is_customer_only else None
    return _invoice_public(svc.refund_invoice(deps, invoice_id, actor))


class DisputeRequest(BaseModel):
    party_id: PartyIdText = Field(description="the importer or the exporter disputing")
    reason: Text = Field(min_length=1, max_length=st.dispute_reason_length_max)


@router.post("/invoices/{invoice_id}/dispute", response_model=InvoicePublic)
def dispute_invoice(invoice_id: InvoiceId, body: DisputeRequest, container: ContainerDep,
                    principal: Annotated[Principal, PARTY_WRITE]) -> InvoicePublic:
    """The importer or the exporter disputes a funded invoice; the issuer's agent then decides."""
    inv = _visible_invoice(container, principal, invoice_id)
    if principal.is_customer_only:
        own_customer(principal, body.party_id)
    party = {inv.importer.party_id: inv.importer, inv.exporter.party_id: inv.exporter}.get(body.party_id)
    if party is None:
        raise RefusedError(f"{body.party_id} is not a party to {invoice_id}", code="not_a_party")
    return _invoice_public(svc.dispute_invoice(container.settlement, invoice_id, party.address, body.reason))


# --- quotes and swaps --------------------------------------------------------------------------------------


class QuoteCreate(BaseModel):
    taker_id: PartyIdText
    maker_id: PartyIdText = Field(default=ISSUER_TREASURY, description="the issuer's treasury or a party")
    taker_currency: str = Field(pattern=r"^(CNH|HKD)$", description="what the taker pays")
    taker_amount_base_units: BaseUnits = Field(gt=0, le=int64_max)
    rate: str = Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$",
                      description="one unit of the taker's currency in the maker's, e.g. 0.9213")
    rounding: str = Field(default="down", pattern=r"^(down|up|half_even)$")
    ttl_s: StrictCount = Field(default=60, ge=st.quote_ttl_s_min, le=st.quote_ttl_s_max)


class QuotePublic(BaseModel):
    quote_id: str
    maker: str
    taker: str
    maker_currency: str
    maker_amount_base_units: int
    taker_currency: str
    taker_amount_base_units: int
    rate_numerator: int
    rate_denominator: int
    created_at_s: int
    expiry_s: int
    status: str
    detail: str
    signature: str


def _quote_public(q: st.Quote, signature: str, status_: str, detail: str) -> QuotePublic:
    return QuotePublic(quote_id=q.quote_id, maker=q.maker, taker=q.taker, maker_currency=q.maker_coin.value,
                       maker_amount_base_units=q.maker_amount_base_units, taker_currency=q.taker_coin.value,
                       taker_amount_base_units=q.taker_amount_base_units, rate_numerator=q.rate.numerator,
                       rate_denominator=q.rate.denominator, created_at_s=q.created_at_s, expiry_s=q.expiry_s,
                       status=status_, detail=detail, signature=signature)


def _party(container: Any, party_id: str) -> st.TradeParty:
    party: st.TradeParty | None = container.settlement_store.get_party(party_id)
    screening = container.settlement_store.party_screening(party_id)
    if party is None or screening is None:
        raise NotFoundError(f"no trade party {party_id!r}", code="party_not_found")
    if screening[0] != "clear":
        raise RefusedError(f"party {party_id} is not clear to trade", code="screening_not_clear")
    return party


def _treasury(container: Any) -> st.TradeParty:
    """The issuer's treasury as a trade party (registered, screened, on first use)."""
    deps = container.settlement
    if deps.chain.treasury is None:
        raise RefusedError("no treasury key in this process", code="no_key")
    found = deps.store.get_party(ISSUER_TREASURY)
    if found is not None and found.address == deps.chain.treasury.address.lower():
        return _party(container, ISSUER_TREASURY)
    return svc.register_party(deps, ISSUER_TREASURY, container.settings.issuer_name[:140], "HK",
                              deps.chain.treasury.address)


@router.post("/quotes", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def create_quote(body: QuoteCreate, container: ContainerDep,
                 principal: Annotated[Principal, Depends(require(CUSTOMER, OPERATOR, TREASURY, ADMIN,
                                                                 scope="trade:write"))]) -> QuotePublic:
    """A firm quote signed by the maker (the issuer's treasury, or a customer quoting as maker itself), with
    an expiry: the taker pays `taker_amount_base_units` and receives the other coin at `rate`."""
    if principal.is_customer_only:
        own_customer(principal, body.maker_id)
    taker = _party(container, body.taker_id)
    maker = _treasury(container) if body.maker_id == ISSUER_TREASURY else _party(container, body.maker_id)
    quote, sig = svc.create_quote(container.settlement, maker=maker.address, taker=taker.address,
                                  taker_coin=Currency(body.taker_currency),
                                  taker_amount_base_units=body.taker_amount_base_units, rate=body.rate,
                                  rounding=st.Rounding(body.rounding), ttl_s=body.ttl_s)
    return _quote_public(quote, sig, "open", "")


def _visible_quote(container: Any, principal: Principal, quote_id: str) -> tuple[st.Quote, str, str, str]:
    found = container.settlement_store.get_quote(quote_id)
    if found is not None and principal.is_customer_only:
        mine = container.settlement_store.get_party(principal.customer_id or "")
        if mine is None or mine.address not in (found[0].maker, found[0].taker):
            found = None
    if found is None:
        raise NotFoundError(f"no quote {quote_id!r}", code="quote_not_found")
    return found  # type: ignore[no-any-return]


@router.get("/quotes/{quote_id}", response_model=QuotePublic)
def get_quote(quote_id: QuoteId, container: ContainerDep, principal: Annotated[Principal, READ]) -> QuotePublic:
    return _quote_public(*_visible_quote(container, principal, quote_id))


class SwapCreate(BaseModel):
    quote_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class SwapPublic(BaseModel):
    quote_id: str
    tx_hash: str
    maker_currency: str
    maker_amount_base_units: int
    taker_currency: str
    taker_amount_base_units: int


@router.post("/swaps", status_code=status.HTTP_201_CREATED, response_model=SwapPublic)
def settle_swap(body: SwapCreate, container: ContainerDep,
                principal: Annotated[Principal, Depends(require(CUSTOMER, OPERATOR, TREASURY, ADMIN,
                                                                scope="trade:write"))]) -> SwapPublic:
    """Settle a quote: both legs in one transaction or neither (an expired quote, a frozen party or a balance
    too low refuses the whole swap and leaves both sides unchanged)."""
    quote = _visible_quote(container, principal, body.quote_id)[0]
    if principal.is_customer_only:
        mine = container.settlement_store.get_party(principal.customer_id or "")
        if mine is None or mine.address != quote.taker:
                raise ForbiddenError("only the taker settles a quote", code="not_taker")
    countries = {}
    for address in (quote.maker, quote.taker):
        found = container.settlement_store.parties_by_address(address)
        if found:
            countries[address] = found[0].country
    result = svc.settle_swap(container.settlement, body.quote_id, countries=countries)
    q = result.quote
    return SwapPublic(quote_id=q.quote_id, tx_hash=result.tx_hash, maker_currency=q.maker_coin.value,
                      maker_amount_base_units=q.maker_amount_base_units, taker_currency=q.taker_coin.value,
                      taker_amount_base_units=q.taker_amount_base_units)


# --- report ------------------------------------------------------------------------------------------------


class TradeReportPublic(BaseModel):
    payments: int
    active_holders: int
    volume_by_corridor: dict[str, dict[str, int]]
    volume_by_currency: dict[str, int]
    volume_by_month: dict[str, dict[str, int]]
    velocity_milli: dict[str, int]


@router.get("/report", response_model=TradeReportPublic)
def trade_report(container: ContainerDep, principal: Annotated[Principal, STAFF_ONLY_READ],
                 start_ns: Annotated[int, Query(ge=0, le=int64_max)] = 0,
                 end_ns: Annotated[int, Query(ge=0, le=int64_max)] = int64_max) -> TradeReportPublic:
    """Settled volume (base units) by corridor, coin and month; active holders; velocity per coin (volume over
    outstanding supply, thousandths)."""
    supply = {coin: int(container.chains.for_coin(coin).status().total_supply_base_units)
              for coin in (Currency.BCNH, Currency.BHKD)}
    f = st.trade_figures(container.settlement_store.list_payments(start_ns, end_ns), supply)
    return TradeReportPublic(payments=f.payments, active_holders=f.active_holders,
                             volume_by_corridor=f.volume_by_corridor, volume_by_currency=f.volume_by_currency,
                             volume_by_month=f.volume_by_month, velocity_milli=f.velocity_milli)
