"""Trade settlement use cases: invoices paid through escrow, firm quotes and CNH/HKD swaps, trade payouts and
the trade report. Plain arguments in, domain values out; every dependency comes in `SettlementDeps`.

Ledger mirror: each holder has a ledger account per coin, each escrow one account, each coin an `outside`
account that coins enter the mirror from (`sync_holder` posts the difference to the on-chain balance). A chain
step is mirrored two-phase, like the chain's own journal: a pending ledger transfer first (the ledger refuses
what the mirror cannot afford, before anything is signed), then the chain transaction, then post; when the
chain refuses, the pending transfer is voided, so a refusal changes neither the chain nor the ledger balances.
Transfer ids derive from the idempotency key, so a retry finds what the first attempt did.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from bauhinia.domain import settlement as st
from bauhinia.domain.banking import Party, PaymentBatch, PaymentFile, PayoutInstruction
from bauhinia.domain.chain import ChainTx, normalise_address
from bauhinia.domain.errors import (
    BauhiniaError,
    ConflictError,
    ForbiddenError,
    InvariantViolation,
    NotFoundError,
    RefusedError,
    ValidationError,
)
from bauhinia.domain.ledger import DR_LIMIT as LEDGER_DR_LIMIT
from bauhinia.domain.ledger import F_LINKED, F_PENDING, F_POST, F_VOID, Account, AccountKind, Transfer
from bauhinia.domain.money import Currency
from bauhinia.ports import Bank, Clock

NS_PER_S = 1_000_000_000
LEDGER_CODE_SETTLEMENT = 600  # ledger `code` of settlement accounts and transfers


# --- ports of this capability (small, so each adapter is swappable) -----------------------------------------


class Verdict(Protocol):
    @property
    def decision(self) -> str:
        """One of: clear, review, hit."""
        ...

    @property
    def detail(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ScreeningVerdict:
    decision: str  # "clear" | "review" | "hit"
    detail: str = ""


class Screener(Protocol):
    """Screens a trade party's name (sanctions lists) and chain address (listed wallets).
    Implementation: adapters.screening.trade_screener.TradeScreener; tests use a fake."""

    def screen_party(self, name: str, country: str, address: str) -> Verdict: ...


class SettlementStore(Protocol):
    def put_party(self, party: st.TradeParty, decision: str, now_ns: int) -> None: ...
    def get_party(self, party_id: str) -> st.TradeParty | None: ...
    def party_screening(self, party_id: str) -> tuple[str, int] | None: ...
    def insert_invoice(self, invoice: st.TradeInvoice, record: st.TransitionRecord) -> None: ...
    def save_transition(self, invoice: st.TradeInvoice, record: st.TransitionRecord) -> None: ...
    def get_invoice(self, invoice_id: str) -> st.TradeInvoice | None: ...
    def list_invoices(self, state: str | None = None, limit: int = 100, *, party_id: str | None = None,
                      after: tuple[int, str] | None = None) -> list[st.TradeInvoice]: ...
    def history(self, invoice_id: str) -> list[st.TransitionRecord]: ...
    def put_quote(self, quote: st.Quote, signature: str, now_ns: int) -> None: ...
    def get_quote(self, quote_id: str) -> tuple[st.Quote, str, str, str] | None: ...
    def set_quote_status(self, quote_id: str, status: str, detail: str, tx_hash: str | None,
                         now_ns: int) -> None: ...
    def add_payment(self, p: st.SettledPayment) -> None: ...
    def list_payments(self, start_ns: int = 0, end_ns: int = 2**63 - 1) -> list[st.SettledPayment]: ...
    def link_redemption(self, redemption_key: str, invoice_id: str, now_ns: int) -> None: ...
    def invoice_for_redemption(self, redemption_key: str) -> str | None: ...


class SettlementChainPort(Protocol):
    """The escrow and swap contracts (adapters.chain.settlement.SettlementChain)."""

    def balance_of(self, coin: Currency, address: str) -> int: ...
    def journaled(self, idempotency_key: str) -> bool: ...
    def total_supply(self, coin: Currency) -> int: ...
    def escrow_state(self, coin: Currency, escrow_id: str) -> str: ...
    def fund_escrow_by_authorization(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int, *, idempotency_key: str,
        valid_for_s: int = ...,
    ) -> ChainTx: ...
    def fund_escrow_by_permit(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int, *, idempotency_key: str,
        valid_for_s: int = ...,
    ) -> ChainTx: ...
    def fund_escrow_with_signed_authorization(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int, *, valid_after: int, valid_before: int,
        signature: str, idempotency_key: str,
    ) -> ChainTx: ...
    def authorization_to_sign(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int,
    ) -> dict[str, Any]: ...
    def release_escrow(self, coin: Currency, escrow_id: str, documents_hash: str, actor: str, *,
                       idempotency_key: str) -> ChainTx: ...
    def refund_escrow(self, coin: Currency, escrow_id: str, actor: str | None = None, *,
                      idempotency_key: str) -> ChainTx: ...
    def dispute_escrow(self, coin: Currency, escrow_id: str, actor: str, *, idempotency_key: str) -> ChainTx: ...
    def sign_quote(self, maker: str, taker: str, maker_coin: Currency, maker_amount: int, taker_coin: Currency,
                   taker_amount: int, expiry_s: int, nonce: str) -> str: ...
    def approve_swap(self, coin: Currency, owner: str, amount_base_units: int, *,
                     idempotency_key: str) -> ChainTx: ...
    def swap_allowance(self, coin: Currency, owner: str) -> int: ...
    def settle_swap(self, maker: str, taker: str, maker_coin: Currency, maker_amount: int, taker_coin: Currency,
                    taker_amount: int, expiry_s: int, nonce: str, signature: str, *,
                    idempotency_key: str) -> ChainTx: ...


class LedgerAccountView(Protocol):
    @property
    def posted(self) -> int: ...
    @property
    def available(self) -> int: ...


class SettlementLedger(Protocol):
    """What settlement uses of the ledger (adapters.store.ledger_store.SqlLedger)."""

    def create_accounts(self, batch: Sequence[Account]) -> list[str]: ...
    def create_transfers(self, batch: Sequence[Transfer]) -> list[str]: ...
    def lookup_accounts(self, ids: Sequence[int]) -> Sequence[Any]: ...
    def transfers_by_reference(self, reference: str) -> Sequence[Any]: ...


@dataclass
class SettlementDeps:
    store: SettlementStore
    chain: SettlementChainPort
    ledger: SettlementLedger
    screener: Screener
    clock: Clock
    bank: Bank | None = None
    new_nonce: Callable[[], str] = field(default=lambda: secrets.token_hex(32))
    # services.fx.FxSource: a quote whose rate is further than `quote_band_bps` from the published reference rate
    # of the day is refused (a mistyped or off-market price moves the issuer's value); None: not checked
    fx: Any = None
    quote_band_bps: int = 300

    def now_ns(self) -> int:
        return self.clock.now_ns()


# --- ledger mirror ------------------------------------------------------------------------------------------


def ledger_id(*parts: str) -> int:
    """A stable positive 62-bit ledger id for a name (accounts and transfers)."""
    digest = hashlib.sha256("\x1f".join(("settlement", *parts)).encode()).digest()
    return (int.from_bytes(digest[:8], "big") & (2**62 - 1)) | 1


def holder_account_id(coin: Currency, address: str) -> int:
    return ledger_id("holder", coin.coin.value, normalise_address(address))


def escrow_account_id(coin: Currency, invoice_id: str) -> int:
    return ledger_id("escrow", coin.coin.value, invoice_id)


def outside_account_id(coin: Currency) -> int:
    return ledger_id("outside", coin.coin.value)


def _ensure_accounts(ledger: SettlementLedger, accounts: Sequence[Account]) -> None:
    results = ledger.create_accounts(accounts)
    bad = [(a.id, r) for a, r in zip(accounts, results, strict=True) if r not in ("ok", "exists")]
    if bad:
        raise ConflictError(f"ledger refused settlement accounts: {bad}", code="ledger_accounts")


def _holder_account(coin: Currency, address: str) -> Account:
    return Account(holder_account_id(coin, address), coin.coin.value, AccountKind.LIABILITY, LEDGER_DR_LIMIT,
                   LEDGER_CODE_SETTLEMENT, f"settlement:holder:{coin.coin.value}:{normalise_address(address)}")


def _escrow_account(coin: Currency, invoice_id: str) -> Account:
    return Account(escrow_account_id(coin, invoice_id), coin.coin.value, AccountKind.LIABILITY, LEDGER_DR_LIMIT,
                   LEDGER_CODE_SETTLEMENT, f"settlement:escrow:{coin.coin.value}:{invoice_id}")


def _outside_account(coin: Currency) -> Account:
    return Account(outside_account_id(coin), coin.coin.value, AccountKind.ASSET, 0, LEDGER_CODE_SETTLEMENT,
                   f"settlement:outside:{coin.coin.value}")


def ledger_posted(ledger: SettlementLedger, account_id: int) -> int:
    found = list(ledger.lookup_accounts([account_id]))
    return int(found[0].posted) if found else 0


def ledger_balances(ledger: SettlementLedger, account_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Every balance component (pending and posted) of the accounts: what a refusal must leave unchanged."""
    return {int(v.account.id): tuple(v.balance) for v in ledger.lookup_accounts(list(account_ids))}


