"""Cross-border trade settlement: trade invoices paid through escrow, firm quotes for CNH/HKD swaps, corridors,
and the figures of the trade report. Pure: the caller passes the time (`now_ns`, `now_s`) and the ids.

An invoice's life:

    issued --accept--> accepted --fund--> funded --release--> released
                                            |  \\--refund---> refunded   (after the escrow's expiry)
                                            \\--dispute--> disputed --release | refund (the agent decides)

Every transition returns the new invoice (a new frozen value) and a `TransitionRecord` for the audit trail.
Who may do what mirrors the escrow contract: the importer accepts and funds; the importer or the appointed
agent releases (presenting the document hash that was locked); anyone refunds an expired escrow; either party
disputes, after which only the agent releases or refunds.

Amounts: invoices are in fiat minor units (CNH fen, HKD cents) and are paid in the matching coin at par
(`minor_to_base_units`); quotes are in token base units with the rate an exact integer ratio.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from bauhinia.domain.chain import normalise_address
from bauhinia.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvariantViolation,
    RefusedError,
    ValidationError,
)
from bauhinia.domain.limits import int64_max
from bauhinia.domain.money import Currency, minor_to_base_units

NS_PER_S = 1_000_000_000

# Limits of this capability (units last).
invoice_id_length_max: int = 35  # it travels as the ISO 20022 referred document number (Max35Text)
line_items_max: int = 200
line_item_description_length_max: int = 140
party_name_length_max: int = 140
escrow_duration_s_min: int = 3600
escrow_duration_s_max: int = 2 * 366 * 24 * 3600  # the contract's EXPIRY_MAX_S
quote_ttl_s_min: int = 5
quote_ttl_s_max: int = 3600
rate_term_max: int = 10**12
dispute_reason_length_max: int = 500

_INVOICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_/.]{0,34}")
_HEX32 = re.compile(r"[0-9a-f]{64}")
MAINLAND = "CN"
HONG_KONG = "HK"


class InvoiceState(StrEnum):
    ISSUED = "issued"
    ACCEPTED = "accepted"
    FUNDED = "funded"
    RELEASED = "released"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


TRANSITIONS: Mapping[InvoiceState, frozenset[InvoiceState]] = {
    InvoiceState.ISSUED: frozenset({InvoiceState.ACCEPTED}),
    InvoiceState.ACCEPTED: frozenset({InvoiceState.FUNDED}),
    InvoiceState.FUNDED: frozenset({InvoiceState.RELEASED, InvoiceState.REFUNDED, InvoiceState.DISPUTED}),
    InvoiceState.DISPUTED: frozenset({InvoiceState.RELEASED, InvoiceState.REFUNDED}),
    InvoiceState.RELEASED: frozenset(),
    InvoiceState.REFUNDED: frozenset(),
}
# States in which coins sit in the escrow contract.
ESCROWED_STATES = frozenset({InvoiceState.FUNDED, InvoiceState.DISPUTED})


class Corridor(StrEnum):
    """The direction of a payment: the payer's jurisdiction, then the payee's."""

    MAINLAND_TO_HK = "CN->HK"
    HK_TO_MAINLAND = "HK->CN"
    WITHIN_HK = "HK->HK"
    WITHIN_MAINLAND = "CN->CN"
    OTHER = "other"


def classify_corridor(payer_country: str, payee_country: str) -> Corridor:
    """Mainland China (CN) and Hong Kong (HK), by ISO 3166 alpha-2 code; anything else is OTHER."""
    payer, payee = payer_country.strip().upper(), payee_country.strip().upper()
    table = {
        (MAINLAND, HONG_KONG): Corridor.MAINLAND_TO_HK,
        (HONG_KONG, MAINLAND): Corridor.HK_TO_MAINLAND,
        (HONG_KONG, HONG_KONG): Corridor.WITHIN_HK,
        (MAINLAND, MAINLAND): Corridor.WITHIN_MAINLAND,
    }
    return table.get((payer, payee), Corridor.OTHER)


def _check_int(value: object, what: str, *, positive: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {type(value).__name__}", code="bad_amount")
    if positive and value <= 0:
        raise ValidationError(f"{what} must be positive, got {value}", code="bad_amount")
    if abs(value) > int64_max:
        raise ValidationError(f"{what} is out of range", code="amount_too_large")
    return value


def document_hash(content: bytes) -> str:
    """The SHA-256 (hex) a shipping document is known by."""
    return hashlib.sha256(content).hexdigest()


def _check_hash(value: str, what: str) -> str:
    v = value.strip().lower().removeprefix("0x")
    if not _HEX32.fullmatch(v):
        raise ValidationError(f"{what} must be 32 bytes of hex (a SHA-256), got {value!r}", code="bad_hash")
    return v


def documents_commitment(bill_of_lading_hash: str, packing_list_hash: str) -> str:
    """The one 32-byte value the escrow locks for an invoice's documents (hex): SHA-256 over both hashes."""
    bl = bytes.fromhex(_check_hash(bill_of_lading_hash, "bill of lading hash"))
    pl = bytes.fromhex(_check_hash(packing_list_hash, "packing list hash"))
    return hashlib.sha256(b"bauhinia-trade-documents-v1" + bl + pl).hexdigest()


