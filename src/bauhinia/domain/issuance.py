"""Subscription (fiat in -> mint) and redemption (burn -> fiat out) at par: rules, state machines, ledger entries.

Pure. The issuance service loads customers, coins and flows, calls these functions with `now_ns` and ids, and
commits what they return (ledger transfers, new states) in one transaction with its outbox events.

Chart of accounts, per coin (ledger currency = the coin's fiat currency, amounts in minor units at par):
    reserve cash at bank          asset       fiat the issuer holds in its reserve account
    customer funds (per customer) liability   fiat received from a customer, not yet minted
    coins outstanding             liability   par value of coins in circulation (frozen ones included)
    redemptions payable           liability   par value of burned coins not yet paid out
    suspense                      liability   fiat received that matched no customer
    fee income                    income      disclosed subscription / redemption fees
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from bauhinia.domain.errors import ConflictError, RefusedError, ValidationError
from bauhinia.domain.ledger import (
    Account,
    AccountFlags,
    AccountKind,
    Transfer,
    TransferFlags,
)
from bauhinia.domain.money import Currency, minor_to_base_units

BPS = 10_000
fee_bps_max = 100  # a disclosed fee above 1% would not be "reasonable" for redemption at par
subscription_minor_min = 100  # one unit of currency
redemption_minor_min = 100
customer_seq_max = 2**40
flow_seq_max = 2**48
deposit_reference_pattern = re.compile(r"\bBH[0-9A-Z]{8}\b")


# ---------------------------------------------------------------------------------------------------------
# Coins
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoinConfig:
    """A coin as licensed: its fiat currency, the issuer's licence, and for a renminbi coin the mainland
    approval reference without which it may be deployed for testing but never minted."""

    fiat: Currency
    licence_number: str
    mainland_approval_reference: str | None = None
    subscription_fee_bps: int = 0
    redemption_fee_bps: int = 0

    def __post_init__(self) -> None:
        if self.fiat not in (Currency.CNH, Currency.HKD):
            raise ValidationError(f"a coin is referenced to CNH or HKD, not {self.fiat}", code="unknown_coin")
        for name, bps in (("subscription", self.subscription_fee_bps), ("redemption", self.redemption_fee_bps)):
            if not 0 <= bps <= fee_bps_max:
                raise ValidationError(f"{name} fee must be 0..{fee_bps_max} bps, got {bps}", code="bad_fee")
        if not self.licence_number.strip():
            raise ValidationError("a coin needs the issuer's licence number", code="licence_required")

    @property
    def coin(self) -> Currency:
        return self.fiat.coin

    def require_mintable(self) -> None:
        if self.fiat is Currency.CNH and not (self.mainland_approval_reference or "").strip():
            raise RefusedError(
                "the CNH coin has no mainland approval reference: issuing an RMB-referenced coin outside the "
                "mainland needs one; it may be deployed for testing but refuses to mint",
                code="cnh_coin_without_mainland_approval",
            )


def fee_minor(amount_minor: int, fee_bps: int) -> int:
    """The disclosed fee, rounded down (in the customer's favour)."""
    return amount_minor * fee_bps // BPS


# ---------------------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------------------


class CustomerStatus(StrEnum):
    ONBOARDING = "onboarding"
    CLEARED = "cleared"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    seq: int  # small integer used for ledger account ids
    name: str
    status: CustomerStatus
    deposit_reference: str  # quoted in the remittance information of the customer's bank transfers

    def require_cleared(self) -> None:
        if self.status is not CustomerStatus.CLEARED:
            raise RefusedError(f"customer {self.id} is {self.status.value}, not cleared", code="customer_not_cleared")


def deposit_reference_for(seq: int) -> str:
    """A customer's deposit reference: 'BH' + 8 characters of base-36 with a mod-36 check character."""
    if not 0 < seq < 36**7:
        raise ValidationError("customer sequence out of range", code="bad_customer_seq")
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body = ""
    n = seq
    for _ in range(7):
        n, r = divmod(n, 36)
        body = digits[r] + body
    check = digits[sum((i + 1) * digits.index(c) for i, c in enumerate(body)) % 36]
    return f"BH{body}{check}"


def valid_deposit_reference(ref: str) -> bool:
    if not deposit_reference_pattern.fullmatch(ref):
        return False
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body, check = ref[2:9], ref[9]
    return digits[sum((i + 1) * digits.index(c) for i, c in enumerate(body)) % 36] == check


def match_deposit_reference(texts: Iterable[str], known: Mapping[str, str]) -> str | None:
    """The customer id whose deposit reference appears (with a valid check character) in `texts`."""
    for text in texts:
        for m in deposit_reference_pattern.finditer(text.upper()):
            ref = m.group(0)
            if valid_deposit_reference(ref) and ref in known:
                return known[ref]
    return None


@dataclass(frozen=True, slots=True)
class VerifiedBankAccount:
    customer_id: str
    account: str
    scheme: str
    holder_name: str
    currency: Currency
    bic: str | None = None


@dataclass(frozen=True, slots=True)
class WhitelistedWallet:
    customer_id: str
    address: str  # lower-case 0x hex
    verified_at_ns: int


def wallet_challenge(customer_id: str, address: str, nonce: str) -> str:
    """The EIP-191 message a customer signs with the wallet's key to prove ownership."""
    return (
        "Bauhinia wallet ownership\n"
        f"customer: {customer_id}\n"
        f"wallet: {address.lower()}\n"
        f"nonce: {nonce}\n"
        "I control this wallet and ask for it to receive and redeem coins for this customer."
    )


# ---------------------------------------------------------------------------------------------------------
# State machines
# ---------------------------------------------------------------------------------------------------------


class SubscriptionStatus(StrEnum):
    RECEIVED = "received"  # fiat booked to the customer's funds
    HELD = "held"  # cannot mint yet (customer not cleared, no wallet, coverage, breaker); retried
    MINTING = "minting"  # ledger entry posted, mint batch journaled; the chain transaction may be in flight
    MINTED = "minted"  # mined on chain
    REFUNDED = "refunded"  # fiat returned instead


SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SubscriptionStatus.RECEIVED: frozenset({SubscriptionStatus.HELD, SubscriptionStatus.MINTING,
                                            SubscriptionStatus.REFUNDED}),
    SubscriptionStatus.HELD: frozenset({SubscriptionStatus.HELD, SubscriptionStatus.MINTING,
                                        SubscriptionStatus.REFUNDED}),
    SubscriptionStatus.MINTING: frozenset({SubscriptionStatus.MINTED, SubscriptionStatus.HELD}),
    # A mint mined and then lost to a reorganisation, whose transaction reverted on the fork that won: reversed.
    SubscriptionStatus.MINTED: frozenset({SubscriptionStatus.HELD}),
    SubscriptionStatus.REFUNDED: frozenset(),
}