def sync_holder(deps: SettlementDeps, coin: Currency, address: str, *, arrivals_only: bool = False) -> int:
    """Bring the holder's mirror account to its on-chain balance (posting the difference against the coin's
    outside account). Returns the difference posted. `arrivals_only`: only coins that arrived since (mints,
    transfers in) are brought in, before a step; coins that left are for the chain to refuse, so that a refused
    step leaves the mirror as it was."""
    coin = coin.coin
    _ensure_accounts(deps.ledger, [_outside_account(coin), _holder_account(coin, address)])
    on_chain = deps.chain.balance_of(coin, address)
    mirrored = ledger_posted(deps.ledger, holder_account_id(coin, address))
    diff = on_chain - mirrored
    if diff < 0 and arrivals_only:
        return 0
    if diff:
        key = f"sync:{coin.value}:{normalise_address(address)}:{deps.now_ns()}"
        debit, credit = (outside_account_id(coin), holder_account_id(coin, address)) if diff > 0 else \
            (holder_account_id(coin, address), outside_account_id(coin))
        result = deps.ledger.create_transfers([Transfer(ledger_id("transfer", key), debit, credit, abs(diff),
                                                        coin.value, LEDGER_CODE_SETTLEMENT, key[:128])])
        if result[0] not in ("ok", "exists"):
            raise ConflictError(f"ledger refused the sync of {address}: {result[0]}", code="ledger_sync")
    return diff


