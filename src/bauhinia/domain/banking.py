"""Bank messages as plain values: what an ISO 20022 statement or credit notification says, and what a payout asks.

Pure: no XML here. The bank adapter parses camt.052 / camt.053 / camt.054 into these values and writes pain.001 /
pacs.008 from them. Amounts are integers in the currency's minor unit (ISO 4217 exponent), parsed exactly
from the decimal text of the message, never through a float.

Idempotency keys:
- `content_hash` (sha256 of the file's bytes): the same file delivered twice.
- `message_key` ("camt.054/<MsgId>"): the same message, even re-serialised.
- `BankEntry.entry_key`: the same booking seen twice, in the same or another file (a camt.054 notification
  and the camt.053 statement that later repeats it give the same key). See `make_entry_key`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bauhinia.domain.errors import ConfigError, ValidationError
from bauhinia.domain.money import Currency

# ISO 4217 minor-unit exponents of the currencies a bank file may carry. CNH is the market code of offshore
# renminbi (not in ISO 4217, but carried by Hong Kong banks' files); CNY is the ISO code for the same money.
iso_currency_decimals: dict[str, int] = {
    "HKD": 2, "CNH": 2, "CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "SGD": 2, "AUD": 2, "CAD": 2,
    "NZD": 2, "TWD": 2, "MOP": 2, "THB": 2, "MYR": 2, "PHP": 2, "INR": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "JPY": 0, "KRW": 0, "VND": 0, "IDR": 2, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}

amount_text_length_max: int = 40
remittance_unstructured_length_max: int = 140
iso_text35_length_max: int = 35


class BankFileRejected(ValidationError):
    """A bank file that must be quarantined. `code` is the machine reason, the detail says why in words.

    Reason codes: bank_file_malformed, bank_file_forbidden_xml, bank_file_unknown_message,
    bank_file_schema, bank_file_missing_element, bank_file_bad_amount, bank_file_unknown_currency,
    bank_file_currency_mismatch, bank_file_unknown_account, bank_file_too_large.
    """

    code = "bank_file_rejected"
    title = "Bank file quarantined"


def currency_decimals(code: str) -> int:
    """The minor-unit exponent of an ISO currency code. Unknown codes are refused, never guessed."""
    try:
        return iso_currency_decimals[code]
    except KeyError:
        raise BankFileRejected(
            f"currency {code!r} is not one this platform books", code="bank_file_unknown_currency"
        ) from None


def parse_amount_minor(text: str, decimals: int) -> int:
    """'1234.5' -> 123450 with 2 decimals. Exact integer arithmetic, no float, no Decimal rounding.

    ISO 20022 amounts are non-negative decimals with '.' as separator; the number of fraction digits must
    not exceed the currency's ISO 4217 exponent (a trailing zero beyond it is refused too: the message is
    not compliant, and we do not guess which digit the bank meant).
    """
    s = text.strip()
    if not s or len(s) > amount_text_length_max:
        raise BankFileRejected(f"not an amount: {text!r}", code="bank_file_bad_amount")
    whole, dot, frac = s.partition(".")
    if not whole.isascii() or not whole.isdigit() or (dot and (not frac.isascii() or not frac.isdigit())):
        raise BankFileRejected(f"not a decimal amount: {text!r}", code="bank_file_bad_amount")
    if len(frac) > decimals:
        raise BankFileRejected(
            f"amount {text!r} has {len(frac)} decimals, the currency allows {decimals}",
            code="bank_file_bad_amount",
        )
    value: int = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if decimals else 0)
    return value


def format_amount_minor(amount_minor: int, decimals: int) -> str:
    """123450 -> '1234.50' (always exactly `decimals` fraction digits). Refuses negatives."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationError("amount_minor must be an integer", code="bad_amount")
    if amount_minor < 0:
        raise ValidationError(f"ISO 20022 amounts are not negative: {amount_minor}", code="bad_amount")
    if decimals == 0:
        return str(amount_minor)
    whole, frac = divmod(amount_minor, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


# The ISO 4217 code each currency a payout may be in is written as. Offshore renminbi (CNH) is the same currency
# as onshore (ISO 4217 has one code for renminbi, CNY): ISO 20022 messages carry CNY, and a payment is offshore
# because of where it clears, not because of its code. Every outbound writer goes through `iso4217_code`.
_ISO4217_OUTBOUND: dict[str, str] = {"CNH": "CNY"}


def iso4217_code(currency: str) -> str:
    """The ISO 4217 code an outbound bank file writes for `currency` (a `Currency` or a code): CNH -> "CNY",
    HKD -> "HKD", any other ISO code as it is. A code this platform does not book, or a coin (BCNH, BHKD, which
    no bank pays in), is refused with ValidationError (code unknown_currency), never guessed."""
    code = str(currency)
    iso = _ISO4217_OUTBOUND.get(code, code)
    if iso not in iso_currency_decimals:
        raise ValidationError(f"{code!r} is not a currency a bank file can carry", code="unknown_currency")
    return iso


def same_iso_currency(a: str, b: str) -> bool:
    """Whether two codes a bank wrote name the same money: equal, or CNH and CNY (a Hong Kong bank may write
    either for offshore renminbi). Unknown codes compare by equality only."""
    return a == b or _ISO4217_OUTBOUND.get(a, a) == _ISO4217_OUTBOUND.get(b, b)


def domain_currency(iso_code: str) -> Currency | None:
    """The ledger currency an ISO code books into: HKD -> HKD; CNH and CNY -> CNH (a Hong Kong account in
    renminbi is offshore renminbi whichever code the bank writes). None for anything else."""
    return {"HKD": Currency.HKD, "CNH": Currency.CNH, "CNY": Currency.CNH}.get(iso_code)


class MessageKind(StrEnum):
    REPORT = "camt.052"  # intraday account report: booked entries count like a notification's
    STATEMENT = "camt.053"
    NOTIFICATION = "camt.054"


class CreditDebit(StrEnum):
    CREDIT = "CRDT"
    DEBIT = "DBIT"


@dataclass(frozen=True, slots=True)
class AccountId:
    """A bank account identifier: an IBAN, or another id (local account number) with an optional scheme."""

    value: str
    scheme: str = "IBAN"  # "IBAN", or the Othr/SchmeNm code / proprietary name, or "OTHR"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One transaction inside an entry (TxDtls). A batch booking has several; a single credit has one."""

    amount_minor: int | None
    currency: str | None
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    transaction_id: str | None = None
    account_servicer_reference: str | None = None
    debtor_name: str | None = None
    debtor_account: AccountId | None = None
    remittance_unstructured: tuple[str, ...] = ()
    creditor_references: tuple[str, ...] = ()
    credit_debit: CreditDebit | None = None  # the detail's own CdtDbtInd, when it gives one
    # An FX leg: what the payer instructed, in its currency (AmtDtls/InstdAmt, or a TxDtls/Amt in a currency other
    # than the account's), with the exchange rate the bank applied as written. `amount_minor` stays in the
    # account's currency (None when the detail gives no amount in it).
    instructed_amount_minor: int | None = None
    instructed_currency: str | None = None
    exchange_rate: str | None = None
    # a payment sent back (RtrInf): the ISO 20022 return reason code (AC04 account closed, AC01 wrong account
    # number, ...) or the bank's proprietary one, with its additional information
    return_reason: str | None = None
    return_info: str | None = None

    @property
    def fx_note(self) -> str | None:
        """'instructed 1000.00 EUR at 8.4567' for an FX leg, None otherwise."""
        if self.instructed_currency is None:
            return None
        amount = ("?" if self.instructed_amount_minor is None else format_amount_minor(
            self.instructed_amount_minor, iso_currency_decimals.get(self.instructed_currency, 2)))
        rate = f" at {self.exchange_rate}" if self.exchange_rate else ""
        return f"instructed {amount} {self.instructed_currency}{rate}"


@dataclass(frozen=True, slots=True)
class BankEntry:
    """One booking on the account (Ntry). `entry_key` identifies it across files."""

    entry_key: str
    index: int  # position in its report, 0-based
    amount_minor: int
    currency: str
    credit_debit: CreditDebit
    status: str  # BOOK, PDNG, INFO (or a proprietary code from 001.07 on)
    reversal: bool
    booking_date: date | None
    value_date: date | None
    entry_reference: str | None
    account_servicer_reference: str | None
    bank_transaction_code: str | None  # "PMNT/RCDT/VCOM" or the proprietary code
    additional_info: str | None
    transactions: tuple[BankTransaction, ...] = ()
    fx_note: str | None = None  # an FX leg given on the entry itself (Ntry/AmtDtls), see BankTransaction.fx_note

    @property
    def is_booked_credit(self) -> bool:
        return self.credit_debit is CreditDebit.CREDIT and self.status == "BOOK" and not self.reversal

    def _single(self) -> BankTransaction | None:
        return self.transactions[0] if len(self.transactions) == 1 else None

    @property
    def end_to_end_id(self) -> str | None:
        tx = self._single()
        return tx.end_to_end_id if tx else None

    @property
    def debtor_name(self) -> str | None:
        tx = self._single()
        return tx.debtor_name if tx else None

    @property
    def debtor_account(self) -> AccountId | None:
        tx = self._single()
        return tx.debtor_account if tx else None

    @property
    def remittance_unstructured(self) -> tuple[str, ...]:
        return tuple(line for tx in self.transactions for line in tx.remittance_unstructured)

    @property
    def creditor_references(self) -> tuple[str, ...]:
        return tuple(ref for tx in self.transactions for ref in tx.creditor_references)

    @property
    def remittance_text(self) -> str:
        """Every remittance line of the entry joined by spaces (what a matcher searches)."""
        return " ".join(self.remittance_unstructured + self.creditor_references)

    @property
    def is_return(self) -> bool:
        """A payment sent back by the payee's bank: a return reason on a detail, or a return bank transaction
        code (PMNT/ICDT/RRTN, PMNT/RCDT/RRTN)."""
        return any(tx.return_reason for tx in self.transactions) or (
            (self.bank_transaction_code or "").endswith("/RRTN"))

    @property
    def return_reason(self) -> str | None:
        return next((tx.return_reason for tx in self.transactions if tx.return_reason), None)

    @property
    def is_batch(self) -> bool:
        """A batch booking: several transaction details under one entry (a collective credit, a batch debit)."""
        return len(self.transactions) > 1

    @property
    def fx_notes(self) -> tuple[str, ...]:
        notes = tuple(n for tx in self.transactions if (n := tx.fx_note))
        return notes if notes or self.fx_note is None else (self.fx_note,)


def part_key(entry_key: str, index: int) -> str:
    """Stable key of the `index`-th transaction detail of a batch entry: derived from the entry's own key, so a
    notification and the statement that repeats the entry give the same part keys."""
    return f"{entry_key}.{index}"


class BatchMismatch(ValidationError):
    """A batch entry whose details cannot be booked one by one: the whole entry goes to suspense."""

    code = "bank_batch_mismatch"
    title = "Batch entry does not add up"


def entry_parts(entry: BankEntry) -> tuple[BankEntry, ...]:
    """The bookings of one entry. An entry with one transaction detail or none is booked whole: (entry,). A batch
    entry is split into one part per detail, each with its own key (`part_key`), its own amount in the account's
    currency, its own references and remittance (the entry-level texts belong to the batch, not to any payer).

    Raises BatchMismatch (nothing is split) when a detail has no amount in the account's currency, a detail goes
    the other way than the entry, or the details do not add up to the entry's amount."""
    if not entry.is_batch:
        return (entry,)
    total = 0
    for i, tx in enumerate(entry.transactions):
        if tx.amount_minor is None or (tx.currency is not None and tx.currency != entry.currency):
            raise BatchMismatch(f"batch detail {i} gives no amount in the account's currency {entry.currency}",
                                code="bank_batch_no_amount")
        if tx.credit_debit is not None and tx.credit_debit is not entry.credit_debit:
            raise BatchMismatch(f"batch detail {i} is a {tx.credit_debit.value} inside a {entry.credit_debit.value} "
                                "entry", code="bank_batch_mixed_direction")
        total += tx.amount_minor
    if total != entry.amount_minor:
        raise BatchMismatch(f"the {len(entry.transactions)} batch details add up to {total}, the entry is "
                            f"{entry.amount_minor} (minor units)", code="bank_batch_sum_mismatch")
    return tuple(
        BankEntry(
            entry_key=part_key(entry.entry_key, i), index=entry.index, amount_minor=tx.amount_minor or 0,
            currency=entry.currency, credit_debit=entry.credit_debit, status=entry.status, reversal=entry.reversal,
            booking_date=entry.booking_date, value_date=entry.value_date, entry_reference=None,
            account_servicer_reference=tx.account_servicer_reference,
            bank_transaction_code=entry.bank_transaction_code, additional_info=None, transactions=(tx,))
        for i, tx in enumerate(entry.transactions)
    )


@dataclass(frozen=True, slots=True)
class Balance:
    type_code: str  # OPBD, CLBD, CLAV, ...
    amount_minor: int  # signed: a debit balance is negative
    currency: str
    on: date | None


@dataclass(frozen=True, slots=True)
class AccountReport:
    """One Stmt (camt.053) or Ntfctn (camt.054): the entries of one account."""

    report_id: str
    account: AccountId
    account_currency: str | None
    account_owner: str | None
    created_at: datetime | None
    entries: tuple[BankEntry, ...]
    balances: tuple[Balance, ...] = ()
    sequence_number: int | None = None  # ElctrncSeqNb


@dataclass(frozen=True, slots=True)
class BankMessage:
    """A parsed bank-to-customer message. `created_at` is as written: naive when the file gives no offset."""

    kind: MessageKind
    version: str  # "001.04"
    message_id: str
    created_at: datetime
    content_hash: str  # sha256 hex of the file bytes
    reports: tuple[AccountReport, ...]

    @property
    def message_key(self) -> str:
        return f"{self.kind.value}/{self.message_id}"

    @property
    def account(self) -> AccountId:
        return self.reports[0].account

    @property
    def currency(self) -> str | None:
        return self.reports[0].account_currency or (
            self.reports[0].entries[0].currency if self.reports[0].entries else None
        )

    @property
    def entries(self) -> tuple[BankEntry, ...]:
        return tuple(e for r in self.reports for e in r.entries)


@dataclass(frozen=True, slots=True)
class BankStatement(BankMessage):
    """camt.053: the bank's statement of an account over a period (end of day)."""


@dataclass(frozen=True, slots=True)
class CreditNotification(BankMessage):
    """camt.054: debit/credit notifications, sent as bookings happen."""


def make_entry_key(
    account: str,
    currency: str,
    amount_minor: int,
    credit_debit: CreditDebit,
    account_servicer_reference: str | None,
    entry_reference: str | None,
    end_to_end_id: str | None,
    booking_date: date | None,
    occurrence: int,
) -> str:
    """Stable id of a booking. Built from what the bank says about the booking itself, not from the file:
    the servicer's reference (unique per account at the bank), or failing that the entry reference and the
    end-to-end id, with account, currency, amount, direction and booking date. `occurrence` numbers entries
    that are otherwise identical inside one report (the 2nd identical one is a different booking)."""
    parts = (
        account, currency, str(amount_minor), credit_debit.value, account_servicer_reference or "",
        entry_reference or "", end_to_end_id or "", booking_date.isoformat() if booking_date else "",
        str(occurrence),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


# --- Outgoing payments --------------------------------------------------------------------------------


class PaymentScheme(StrEnum):
    PAIN_001_001_09 = "pain.001.001.09"
    PAIN_001_001_03 = "pain.001.001.03"
    PACS_008_001_08 = "pacs.008.001.08"


default_payout_scheme: PaymentScheme = PaymentScheme.PAIN_001_001_09
# Short names a setting may use for a scheme: the message, at the version this platform writes by default.
_SCHEME_ALIASES: dict[str, PaymentScheme] = {
    "pain.001": PaymentScheme.PAIN_001_001_09,
    "pacs.008": PaymentScheme.PACS_008_001_08,
}


def payout_schemes(setting: Mapping[str, str]) -> dict[str, PaymentScheme]:
    """The payout message of each rail, from Settings.payout_messages ({"HKD": "pacs.008.001.08"}): the key is
    the currency of the reserve account paying (CNH, HKD), the value a PaymentScheme value or its short name
    ("pain.001", "pacs.008"). A currency not named pays by `default_payout_scheme` (pain.001.001.09, the
    customer-to-bank initiation every bank takes); pacs.008 is for a rail where the issuer's bank accepts
    FI-to-FI messages from it (a direct clearing participant). Anything else raises ConfigError
    (bad_payout_message), naming the entry."""
    out: dict[str, PaymentScheme] = {}
    for currency, name in setting.items():
        if currency not in (Currency.CNH.value, Currency.HKD.value):
            raise ConfigError(f"BAUHINIA_PAYOUT_MESSAGES: {currency!r} is not a rail (CNH or HKD)",
                              code="bad_payout_message")
        text = name.strip().lower()
        scheme = _SCHEME_ALIASES.get(text) or next((s for s in PaymentScheme if s.value == text), None)
        if scheme is None:
            choices = ", ".join([*(s.value for s in PaymentScheme), *_SCHEME_ALIASES])
            raise ConfigError(f"BAUHINIA_PAYOUT_MESSAGES: {currency}: {name!r} is not a payout message "
                              f"({choices})", code="bad_payout_message")
        out[currency] = scheme
    return out


@dataclass(frozen=True, slots=True)
class Party:
    """Who pays or is paid: name, account and (optionally) the bank's BIC."""

    name: str
    account: AccountId
    agent_bic: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutInstruction:
    """One payout: the issuer pays a customer's verified account. `redemption_reference` is the end-to-end id
    and appears in the remittance information, with the invoice reference when given."""

    redemption_reference: str
    amount_minor: int
    currency: str
    creditor: Party
    invoice_reference: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise ValidationError("amount_minor must be an integer", code="bad_amount")
        if self.amount_minor <= 0:
            raise ValidationError(f"a payout must be positive, got {self.amount_minor}", code="bad_amount")
        currency_decimals(self.currency)
        ref = self.redemption_reference
        if not ref or len(ref) > iso_text35_length_max or not ref.isascii() or not ref.isprintable():
            raise ValidationError(
                f"redemption reference must be 1..35 printable ASCII characters: {ref!r}",
                code="bad_reference",
            )
        if self.invoice_reference is not None and not (0 < len(self.invoice_reference) <= iso_text35_length_max):
            raise ValidationError("invoice reference must be 1..35 characters", code="bad_reference")

    @property
    def remittance_text(self) -> str:
        text = f"REDEMPTION {self.redemption_reference}"
        if self.invoice_reference:
            text += f" INVOICE {self.invoice_reference}"
        return text[:remittance_unstructured_length_max]


@dataclass(frozen=True, slots=True)
class PaymentBatch:
    """A payment file's content: one debtor (the issuer's account), one execution date, N payouts."""

    message_id: str
    created_at: datetime
    debtor: Party
    execution_date: date
    payouts: tuple[PayoutInstruction, ...]

    def __post_init__(self) -> None:
        if not self.payouts:
            raise ValidationError("a payment batch needs at least one payout", code="empty_batch")
        if not (0 < len(self.message_id) <= iso_text35_length_max):
            raise ValidationError("message id must be 1..35 characters", code="bad_reference")
        if len({p.currency for p in self.payouts}) != 1:
            raise ValidationError("a payment batch pays in one currency", code="mixed_currencies")
        refs = [p.redemption_reference for p in self.payouts]
        if len(set(refs)) != len(refs):
            raise ValidationError("a redemption reference appears twice in one batch", code="duplicate_payout")

    @property
    def currency(self) -> str:
        return self.payouts[0].currency

    @property
    def control_sum_minor(self) -> int:
        return sum(p.amount_minor for p in self.payouts)


@dataclass(frozen=True, slots=True)
class PaymentFile:
    """A written payment file: where it is, what it holds, its sha256."""

    name: str
    scheme: PaymentScheme
    message_id: str
    content_hash: str
    transaction_count: int


@dataclass(frozen=True, slots=True)
class InboundFile:
    """An inbound file read from the bank: parsed (message) or quarantined (rejection code + reason)."""

    name: str
    content_hash: str
    message: BankMessage | None
    rejection_code: str | None = None
    rejection_reason: str | None = None
    # read again from quarantine: it was quarantined while still arriving and has changed since (now complete)
    requeued: bool = False

    @property
    def quarantined(self) -> bool:
        return self.message is None