class RedemptionStatus(StrEnum):
    AWAITING_COINS = "awaiting_coins"  # requested; the holder has yet to send the coins in
    BURNED = "burned"  # coins received and burned; ledger entry posted; reserve cash held for the payout
    PAYOUT_INSTRUCTED = "payout_instructed"  # in a pain.001 file for the bank
    PAID = "paid"  # the bank's statement shows the debit; the held reserve cash is posted out
    CANCELLED = "cancelled"  # withdrawn before any coins arrived
    # the payee's bank sent the payout back (account closed, wrong number, ...): owed again, paid once an operator
    # names the account (and a second person agrees), as a new payout attempt
    PAYOUT_RETURNED = "payout_returned"


REDEMPTION_TRANSITIONS: dict[RedemptionStatus, frozenset[RedemptionStatus]] = {
    RedemptionStatus.AWAITING_COINS: frozenset({RedemptionStatus.BURNED, RedemptionStatus.CANCELLED}),
    # back to awaiting coins when the burn reverted on the final chain (the coins never arrived there)
    RedemptionStatus.BURNED: frozenset({RedemptionStatus.PAYOUT_INSTRUCTED, RedemptionStatus.AWAITING_COINS}),
    RedemptionStatus.PAYOUT_INSTRUCTED: frozenset({RedemptionStatus.PAID}),
    RedemptionStatus.PAID: frozenset({RedemptionStatus.PAYOUT_RETURNED}),
    RedemptionStatus.CANCELLED: frozenset(),
    RedemptionStatus.PAYOUT_RETURNED: frozenset({RedemptionStatus.BURNED}),
}