@contextmanager
def _mirrored(deps: SettlementDeps, key: str, legs: Sequence[tuple[int, int, int, Currency]]) -> Iterator[None]:
    """Two-phase ledger mirror of one chain step under idempotency key `key`: pending transfers (a ledger
    refusal means nothing is signed), the body (the chain transaction), then post; void when the chain refuses.

    Each attempt has its own transfer ids (attempt n = the n-th set of pending transfers with this reference).
    When the previous attempt's transaction was journaled (it may be on chain), the retry resumes that attempt
    instead: its pending transfers are posted once the chain confirms it."""
    prior = [r for r in deps.ledger.transfers_by_reference(key[:128]) if r.flags & F_PENDING]
    attempt = len(prior) // len(legs)
    if attempt and deps.chain.journaled(key):
        attempt -= 1
    ids = [ledger_id("transfer", key, str(attempt), str(i)) for i in range(len(legs))]
    pending = [
        Transfer(tid, debit, credit, amount, coin.coin.value, LEDGER_CODE_SETTLEMENT, key[:128],
                 F_PENDING | (F_LINKED if i < len(legs) - 1 else 0))
        for i, (tid, (debit, credit, amount, coin)) in enumerate(zip(ids, legs, strict=True))
    ]
    results = deps.ledger.create_transfers(pending)
    bad = [r for r in results if r not in ("ok", "exists")]
    if bad:
        raise RefusedError(f"the ledger refuses {key}: {', '.join(sorted(set(bad)))}", code="ledger_refused")

    def finish(flag: int, suffix: str, done_already: str) -> None:
        batch = [Transfer(ledger_id("transfer", key, str(attempt), str(i), suffix), 0, 0, 0, "",
                          LEDGER_CODE_SETTLEMENT, key[:128], flag | (F_LINKED if i < len(ids) - 1 else 0),
                          pending_id=tid)
                 for i, tid in enumerate(ids)]
        out = deps.ledger.create_transfers(batch)
        wrong = [r for r in out if r not in ("ok", "exists", done_already)]
        if wrong:
            raise InvariantViolation(f"ledger could not {suffix} {key}: {wrong}")

    try:
        yield
    except RefusedError:  # the chain refused (dry run or reverted): nothing moved there
        finish(F_VOID, "void", "pending_transfer_already_voided")
        raise
    # any other error (a wait that timed out...) leaves the transfers pending: a retry resumes them
    finish(F_POST, "post", "pending_transfer_already_posted")