def escrow_key(invoice_id: str) -> str:
    """The escrow contract's 32-byte invoice id (hex) for an invoice number."""
    return hashlib.sha256(b"bauhinia-invoice-v1:" + invoice_id.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class TradeParty:
    party_id: str
    name: str
    country: str  # ISO 3166 alpha-2: CN (mainland), HK, ...
    address: str  # the party's chain address

    def __post_init__(self) -> None:
        if not self.party_id.strip() or len(self.party_id) > 64:
            raise ValidationError("a party id of 1..64 characters is required", code="bad_party")
        if not self.name.strip() or len(self.name) > party_name_length_max:
            raise ValidationError(f"a party name of 1..{party_name_length_max} characters is required",
                                  code="bad_party")
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise ValidationError(f"country must be an ISO 3166 alpha-2 code, got {self.country!r}",
                                  code="bad_party")
        object.__setattr__(self, "address", normalise_address(self.address))


@dataclass(frozen=True, slots=True)
class LineItem:
    description: str
    quantity: int
    amount_minor: int  # the line's total, in the invoice currency's minor units

    def __post_init__(self) -> None:
        if not self.description.strip() or len(self.description) > line_item_description_length_max:
            raise ValidationError(
                f"a line item description of 1..{line_item_description_length_max} characters is required",
                code="bad_line_item")
        _check_int(self.quantity, "quantity")
        _check_int(self.amount_minor, "line item amount_minor")


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One audited step of an invoice's life."""

    invoice_id: str
    sequence: int  # 1 for the issue, then +1 per transition
    from_state: InvoiceState | None
    to_state: InvoiceState
    actor: str  # a party id, an address, or "system"
    at_ns: int
    reason: str = ""
    reference: str = ""  # e.g. the chain transaction's idempotency key or hash


@dataclass(frozen=True, slots=True)
class TradeInvoice:
    invoice_id: str
    exporter: TradeParty  # the payee
    importer: TradeParty  # the payer
    currency: Currency  # CNH or HKD (fiat); paid in its coin
    amount_minor: int
    due_date: date
    line_items: tuple[LineItem, ...]
    bill_of_lading_hash: str
    packing_list_hash: str
    issued_at_ns: int
    state: InvoiceState = InvoiceState.ISSUED
    sequence: int = 1
    agent_address: str | None = None
    escrow_expiry_s: int | None = None  # set when funded
    updated_at_ns: int = 0
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.check_invariants()

    @property
    def coin(self) -> Currency:
        return self.currency.coin

    @property
    def amount_base_units(self) -> int:
        return minor_to_base_units(self.amount_minor)

    @property
    def documents_hash(self) -> str:
        return documents_commitment(self.bill_of_lading_hash, self.packing_list_hash)

    @property
    def escrow_id(self) -> str:
        return escrow_key(self.invoice_id)

    @property
    def corridor(self) -> Corridor:
        """The payment's corridor: the importer pays the exporter."""
        return classify_corridor(self.importer.country, self.exporter.country)

    def check_invariants(self) -> None:
        if not _INVOICE_ID.fullmatch(self.invoice_id):
            raise ValidationError(
                f"invoice id must be 1..{invoice_id_length_max} characters of letters, digits, - _ / . "
                f"(got {self.invoice_id!r})", code="bad_invoice_id")
        if self.currency not in (Currency.CNH, Currency.HKD):
            raise ValidationError(f"trade invoices are in CNH or HKD, not {self.currency}", code="bad_currency")
        if not 0 < len(self.line_items) <= line_items_max:
            raise ValidationError(f"an invoice has 1..{line_items_max} line items", code="bad_line_item")
        _check_int(self.amount_minor, "amount_minor")
        if self.exporter.party_id == self.importer.party_id or self.exporter.address == self.importer.address:
            raise ValidationError("exporter and importer must be different parties", code="same_party")
        total = sum(item.amount_minor for item in self.line_items)
        if total != self.amount_minor:
            raise ValidationError(
                f"line items sum to {total} minor units, the invoice total is {self.amount_minor}",
                code="line_items_mismatch")
        _check_hash(self.bill_of_lading_hash, "bill of lading hash")
        _check_hash(self.packing_list_hash, "packing list hash")
        if self.agent_address is not None:
            agent = normalise_address(self.agent_address)
            if agent == self.exporter.address:
                raise ValidationError("the agent cannot be the exporter", code="bad_agent")
        if self.state in ESCROWED_STATES and self.escrow_expiry_s is None:
            raise InvariantViolation(f"invoice {self.invoice_id} is {self.state} without an escrow expiry")
        if self.sequence < 1:
            raise InvariantViolation(f"invoice {self.invoice_id} has sequence {self.sequence}")


def issue_invoice(
    *,
    invoice_id: str,
    exporter: TradeParty,
    importer: TradeParty,
    currency: Currency,
    due_date: date,
    line_items: Sequence[LineItem],
    bill_of_lading_hash: str,
    packing_list_hash: str,
    now_ns: int,
    amount_minor: int | None = None,
    agent_address: str | None = None,
    actor: str | None = None,
) -> tuple[TradeInvoice, TransitionRecord]:
    """A new invoice (the exporter issues it). `amount_minor`, when given, must equal the line items' sum."""
    items = tuple(line_items)
    total = sum(item.amount_minor for item in items) if amount_minor is None else amount_minor
    invoice = TradeInvoice(
        invoice_id=invoice_id,
        exporter=exporter,
        importer=importer,
        currency=currency.fiat,
        amount_minor=total,
        due_date=due_date,
        line_items=items,
        bill_of_lading_hash=_check_hash(bill_of_lading_hash, "bill of lading hash"),
        packing_list_hash=_check_hash(packing_list_hash, "packing list hash"),
        issued_at_ns=now_ns,
        agent_address=normalise_address(agent_address) if agent_address else None,
        updated_at_ns=now_ns,
    )
    if due_date < datetime.fromtimestamp(now_ns // NS_PER_S, UTC).date():
        raise ValidationError(f"due date {due_date} is in the past", code="due_date_past")
    record = TransitionRecord(invoice_id, 1, None, InvoiceState.ISSUED, actor or exporter.party_id, now_ns,
                              "issued")
    return invoice, record


def _step(invoice: TradeInvoice, to: InvoiceState, actor: str, now_ns: int, reason: str, reference: str,
          **changes: object) -> tuple[TradeInvoice, TransitionRecord]:
    if to not in TRANSITIONS[invoice.state]:
        raise ConflictError(f"invoice {invoice.invoice_id} is {invoice.state}; it cannot become {to}",
                            code="bad_transition")
    if now_ns < invoice.updated_at_ns:
        raise ValidationError("time moved backwards for this invoice", code="clock_backwards")
    new = replace(invoice, state=to, sequence=invoice.sequence + 1, updated_at_ns=now_ns, **changes)  # type: ignore[arg-type]
    record = TransitionRecord(invoice.invoice_id, new.sequence, invoice.state, to, actor, now_ns, reason, reference)
    return new, record


def _is(actor_address: str, party_address: str | None) -> bool:
    return party_address is not None and normalise_address(actor_address) == party_address


def accept_invoice(invoice: TradeInvoice, *, actor_address: str, now_ns: int) -> tuple[TradeInvoice,
                                                                                          TransitionRecord]:
    """The importer accepts the invoice (its amount, items and the documents it names)."""
    if not _is(actor_address, invoice.importer.address):
        raise ForbiddenError("only the importer accepts an invoice", code="not_importer")
    return _step(invoice, InvoiceState.ACCEPTED, invoice.importer.party_id, now_ns, "accepted by the importer", "")


def fund_invoice(invoice: TradeInvoice, *, actor_address: str, escrow_expiry_s: int, now_ns: int,
                 reference: str = "") -> tuple[TradeInvoice, TransitionRecord]:
    """The importer locked the invoice's coins in escrow until `escrow_expiry_s` (Unix seconds)."""
    if not _is(actor_address, invoice.importer.address):
        raise ForbiddenError("only the importer funds an invoice", code="not_importer")
    _check_escrow_expiry(escrow_expiry_s, now_ns)
    return _step(invoice, InvoiceState.FUNDED, invoice.importer.party_id, now_ns, "coins locked in escrow",
                 reference, escrow_expiry_s=escrow_expiry_s)


def _check_escrow_expiry(escrow_expiry_s: int, now_ns: int) -> None:
    _check_int(escrow_expiry_s, "escrow expiry")
    duration_s = escrow_expiry_s - now_ns // NS_PER_S
    if not escrow_duration_s_min <= duration_s <= escrow_duration_s_max:
        raise ValidationError(
            f"an escrow lasts {escrow_duration_s_min}..{escrow_duration_s_max} s, asked {duration_s} s",
            code="bad_escrow_expiry")


def escrow_expiry_for(invoice: TradeInvoice, *, now_ns: int, grace_s: int = 7 * 24 * 3600) -> int:
    """The default escrow expiry: the end of the due date (UTC) plus a grace period, within the limits."""
    due_end_s = int(datetime(invoice.due_date.year, invoice.due_date.month, invoice.due_date.day,
                             tzinfo=UTC).timestamp()) + 24 * 3600
    now_s = now_ns // NS_PER_S
    return min(max(due_end_s + grace_s, now_s + escrow_duration_s_min), now_s + escrow_duration_s_max)


def release_invoice(invoice: TradeInvoice, *, actor_address: str, presented_documents_hash: str, now_ns: int,
                    reference: str = "") -> tuple[TradeInvoice, TransitionRecord]:
    """Accept the documents: the coins go to the exporter. The presented hash must be the one locked."""
    if invoice.state is InvoiceState.DISPUTED:
        if not _is(actor_address, invoice.agent_address):
            raise ForbiddenError("a disputed invoice is released by the agent only", code="agent_only")
        actor = "agent"
    else:
        if _is(actor_address, invoice.importer.address):
            actor = invoice.importer.party_id
        elif _is(actor_address, invoice.agent_address):
            actor = "agent"
        else:
            raise ForbiddenError("only the importer or the appointed agent accepts the documents",
                                 code="not_importer_or_agent")
        if invoice.state is InvoiceState.FUNDED and invoice.escrow_expiry_s is not None and \
                now_ns // NS_PER_S >= invoice.escrow_expiry_s:
            raise RefusedError(f"the escrow of {invoice.invoice_id} expired; it can only be refunded",
                               code="escrow_expired")
    presented = _check_hash(presented_documents_hash, "presented documents hash")
    if invoice.state in ESCROWED_STATES and presented != invoice.documents_hash:
        raise RefusedError(f"the documents presented for {invoice.invoice_id} do not match the ones locked",
                           code="documents_mismatch")
    return _step(invoice, InvoiceState.RELEASED, actor, now_ns, "documents accepted; paid to the exporter",
                 reference)


def refund_invoice(invoice: TradeInvoice, *, actor_address: str, now_ns: int, reference: str = ""
                   ) -> tuple[TradeInvoice, TransitionRecord]:
    """Return the coins to the importer: after the escrow's expiry, or by the agent's decision on a dispute."""
    if invoice.state is InvoiceState.DISPUTED:
        if not _is(actor_address, invoice.agent_address):
            raise ForbiddenError("a disputed invoice is refunded by the agent only", code="agent_only")
        return _step(invoice, InvoiceState.REFUNDED, "agent", now_ns, "agent decided the dispute: refund",
                     reference)
    if invoice.state is InvoiceState.FUNDED and invoice.escrow_expiry_s is not None and \
            now_ns // NS_PER_S < invoice.escrow_expiry_s:
        raise RefusedError(f"the escrow of {invoice.invoice_id} has not expired", code="escrow_not_expired")
    return _step(invoice, InvoiceState.REFUNDED, normalise_address(actor_address), now_ns,
                 "escrow expired: refunded to the importer", reference)


def dispute_invoice(invoice: TradeInvoice, *, actor_address: str, reason: str, now_ns: int, reference: str = ""
                    ) -> tuple[TradeInvoice, TransitionRecord]:
    """The importer or the exporter disputes a funded invoice; the agent then decides."""
    if _is(actor_address, invoice.importer.address):
        actor = invoice.importer.party_id
    elif _is(actor_address, invoice.exporter.address):
        actor = invoice.exporter.party_id
    else:
        raise ForbiddenError("only the importer or the exporter disputes an invoice", code="not_a_party")
    if invoice.agent_address is None:
        raise RefusedError("no agent is appointed to decide a dispute", code="no_agent")
    if not reason.strip() or len(reason) > dispute_reason_length_max:
        raise ValidationError(f"a reason of 1..{dispute_reason_length_max} characters is required",
                              code="bad_reason")
    if invoice.state is InvoiceState.FUNDED and invoice.escrow_expiry_s is not None and \
            now_ns // NS_PER_S >= invoice.escrow_expiry_s:
        raise RefusedError(f"the escrow of {invoice.invoice_id} expired", code="escrow_expired")
    return _step(invoice, InvoiceState.DISPUTED, actor, now_ns, reason.strip(), reference)


def check_history(invoice: TradeInvoice, records: Sequence[TransitionRecord]) -> None:
    """The audit trail must replay to the invoice's state: sequences 1..n, each step allowed."""
    if not records or records[0].to_state is not InvoiceState.ISSUED or records[0].from_state is not None:
        raise InvariantViolation(f"invoice {invoice.invoice_id}: the trail does not start with its issue")
    state = InvoiceState.ISSUED
    for i, rec in enumerate(records[1:], start=2):
        if rec.sequence != i or rec.from_state is not state or rec.to_state not in TRANSITIONS[state]:
            raise InvariantViolation(f"invoice {invoice.invoice_id}: step {i} ({rec.from_state} -> "
                                     f"{rec.to_state}) does not follow {state}")
        state = rec.to_state
    if state is not invoice.state or len(records) != invoice.sequence:
        raise InvariantViolation(f"invoice {invoice.invoice_id}: the trail ends at {state}, the invoice is "
                                 f"{invoice.state}")


# --- quotes ------------------------------------------------------------------------------------------------


class Rounding(StrEnum):
    DOWN = "down"  # toward zero: the maker never gives more than the exact amount
    UP = "up"
    HALF_EVEN = "half_even"


@dataclass(frozen=True, slots=True)
class Rate:
    """1 `base` = numerator / denominator `quote` (e.g. HKD->CNH 92/100: one HKD buys 0.92 CNH)."""

    base: Currency
    quote: Currency
    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        for term, what in ((self.numerator, "numerator"), (self.denominator, "denominator")):
            _check_int(term, f"rate {what}")
            if term > rate_term_max:
                raise ValidationError(f"rate {what} above {rate_term_max}", code="bad_rate")
        if self.base.fiat == self.quote.fiat:
            raise ValidationError("a rate is between two different currencies", code="bad_rate")

    def inverse(self) -> Rate:
        return Rate(self.quote, self.base, self.denominator, self.numerator)

    @classmethod
    def parse(cls, base: Currency, quote: Currency, text: str) -> Rate:
        """'0.9213' -> 9213/10000, exactly."""
        s = text.strip()
        whole, _, frac = s.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 12:
            raise ValidationError(f"not a rate: {text!r}", code="bad_rate")
        den = 10 ** len(frac)
        return cls(base, quote, int(whole) * den + (int(frac) if frac else 0), den)


def convert(amount: int, rate: Rate, rounding: Rounding) -> int:
    """`amount` of rate.base -> rate.quote (same unit scale on both sides), rounded as asked."""
    _check_int(amount, "amount")
    q, r = divmod(amount * rate.numerator, rate.denominator)
    if r == 0 or rounding is Rounding.DOWN:
        return q
    if rounding is Rounding.UP:
        return q + 1
    twice = 2 * r
    if twice > rate.denominator or (twice == rate.denominator and q % 2 == 1):
        return q + 1
    return q


@dataclass(frozen=True, slots=True)
class Quote:
    """A firm quote: the maker gives `maker_amount_base_units` of `maker_coin` for the taker's
    `taker_amount_base_units` of `taker_coin`, until `expiry_s` (Unix seconds, inclusive)."""

    quote_id: str
    maker: str
    taker: str
    maker_coin: Currency
    maker_amount_base_units: int
    taker_coin: Currency
    taker_amount_base_units: int
    rate: Rate
    rounding: Rounding
    created_at_s: int
    expiry_s: int
    nonce: str  # 32 bytes hex, unique per maker

    def __post_init__(self) -> None:
        if not self.quote_id or len(self.quote_id) > 64:
            raise ValidationError("a quote id of 1..64 characters is required", code="bad_quote")
        object.__setattr__(self, "maker", normalise_address(self.maker))
        object.__setattr__(self, "taker", normalise_address(self.taker))
        if self.maker == self.taker:
            raise ValidationError("maker and taker must differ", code="bad_quote")
        if {self.maker_coin, self.taker_coin} != {Currency.BCNH, Currency.BHKD}:
            raise ValidationError("a swap exchanges the CNH coin and the HKD coin", code="bad_quote")
        _check_int(self.maker_amount_base_units, "maker amount")
        _check_int(self.taker_amount_base_units, "taker amount")
        ttl_s = self.expiry_s - self.created_at_s
        if not quote_ttl_s_min <= ttl_s <= quote_ttl_s_max:
            raise ValidationError(f"a quote lives {quote_ttl_s_min}..{quote_ttl_s_max} s, asked {ttl_s} s",
                                  code="bad_quote_ttl")
        _check_hash(self.nonce, "quote nonce")

    def is_expired(self, now_s: int) -> bool:
        return now_s > self.expiry_s


def make_quote(
    *,
    quote_id: str,
    maker: str,
    taker: str,
    taker_coin: Currency,
    taker_amount_base_units: int,
    rate: Rate,
    rounding: Rounding,
    now_s: int,
    ttl_s: int,
    nonce: str,
) -> Quote:
    """The maker's quote for what the taker pays: `rate` converts the taker's coin into the maker's."""
    taker_coin = taker_coin.coin
    maker_coin = Currency.BHKD if taker_coin is Currency.BCNH else Currency.BCNH
    if rate.base.coin is not taker_coin or rate.quote.coin is not maker_coin:
        raise ValidationError(f"the rate must be {taker_coin.fiat}->{maker_coin.fiat}", code="bad_rate")
    maker_amount = convert(taker_amount_base_units, rate, rounding)
    if maker_amount <= 0:
        raise ValidationError("the quoted amount rounds to zero", code="bad_amount")
    return Quote(quote_id, maker, taker, maker_coin, maker_amount, taker_coin, taker_amount_base_units, rate,
                 rounding, now_s, now_s + ttl_s, nonce.lower().removeprefix("0x"))


def check_quote_settleable(quote: Quote, now_s: int) -> None:
    if quote.is_expired(now_s):
        raise RefusedError(f"quote {quote.quote_id} expired at {quote.expiry_s}", code="quote_expired")


# --- report figures ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettledPayment:
    """A payment for the report: an invoice released, or one leg of a swap."""

    kind: str  # "invoice" | "swap"
    reference: str
    payer: str  # address
    payee: str  # address
    payer_country: str
    payee_country: str
    coin: Currency
    amount_base_units: int
    settled_at_ns: int

    @property
    def corridor(self) -> Corridor:
        return classify_corridor(self.payer_country, self.payee_country)

    @property
    def month(self) -> str:
        return datetime.fromtimestamp(self.settled_at_ns // NS_PER_S, UTC).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class TradeFigures:
    volume_by_corridor: dict[str, dict[str, int]]  # corridor -> coin -> base units
    volume_by_currency: dict[str, int]
    volume_by_month: dict[str, dict[str, int]]  # YYYY-MM -> coin -> base units
    active_holders: int
    velocity_milli: dict[str, int]  # coin -> settled volume / outstanding supply, in thousandths
    payments: int


def trade_figures(payments: Iterable[SettledPayment], supply_base_units: Mapping[Currency, int]) -> TradeFigures:
    """Volumes by corridor, currency and month; active holders (distinct payers and payees); velocity per coin
    (volume settled in the period divided by the coin's outstanding supply, in thousandths, rounded down)."""
    by_corridor: dict[str, dict[str, int]] = {}
    by_currency: dict[str, int] = {}
    by_month: dict[str, dict[str, int]] = {}
    holders: set[str] = set()
    count = 0
    for p in payments:
        coin = p.coin.value
        c = by_corridor.setdefault(p.corridor.value, {})
        c[coin] = c.get(coin, 0) + p.amount_base_units
        by_currency[coin] = by_currency.get(coin, 0) + p.amount_base_units
        m = by_month.setdefault(p.month, {})
        m[coin] = m.get(coin, 0) + p.amount_base_units
        holders.update((p.payer, p.payee))
        count += 1
    velocity = {}
    for coin, supply in supply_base_units.items():
        volume = by_currency.get(coin.value, 0)
        velocity[coin.value] = volume * 1000 // supply if supply > 0 else 0
    return TradeFigures(
        volume_by_corridor={k: dict(sorted(v.items())) for k, v in sorted(by_corridor.items())},
        volume_by_currency=dict(sorted(by_currency.items())),
        volume_by_month={k: dict(sorted(v.items())) for k, v in sorted(by_month.items())},
        active_holders=len(holders),
        velocity_milli=velocity,
        payments=count,
    )