class RefundStatus(StrEnum):
    INSTRUCTED = "instructed"  # claimed, the reserve cash held; its payment file is (about to be) written
    WRITTEN = "written"  # the pain.001 is in the bank's outbox
    PAID = "paid"  # the bank's statement shows the debit; the held reserve cash is posted out


REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    # a debit can arrive before the file is marked written (the process died between the file and the mark)
    RefundStatus.INSTRUCTED: frozenset({RefundStatus.WRITTEN, RefundStatus.PAID}),
    RefundStatus.WRITTEN: frozenset({RefundStatus.PAID}),
    RefundStatus.PAID: frozenset(),
}


def check_transition(kind: str, current: str, new: str) -> None:
    table: Mapping[str, frozenset[str]]
    if kind == "refund":
        table = {k.value: frozenset(v.value for v in vs) for k, vs in REFUND_TRANSITIONS.items()}
    elif kind == "subscription":
        table = {k.value: frozenset(v.value for v in vs) for k, vs in SUBSCRIPTION_TRANSITIONS.items()}
    elif kind == "redemption":
        table = {k.value: frozenset(v.value for v in vs) for k, vs in REDEMPTION_TRANSITIONS.items()}
    else:
        raise ValidationError(f"unknown flow {kind!r}")
    if current not in table:
        raise ValidationError(f"unknown {kind} status {current!r}")
    if new not in table[current]:
        raise ConflictError(f"a {kind} cannot go from {current} to {new}", code="invalid_transition")


@dataclass(frozen=True, slots=True)
class Transition:
    """One audited state change of a flow."""

    flow: str
    flow_id: str
    from_status: str | None
    to_status: str
    at_ns: int
    actor: str
    reason: str = ""


# ---------------------------------------------------------------------------------------------------------
# Redemption requests
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedemptionRequest:
    customer_id: str
    coin: Currency
    amount_minor: int
    wallet: str
    bank_account: str
    idempotency_key: str


def validate_redemption(
    req: RedemptionRequest,
    customer: Customer,
    config: CoinConfig,
    wallets: Iterable[WhitelistedWallet],
    accounts: Iterable[VerifiedBankAccount],
) -> VerifiedBankAccount:
    """Refuse anything but a redemption of a cleared customer's coins, from its own verified wallet, to its own
    verified bank account in the coin's currency. Returns the payout account."""
    if type(req.amount_minor) is not int or req.amount_minor < redemption_minor_min:
        raise ValidationError(
            f"redemption amount must be an integer of at least {redemption_minor_min} minor units",
            code="bad_amount",
        )
    if req.amount_minor > 2**63 // minor_to_base_units(1):
        raise ValidationError("redemption amount too large", code="amount_too_large")
    customer.require_cleared()
    if config.coin is not req.coin.coin:
        raise ValidationError("coin mismatch", code="unknown_coin")
    wallet = req.wallet.lower()
    if not any(w.address == wallet and w.customer_id == customer.id for w in wallets):
        raise RefusedError(f"wallet {wallet} is not a verified wallet of customer {customer.id}",
                           code="wallet_not_verified")
    for acct in accounts:
        if acct.customer_id == customer.id and acct.account == req.bank_account:
            if acct.currency is not config.fiat:
                raise RefusedError(f"bank account {acct.account} is in {acct.currency}, not {config.fiat}",
                                   code="currency_mismatch")
            return acct
    raise RefusedError(f"bank account {req.bank_account} is not a verified account of customer {customer.id}",
                       code="bank_account_not_verified")


# ---------------------------------------------------------------------------------------------------------
# Chart of accounts and ledger entries
# ---------------------------------------------------------------------------------------------------------