# --- parties and screening ----------------------------------------------------------------------------------


def register_party(deps: SettlementDeps, party_id: str, name: str, country: str, address: str) -> st.TradeParty:
    """Screen and remember a trade party (refused when the screener finds a hit or needs a review)."""
    party = st.TradeParty(party_id, name, country.strip().upper(), address)
    verdict = deps.screener.screen_party(party.name, party.country, party.address)
    deps.store.put_party(party, verdict.decision, deps.now_ns())
    if verdict.decision != "clear":
        raise RefusedError(f"party {party_id} is not clear to trade ({verdict.decision}): {verdict.detail}",
                           code=f"screening_{verdict.decision}")
    for coin in (Currency.BCNH, Currency.BHKD):
        sync_holder(deps, coin, party.address)
    return party


def _screened(deps: SettlementDeps, party: st.TradeParty) -> None:
    """Both parties are screened again at every money movement (lists change)."""
    verdict = deps.screener.screen_party(party.name, party.country, party.address)
    if verdict.decision != "clear":
        deps.store.put_party(party, verdict.decision, deps.now_ns())
        raise RefusedError(f"party {party.party_id} is not clear to trade ({verdict.decision}): {verdict.detail}",
                           code=f"screening_{verdict.decision}")


def _party(deps: SettlementDeps, party_id: str) -> st.TradeParty:
    party = deps.store.get_party(party_id)
    if party is None:
        raise NotFoundError(f"no trade party {party_id!r}; register it first", code="party_not_found")
    screening = deps.store.party_screening(party_id)
    if screening is None or screening[0] != "clear":
        raise RefusedError(f"party {party_id} is not clear to trade", code="screening_not_clear")
    return party


# --- invoices -----------------------------------------------------------------------------------------------


def _invoice(deps: SettlementDeps, invoice_id: str) -> st.TradeInvoice:
    invoice = deps.store.get_invoice(invoice_id)
    if invoice is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", code="invoice_not_found")
    return invoice


def issue_invoice(
    deps: SettlementDeps, *, invoice_id: str, exporter_id: str, importer_id: str, currency: Currency,
    due_date: date, line_items: Sequence[tuple[str, int, int]], bill_of_lading_hash: str, packing_list_hash: str,
    amount_minor: int | None = None, agent_address: str | None = None,
) -> st.TradeInvoice:
    """Issue an invoice. `line_items`: (description, quantity, amount_minor) whose amounts sum to the total."""
    exporter, importer = _party(deps, exporter_id), _party(deps, importer_id)
    invoice, record = st.issue_invoice(
        invoice_id=invoice_id, exporter=exporter, importer=importer, currency=currency, due_date=due_date,
        line_items=[st.LineItem(d, q, a) for d, q, a in line_items], bill_of_lading_hash=bill_of_lading_hash,
        packing_list_hash=packing_list_hash, now_ns=deps.now_ns(), amount_minor=amount_minor,
        agent_address=agent_address,
    )
    existing = deps.store.get_invoice(invoice_id)
    if existing is not None:
        if (existing.exporter, existing.importer, existing.amount_minor, existing.line_items,
                existing.documents_hash) == (invoice.exporter, invoice.importer, invoice.amount_minor,
                                             invoice.line_items, invoice.documents_hash):
            return existing  # the same issue again: idempotent
        raise ConflictError(f"invoice {invoice_id} exists with other terms", code="invoice_exists")
    deps.store.insert_invoice(invoice, record)
    return invoice


def accept_invoice(deps: SettlementDeps, invoice_id: str, actor_address: str) -> st.TradeInvoice:
    invoice = _invoice(deps, invoice_id)
    new, record = st.accept_invoice(invoice, actor_address=actor_address, now_ns=deps.now_ns())
    deps.store.save_transition(new, record)
    return new


@dataclass(frozen=True, slots=True)
class SignedAuthorization:
    """An EIP-3009 ReceiveWithAuthorization the importer signed with its own wallet (see
    `funding_authorization`): the relayer submits it, so the importer's key never comes here."""

    valid_after: int
    valid_before: int
    signature: str  # 0x r s v, 65 bytes


def funding_authorization(deps: SettlementDeps, invoice_id: str, *, escrow_expiry_s: int | None = None
                          ) -> tuple[int, dict[str, Any]]:
    """What the importer signs to fund an accepted invoice by EIP-3009 authorisation: (escrow expiry, EIP-712
    typed data). Pass the same expiry and the signature to `fund_invoice`."""
    invoice = _invoice(deps, invoice_id)
    if invoice.state is not st.InvoiceState.ACCEPTED:
        raise ConflictError(f"invoice {invoice_id} is {invoice.state}; only an accepted invoice is funded",
                            code="bad_transition")
    now_ns = deps.now_ns()
    expiry_s = escrow_expiry_s or st.escrow_expiry_for(invoice, now_ns=now_ns)
    st.fund_invoice(invoice, actor_address=invoice.importer.address, escrow_expiry_s=expiry_s, now_ns=now_ns)
    typed = deps.chain.authorization_to_sign(invoice.coin, invoice.escrow_id, invoice.importer.address,
                                             invoice.exporter.address, invoice.agent_address,
                                             invoice.amount_base_units, invoice.documents_hash, expiry_s)
    return expiry_s, typed


def fund_invoice(deps: SettlementDeps, invoice_id: str, *, method: str = "authorization",
                 escrow_expiry_s: int | None = None, authorization: SignedAuthorization | None = None
                 ) -> st.TradeInvoice:
    """Lock the invoice's coins in escrow: `authorization` (EIP-3009, relayed: the importer needs no gas) or
    `permit` (EIP-2612, the importer submits). With `authorization` given, the importer signed it elsewhere
    (with `escrow_expiry_s` from `funding_authorization`); otherwise this process holds the importer's key."""
    invoice = _invoice(deps, invoice_id)
    if invoice.state is not st.InvoiceState.ACCEPTED:
        if invoice.state in (st.InvoiceState.FUNDED, st.InvoiceState.RELEASED, st.InvoiceState.REFUNDED,
                             st.InvoiceState.DISPUTED):
            return invoice  # already funded: the retry changes nothing
        raise ConflictError(f"invoice {invoice_id} is {invoice.state}; accept it first", code="bad_transition")
    now_ns = deps.now_ns()
    expiry_s = escrow_expiry_s or st.escrow_expiry_for(invoice, now_ns=now_ns)
    new, record = st.fund_invoice(invoice, actor_address=invoice.importer.address, escrow_expiry_s=expiry_s,
                                  now_ns=now_ns, reference=f"{invoice_id}:fund")
    _screened(deps, invoice.importer)
    _screened(deps, invoice.exporter)
    coin = invoice.coin
    _ensure_accounts(deps.ledger, [_holder_account(coin, invoice.importer.address),
                                   _escrow_account(coin, invoice_id)])
    key = f"trade:{invoice_id}:fund"
    legs = [(holder_account_id(coin, invoice.importer.address), escrow_account_id(coin, invoice_id),
             invoice.amount_base_units, coin)]
    if method not in ("authorization", "permit"):
        raise ValidationError("funding method is authorization or permit", code="bad_method")
    if authorization is not None and method != "authorization":
        raise ValidationError("a signed authorisation funds by the authorization method", code="bad_method")
    sync_holder(deps, coin, invoice.importer.address, arrivals_only=True)  # coins that arrived since
    terms = (coin, invoice.escrow_id, invoice.importer.address, invoice.exporter.address, invoice.agent_address,
             invoice.amount_base_units, invoice.documents_hash, expiry_s)
    with _mirrored(deps, key, legs):
        if authorization is not None:
            tx = deps.chain.fund_escrow_with_signed_authorization(
                *terms, valid_after=authorization.valid_after, valid_before=authorization.valid_before,
                signature=authorization.signature, idempotency_key=key)
        elif method == "authorization":
            tx = deps.chain.fund_escrow_by_authorization(*terms, idempotency_key=key)
        else:
            tx = deps.chain.fund_escrow_by_permit(*terms, idempotency_key=key)
    record = st.TransitionRecord(record.invoice_id, record.sequence, record.from_state, record.to_state,
                                 record.actor, record.at_ns, f"{record.reason} ({method})", tx.tx_hash)
    deps.store.save_transition(new, record)
    return new