class Book(IntEnum):
    RESERVE_CASH = 1
    COINS_OUTSTANDING = 2
    REDEMPTIONS_PAYABLE = 3
    SUSPENSE = 4
    FEE_INCOME = 5
    EQUITY = 6
    BANK_CHARGES = 7


BOOK_KIND = {
    Book.RESERVE_CASH: AccountKind.ASSET,
    Book.COINS_OUTSTANDING: AccountKind.LIABILITY,
    Book.REDEMPTIONS_PAYABLE: AccountKind.LIABILITY,
    Book.SUSPENSE: AccountKind.LIABILITY,
    Book.FEE_INCOME: AccountKind.INCOME,
    Book.EQUITY: AccountKind.EQUITY,
    Book.BANK_CHARGES: AccountKind.EXPENSE,  # what the bank takes for its services (never paid to holders)
}
COIN_INDEX = {Currency.CNH: 1, Currency.HKD: 2}
DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CR_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)


def book_account_id(fiat: Currency, book: Book) -> int:
    return 1_000 * COIN_INDEX[fiat] + int(book)


def customer_account_id(customer_seq: int, fiat: Currency) -> int:
    if not 0 < customer_seq < customer_seq_max:
        raise ValidationError("customer sequence out of range", code="bad_customer_seq")
    return 10_000_000 + customer_seq * 10 + COIN_INDEX[fiat]


def issuer_accounts(fiat: Currency) -> list[Account]:
    """The issuer's books for one coin. Liabilities may never go below zero; reserve cash neither."""
    out = []
    for book, kind in BOOK_KIND.items():
        flags = DR_LIMIT if kind is AccountKind.LIABILITY else (CR_LIMIT if kind is AccountKind.ASSET else 0)
        out.append(Account(book_account_id(fiat, book), fiat.value, kind, flags, code=int(book),
                           reference=f"issuer:{fiat.value}:{book.name.lower()}"))
    return out


def customer_account(customer: Customer, fiat: Currency) -> Account:
    return Account(customer_account_id(customer.seq, fiat), fiat.value, AccountKind.LIABILITY, DR_LIMIT, code=10,
                   reference=f"customer:{customer.id}:{fiat.value}")


class EntryKind(IntEnum):
    DEPOSIT = 1
    SUSPENSE = 2
    MINT = 3
    MINT_REVERSAL = 4
    BURN = 5
    PAYOUT_SETTLED = 6
    SUSPENSE_RELEASE = 7
    CAPITAL = 8
    BURN_REVERSAL = 9
    REFUND = 10
    REFUND_SETTLED = 11
    PAYOUT_RETURNED = 12
    PAYOUT_RETRY = 13
    BANK_CHARGE = 14


def transfer_id(kind: EntryKind, flow_seq: int, leg: int) -> int:
    """Deterministic transfer ids: retrying an entry after a crash can never book it twice."""
    if not 0 < flow_seq < flow_seq_max or not 0 <= leg < 16:
        raise ValidationError("flow sequence out of range", code="bad_flow_seq")
    return (int(kind) << 56) | (flow_seq << 4) | leg


def deposit_entry(
    flow_seq: int, fiat: Currency, amount_minor: int, customer_seq: int, reference: str
) -> list[Transfer]:
    """Fiat received for a known customer: reserve cash up, the customer's funds up."""
    return [Transfer(transfer_id(EntryKind.DEPOSIT, flow_seq, 0), book_account_id(fiat, Book.RESERVE_CASH),
                     customer_account_id(customer_seq, fiat), amount_minor, fiat.value, code=int(EntryKind.DEPOSIT),
                     reference=reference)]


def suspense_entry(flow_seq: int, fiat: Currency, amount_minor: int, reference: str) -> list[Transfer]:
    """Fiat received that matched no customer: reserve cash up, suspense up, for an operator to resolve."""
    return [Transfer(transfer_id(EntryKind.SUSPENSE, flow_seq, 0), book_account_id(fiat, Book.RESERVE_CASH),
                     book_account_id(fiat, Book.SUSPENSE), amount_minor, fiat.value, code=int(EntryKind.SUSPENSE),
                     reference=reference)]