def release_invoice(deps: SettlementDeps, invoice_id: str, actor_address: str,
                    presented_documents_hash: str) -> st.TradeInvoice:
    """The importer or the agent accepts the documents (the hash must be the one locked): pay the exporter."""
    invoice = _invoice(deps, invoice_id)
    new, record = st.release_invoice(invoice, actor_address=actor_address,
                                     presented_documents_hash=presented_documents_hash, now_ns=deps.now_ns())
    _screened(deps, invoice.exporter)
    coin = invoice.coin
    sync_holder(deps, coin, invoice.exporter.address, arrivals_only=True)
    key = f"trade:{invoice_id}:release"
    legs = [(escrow_account_id(coin, invoice_id), holder_account_id(coin, invoice.exporter.address),
             invoice.amount_base_units, coin)]
    with _mirrored(deps, key, legs):
        tx = deps.chain.release_escrow(coin, invoice.escrow_id, invoice.documents_hash, actor_address,
                                       idempotency_key=key)
    deps.store.save_transition(new, _with_reference(record, tx.tx_hash))
    deps.store.add_payment(st.SettledPayment(
        "invoice", invoice_id, invoice.importer.address, invoice.exporter.address, invoice.importer.country,
        invoice.exporter.country, coin, invoice.amount_base_units, new.updated_at_ns))
    return new


def refund_invoice(deps: SettlementDeps, invoice_id: str, actor_address: str | None = None) -> st.TradeInvoice:
    """Return the coins to the importer after the escrow's expiry (anyone; the relayer by default), or by the
    agent's decision on a dispute."""
    invoice = _invoice(deps, invoice_id)
    actor = actor_address or invoice.importer.address
    new, record = st.refund_invoice(invoice, actor_address=actor, now_ns=deps.now_ns())
    coin = invoice.coin
    key = f"trade:{invoice_id}:refund"
    legs = [(escrow_account_id(coin, invoice_id), holder_account_id(coin, invoice.importer.address),
             invoice.amount_base_units, coin)]
    with _mirrored(deps, key, legs):
        tx = deps.chain.refund_escrow(coin, invoice.escrow_id, actor_address, idempotency_key=key)
    deps.store.save_transition(new, _with_reference(record, tx.tx_hash))
    return new


def dispute_invoice(deps: SettlementDeps, invoice_id: str, actor_address: str, reason: str) -> st.TradeInvoice:
    invoice = _invoice(deps, invoice_id)
    new, record = st.dispute_invoice(invoice, actor_address=actor_address, reason=reason, now_ns=deps.now_ns())
    tx = deps.chain.dispute_escrow(invoice.coin, invoice.escrow_id, actor_address,
                                   idempotency_key=f"trade:{invoice_id}:dispute")
    deps.store.save_transition(new, _with_reference(record, tx.tx_hash))
    return new


def _with_reference(record: st.TransitionRecord, reference: str) -> st.TransitionRecord:
    return st.TransitionRecord(record.invoice_id, record.sequence, record.from_state, record.to_state,
                               record.actor, record.at_ns, record.reason, reference)


def invoice_with_history(deps: SettlementDeps, invoice_id: str) -> tuple[st.TradeInvoice, list[st.TransitionRecord]]:
    invoice = _invoice(deps, invoice_id)
    records = deps.store.history(invoice_id)
    st.check_history(invoice, records)
    return invoice, records


# --- quotes and swaps ---------------------------------------------------------------------------------------