def capital_entry(flow_seq: int, fiat: Currency, amount_minor: int, equity_account_id: int,
                  reference: str) -> Transfer:
    """The issuer's own capital paid into the reserve account: reserve cash up, equity up."""
    return Transfer(transfer_id(EntryKind.CAPITAL, flow_seq, 0), book_account_id(fiat, Book.RESERVE_CASH),
                    equity_account_id, amount_minor, fiat.value, code=int(EntryKind.CAPITAL), reference=reference)


def suspense_release_entry(flow_seq: int, fiat: Currency, amount_minor: int, customer_seq: int,
                           reference: str) -> list[Transfer]:
    """An operator assigned a suspense credit to a customer."""
    return [Transfer(transfer_id(EntryKind.SUSPENSE_RELEASE, flow_seq, 0), book_account_id(fiat, Book.SUSPENSE),
                     customer_account_id(customer_seq, fiat), amount_minor, fiat.value,
                     code=int(EntryKind.SUSPENSE_RELEASE), reference=reference)]


mint_attempts_max = 8  # two legs per attempt in the transfer id's 4-bit leg field


def _attempt_leg(attempt: int, leg: int) -> int:
    if not 0 <= attempt < mint_attempts_max:
        raise RefusedError(f"a subscription is minted in at most {mint_attempts_max} attempts; an operator must "
                           "resolve it", code="mint_attempts_exhausted")
    return 2 * attempt + leg


def mint_entry(flow_seq: int, fiat: Currency, amount_minor: int, fee: int, customer_seq: int,
               reference: str, attempt: int = 0) -> list[Transfer]:
    """The customer's funds become coins outstanding, less the disclosed fee (one linked entry). Each attempt
    (a first mint, a retry after a refused or voided one) has its own transfer ids, so a retry books again."""
    if not 0 <= fee < amount_minor:
        raise ValidationError("fee must be below the amount", code="bad_fee")
    cust = customer_account_id(customer_seq, fiat)
    legs = [Transfer(transfer_id(EntryKind.MINT, flow_seq, _attempt_leg(attempt, 0)), cust,
                     book_account_id(fiat, Book.COINS_OUTSTANDING), amount_minor - fee, fiat.value,
                     code=int(EntryKind.MINT), reference=reference)]
    if fee:
        legs.append(Transfer(transfer_id(EntryKind.MINT, flow_seq, _attempt_leg(attempt, 1)), cust,
                             book_account_id(fiat, Book.FEE_INCOME), fee, fiat.value, code=int(EntryKind.MINT),
                             reference=reference))
    return _link(legs)


def mint_reversal_entry(flow_seq: int, fiat: Currency, amount_minor: int, fee: int, customer_seq: int,
                        reference: str, attempt: int = 0) -> list[Transfer]:
    """Undo the mint entry of `attempt` whose chain transaction was refused: the funds go back to the customer."""
    cust = customer_account_id(customer_seq, fiat)
    legs = [Transfer(transfer_id(EntryKind.MINT_REVERSAL, flow_seq, _attempt_leg(attempt, 0)),
                     book_account_id(fiat, Book.COINS_OUTSTANDING), cust, amount_minor - fee, fiat.value,
                     code=int(EntryKind.MINT_REVERSAL), reference=reference)]
    if fee:
        legs.append(Transfer(transfer_id(EntryKind.MINT_REVERSAL, flow_seq, _attempt_leg(attempt, 1)),
                             book_account_id(fiat, Book.FEE_INCOME), cust, fee, fiat.value,
                             code=int(EntryKind.MINT_REVERSAL), reference=reference))
    return _link(legs)


burn_attempts_max = 5  # three legs per attempt in the transfer id's 4-bit leg field


def _burn_leg(attempt: int, leg: int) -> int:
    if not 0 <= attempt < burn_attempts_max:
        raise RefusedError(f"a redemption is burned in at most {burn_attempts_max} attempts; an operator must "
                           "resolve it", code="burn_attempts_exhausted")
    return 3 * attempt + leg