def create_quote(
    deps: SettlementDeps, *, maker: str, taker: str, taker_coin: Currency, taker_amount_base_units: int,
    rate: str, rounding: st.Rounding = st.Rounding.DOWN, ttl_s: int = 60, quote_id: str | None = None,
) -> tuple[st.Quote, str]:
    """A firm quote signed by the maker: the taker pays `taker_amount_base_units` of `taker_coin` and receives
    the other coin at `rate` (a decimal string: one unit of the taker's currency in the maker's)."""
    taker_coin = taker_coin.coin
    maker_coin = Currency.BHKD if taker_coin is Currency.BCNH else Currency.BCNH
    now_s = deps.now_ns() // NS_PER_S
    parsed = st.Rate.parse(taker_coin.fiat, maker_coin.fiat, rate)
    _check_against_reference(deps, parsed)
    nonce = deps.new_nonce()
    quote = st.make_quote(
        quote_id=quote_id or f"Q-{nonce[:16]}", maker=maker, taker=taker, taker_coin=taker_coin,
        taker_amount_base_units=taker_amount_base_units, rate=parsed,
        rounding=rounding, now_s=now_s, ttl_s=ttl_s, nonce=nonce,
    )
    signature = deps.chain.sign_quote(quote.maker, quote.taker, quote.maker_coin, quote.maker_amount_base_units,
                                      quote.taker_coin, quote.taker_amount_base_units, quote.expiry_s, quote.nonce)
    deps.store.put_quote(quote, signature, deps.now_ns())
    return quote, signature


def _check_against_reference(deps: SettlementDeps, rate: st.Rate) -> None:
    """Refuse a quote further than the band from the day's published rate (services.fx); without a current
    published rate there is nothing to check against, and the quote stands on the maker's signature alone."""
    if deps.fx is None:
        return
    try:
        ref = deps.fx.quote(rate.base.fiat, rate.quote.fiat)
    except LookupError:
        return
    if ref.fallback:
        return
    # |rate - ref| / ref in bps, exactly: rate = n/d, ref = r/1e6
    off_bps = abs(rate.numerator * 1_000_000 - ref.rate_micro * rate.denominator) * 10_000 // (
        ref.rate_micro * rate.denominator)
    if off_bps > deps.quote_band_bps:
        raise RefusedError(f"rate {rate.numerator / rate.denominator:.6f} {rate.base.value}->{rate.quote.value} is "
                           f"{off_bps} bps from the published {ref.rate_micro / 1_000_000:.6f} of "
                           f"{ref.published_on} (band {deps.quote_band_bps} bps)", code="off_market_rate")


@dataclass(frozen=True, slots=True)
class SwapResult:
    quote: st.Quote
    tx_hash: str