def burn_entry(flow_seq: int, fiat: Currency, amount_minor: int, fee: int, reference: str,
               attempt: int = 0) -> list[Transfer]:
    """Burn and reserve release in one linked entry: coins outstanding down, the payout owed, and the reserve
    cash for it held (pending) until the bank confirms the payment. Each attempt books under its own ids (a burn
    reversed after a reorganisation and burned again books again)."""
    if not 0 <= fee < amount_minor:
        raise ValidationError("fee must be below the amount", code="bad_fee")
    payable = book_account_id(fiat, Book.REDEMPTIONS_PAYABLE)
    outstanding = book_account_id(fiat, Book.COINS_OUTSTANDING)
    legs = [Transfer(transfer_id(EntryKind.BURN, flow_seq, _burn_leg(attempt, 0)), outstanding, payable,
                     amount_minor - fee, fiat.value, code=int(EntryKind.BURN), reference=reference)]
    if fee:
        legs.append(Transfer(transfer_id(EntryKind.BURN, flow_seq, _burn_leg(attempt, 1)), outstanding,
                             book_account_id(fiat, Book.FEE_INCOME), fee, fiat.value, code=int(EntryKind.BURN),
                             reference=reference))
    legs.append(Transfer(payout_hold_id(flow_seq, attempt), payable, book_account_id(fiat, Book.RESERVE_CASH),
                         amount_minor - fee, fiat.value, code=int(EntryKind.BURN), reference=reference,
                         flags=int(TransferFlags.PENDING)))
    return _link(legs)


def burn_reversal_entry(flow_seq: int, fiat: Currency, amount_minor: int, fee: int, reference: str,
                        attempt: int = 0) -> list[Transfer]:
    """Undo burn `attempt` whose transaction reverted on the final chain: the held reserve cash is released and
    the coins count as outstanding again (the holder still has them), fee included."""
    payable = book_account_id(fiat, Book.REDEMPTIONS_PAYABLE)
    outstanding = book_account_id(fiat, Book.COINS_OUTSTANDING)
    legs = [Transfer(transfer_id(EntryKind.BURN_REVERSAL, flow_seq, _burn_leg(attempt, 0)), 0, 0, 0, "",
                     code=int(EntryKind.BURN_REVERSAL), reference=reference, flags=int(TransferFlags.VOID_PENDING),
                     pending_id=payout_hold_id(flow_seq, attempt)),
            Transfer(transfer_id(EntryKind.BURN_REVERSAL, flow_seq, _burn_leg(attempt, 1)), payable, outstanding,
                     amount_minor - fee, fiat.value, code=int(EntryKind.BURN_REVERSAL), reference=reference)]
    if fee:
        legs.append(Transfer(transfer_id(EntryKind.BURN_REVERSAL, flow_seq, _burn_leg(attempt, 2)),
                             book_account_id(fiat, Book.FEE_INCOME), outstanding, fee, fiat.value,
                             code=int(EntryKind.BURN_REVERSAL), reference=reference))
    return _link(legs)


def payout_hold_id(flow_seq: int, attempt: int = 0) -> int:
    return transfer_id(EntryKind.BURN, flow_seq, _burn_leg(attempt, 2))


def payout_settled_entry(flow_seq: int, reference: str, attempt: int = 0) -> list[Transfer]:
    """The bank paid: post the held reserve cash of the payout attempt that was paid out (a burn attempt, or a
    payout made again after the first was returned). Each attempt settles under its own id."""
    _burn_leg(attempt, 0)
    return [Transfer(transfer_id(EntryKind.PAYOUT_SETTLED, flow_seq, attempt), 0, 0, 0, "",
                     code=int(EntryKind.PAYOUT_SETTLED), reference=reference,
                     flags=int(TransferFlags.POST_PENDING), pending_id=payout_hold_id(flow_seq, attempt))]


def payout_returned_entry(flow_seq: int, fiat: Currency, amount_minor: int, reference: str,
                          returns: int) -> list[Transfer]:
    """The payee's bank sent a payout back: the reserve cash is up again and the payout owed again (the
    redemption's holder has no coins and no money). `returns` counts the earlier returns of this redemption."""
    return [Transfer(transfer_id(EntryKind.PAYOUT_RETURNED, flow_seq, returns),
                     book_account_id(fiat, Book.RESERVE_CASH), book_account_id(fiat, Book.REDEMPTIONS_PAYABLE),
                     amount_minor, fiat.value, code=int(EntryKind.PAYOUT_RETURNED), reference=reference)]


def payout_retry_hold_entry(flow_seq: int, fiat: Currency, amount_minor: int, reference: str,
                            attempt: int) -> list[Transfer]:
    """A returned payout made again: hold the reserve cash for it under the payout attempt's id, which the bank's
    debit then settles like a first payout."""
    return [Transfer(payout_hold_id(flow_seq, attempt), book_account_id(fiat, Book.REDEMPTIONS_PAYABLE),
                     book_account_id(fiat, Book.RESERVE_CASH), amount_minor, fiat.value,
                     code=int(EntryKind.PAYOUT_RETRY), reference=reference, flags=int(TransferFlags.PENDING))]


def bank_charge_entry(fiat: Currency, amount_minor: int, entry_key: str, reference: str) -> list[Transfer]:
    """The bank debited its charges from the reserve account: an expense of the issuer (its own money, never the
    holders'), keyed by the bank entry so re-reading a file never books it twice."""
    seq = int(hashlib.sha256(entry_key.encode()).hexdigest()[:12], 16) % (flow_seq_max - 1) + 1
    return [Transfer(transfer_id(EntryKind.BANK_CHARGE, seq, 0), book_account_id(fiat, Book.BANK_CHARGES),
                     book_account_id(fiat, Book.RESERVE_CASH), amount_minor, fiat.value,
                     code=int(EntryKind.BANK_CHARGE), reference=reference[:64])]


def refund_hold_entry(refund_seq: int, fiat: Currency, amount_minor: int, from_account_id: int,
                      reference: str) -> list[Transfer]:
    """Money going back to whoever paid it (a suspense credit, a held subscription): the liability it sat in
    (suspense, or the customer's funds) is debited and the reserve cash for it held (pending) until the bank's
    statement shows the refund left; nothing is posted out of the reserve before that."""
    return [Transfer(refund_hold_id(refund_seq), from_account_id, book_account_id(fiat, Book.RESERVE_CASH),
                     amount_minor, fiat.value, code=int(EntryKind.REFUND), reference=reference,
                     flags=int(TransferFlags.PENDING))]


def refund_hold_id(refund_seq: int) -> int:
    return transfer_id(EntryKind.REFUND, refund_seq, 0)


def refund_settled_entry(refund_seq: int, reference: str) -> list[Transfer]:
    """The bank paid the refund: post its held reserve cash."""
    return [Transfer(transfer_id(EntryKind.REFUND_SETTLED, refund_seq, 0), 0, 0, 0, "",
                     code=int(EntryKind.REFUND_SETTLED), reference=reference,
                     flags=int(TransferFlags.POST_PENDING), pending_id=refund_hold_id(refund_seq))]


def _link(legs: list[Transfer]) -> list[Transfer]:
    """Mark every leg but the last LINKED, so the entry is all-or-nothing."""
    out = []
    for i, t in enumerate(legs):
        if i < len(legs) - 1:
            out.append(Transfer(t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code,
                                t.reference, t.flags | int(TransferFlags.LINKED), t.pending_id, t.timeout_s))
        else:
            out.append(t)
    return out


def require_ok(results: Iterable[str], what: str, *, new: bool = False) -> None:
    """A ledger entry the service builds must be accepted whole (or already be there, identical, from a retry).
    With `new`, the entry must not exist at all: its flow was just claimed, so one already booked means another
    runner booked it (`exists` is a conflict, never success)."""
    allowed = ("ok",) if new else ("ok", "exists")
    bad = [r for r in results if r not in allowed]
    if bad:
        raise RefusedError(f"the ledger refused the {what} entry: {', '.join(bad)}", code=f"ledger_{bad[0]}")