def settle_swap(deps: SettlementDeps, quote_id: str, *, countries: Mapping[str, str] | None = None,
                approve: bool = True) -> SwapResult:
    """The taker settles the quote: both legs in one transaction or neither, mirrored in the ledger the same
    way. `approve` lets this process approve each side's leg to the swap contract when its key is here."""
    found = deps.store.get_quote(quote_id)
    if found is None:
        raise NotFoundError(f"no quote {quote_id!r}", code="quote_not_found")
    quote, signature, status, detail = found
    if status == "settled":
        return SwapResult(quote, detail)
    now_ns = deps.now_ns()
    try:
        st.check_quote_settleable(quote, now_ns // NS_PER_S)
    except RefusedError as exc:
        deps.store.set_quote_status(quote_id, "refused", str(exc), None, now_ns)
        raise
    key = f"swap:{quote_id}"
    for c in (Currency.BCNH, Currency.BHKD):
        for a in (quote.maker, quote.taker):
            sync_holder(deps, c, a, arrivals_only=True)  # coins that arrived since the parties registered
    legs = [
        (holder_account_id(quote.maker_coin, quote.maker), holder_account_id(quote.maker_coin, quote.taker),
         quote.maker_amount_base_units, quote.maker_coin),
        (holder_account_id(quote.taker_coin, quote.taker), holder_account_id(quote.taker_coin, quote.maker),
         quote.taker_amount_base_units, quote.taker_coin),
    ]
    try:
        if approve:  # an allowance is not a balance: granting one changes no balance on chain or in the ledger
            for coin, owner, amount in ((quote.maker_coin, quote.maker, quote.maker_amount_base_units),
                                        (quote.taker_coin, quote.taker, quote.taker_amount_base_units)):
                if deps.chain.swap_allowance(coin, owner) < amount:
                    deps.chain.approve_swap(coin, owner, amount, idempotency_key=f"{key}:approve:{coin.value}")
        with _mirrored(deps, key, legs):
            tx = deps.chain.settle_swap(quote.maker, quote.taker, quote.maker_coin, quote.maker_amount_base_units,
                                        quote.taker_coin, quote.taker_amount_base_units, quote.expiry_s, quote.nonce,
                                        signature, idempotency_key=key)
    except BauhiniaError as exc:
        deps.store.set_quote_status(quote_id, "refused", str(exc), None, deps.now_ns())
        raise
    deps.store.set_quote_status(quote_id, "settled", tx.tx_hash, tx.tx_hash, deps.now_ns())
    where = countries or {}
    maker_cc, taker_cc = where.get(quote.maker, "HK"), where.get(quote.taker, "HK")
    at = deps.now_ns()
    deps.store.add_payment(st.SettledPayment("swap", f"{quote_id}:maker", quote.maker, quote.taker, maker_cc,
                                             taker_cc, quote.maker_coin, quote.maker_amount_base_units, at))
    deps.store.add_payment(st.SettledPayment("swap", f"{quote_id}:taker", quote.taker, quote.maker, taker_cc,
                                             maker_cc, quote.taker_coin, quote.taker_amount_base_units, at))
    return SwapResult(quote, tx.tx_hash)


# --- payouts and reports ------------------------------------------------------------------------------------


def trade_payout_batch(invoice: st.TradeInvoice, *, debtor: Party, creditor: Party, created_at: datetime,
                       execution_date: date, payout_reference: str | None = None) -> PaymentBatch:
    """The fiat payout of a released invoice's proceeds (after the exporter redeems the coins): the invoice
    number travels in the ISO 20022 remittance information (Ustrd and Strd/RfrdDocInf/Nb)."""
    if invoice.state is not st.InvoiceState.RELEASED:
        raise ConflictError(f"invoice {invoice.invoice_id} is {invoice.state}; only released invoices pay out",
                            code="not_released")
    reference = payout_reference or ("TRD" + st.escrow_key(invoice.invoice_id)[:20].upper())
    payout = PayoutInstruction(reference, invoice.amount_minor, invoice.currency.value, creditor,
                               invoice_reference=invoice.invoice_id)
    return PaymentBatch(f"MSG-{reference}"[:35], created_at, debtor, execution_date, (payout,))


def link_trade_redemption(deps: SettlementDeps, invoice_id: str, redemption_key: str, party_id: str) -> None:
    """Record that the redemption under `redemption_key` (its idempotency key) turns a released invoice's coins
    into fiat for the exporter `party_id`: its payout then carries the invoice number in the payout file's
    remittance information (pain.001 or pacs.008). Call before the redemption is paid out."""
    invoice = _invoice(deps, invoice_id)
    if invoice.state is not st.InvoiceState.RELEASED:
        raise ConflictError(f"invoice {invoice_id} is {invoice.state}; only a released invoice's proceeds are "
                            "redeemed as trade proceeds", code="not_released")
    if party_id != invoice.exporter.party_id:
        raise ForbiddenError(f"{party_id} is not the exporter of {invoice_id}", code="not_exporter")
    if not 0 < len(redemption_key) <= 120:
        raise ValidationError("a redemption key of 1..120 characters is required", code="bad_key")
    deps.store.link_redemption(redemption_key, invoice_id, deps.now_ns())


def pay_out_trade(deps: SettlementDeps, invoice_id: str, *, debtor: Party, creditor: Party,
                  execution_date: date, created_at: datetime) -> PaymentFile:
    if deps.bank is None:
        raise ValidationError("no bank adapter configured", code="bank_missing")
    batch = trade_payout_batch(_invoice(deps, invoice_id), debtor=debtor, creditor=creditor,
                               created_at=created_at, execution_date=execution_date)
    return deps.bank.write_payment_file(batch)


def trade_report(deps: SettlementDeps, *, start_ns: int = 0, end_ns: int = 2**63 - 1) -> st.TradeFigures:
    supply = {c: deps.chain.total_supply(c) for c in (Currency.BCNH, Currency.BHKD)}
    return st.trade_figures(deps.store.list_payments(start_ns, end_ns), supply)
