"""The double-entry ledger core: accounts, transfers (pending -> posted | voided | expired), balance rules.

Pure and synchronous. The store hands in what it loaded (accounts with balances, existing transfers with the
same ids, referenced pending transfers) and the time; the functions here validate a batch, apply it to a
private working copy of the balances, and return the results, the records to persist and the new balances.
Inputs are never mutated.

Shapes follow TigerBeetle's model: client-chosen integer ids make every create idempotent; errors are values,
one result per event; a linked chain of transfers succeeds or fails as a whole; a pending transfer holds funds
until it is posted (wholly or in part), voided, or expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag, StrEnum
from typing import NamedTuple

from bauhinia.domain.errors import InvariantViolation, ValidationError
from bauhinia.domain.limits import (
    account_batch_size_max,
    account_reference_length_max,
    int64_max,
    pending_timeout_s_max,
    transfer_amount_max,
    transfer_batch_size_max,
    transfer_reference_length_max,
)
from bauhinia.domain.money import Currency

NS_PER_S = 1_000_000_000
KNOWN_CURRENCIES = frozenset(c.value for c in Currency)


class AccountKind(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow with debits; the others grow with credits."""
        return self in (AccountKind.ASSET, AccountKind.EXPENSE)


class AccountFlags(IntFlag):
    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 2


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1  # this transfer and the next one succeed or fail together
    PENDING = 2  # hold the amount; post or void later
    POST_PENDING = 4  # post (part of) the pending transfer `pending_id`
    VOID_PENDING = 8  # release the pending transfer `pending_id`
    EXPIRED = 16  # set by the ledger on the record that releases a pending transfer whose timeout passed


DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CR_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
F_LINKED = int(TransferFlags.LINKED)
F_PENDING = int(TransferFlags.PENDING)
F_POST = int(TransferFlags.POST_PENDING)
F_VOID = int(TransferFlags.VOID_PENDING)
F_EXPIRED = int(TransferFlags.EXPIRED)
F_CLIENT = F_LINKED | F_PENDING | F_POST | F_VOID


class CreateAccountResult(StrEnum):
    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    ID_MUST_BE_POSITIVE = "id_must_be_positive"
    ID_TOO_LARGE = "id_too_large"
    ID_ALREADY_IN_BATCH = "id_already_in_batch"
    UNKNOWN_CURRENCY = "unknown_currency"
    UNKNOWN_KIND = "unknown_kind"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    UNKNOWN_FLAGS = "unknown_flags"
    REFERENCE_TOO_LONG = "reference_too_long"
    CODE_OUT_OF_RANGE = "code_out_of_range"


class CreateTransferResult(StrEnum):
    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ID_MUST_BE_POSITIVE = "id_must_be_positive"
    ID_TOO_LARGE = "id_too_large"
    ID_ALREADY_IN_BATCH = "id_already_in_batch"
    UNKNOWN_FLAGS = "unknown_flags"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    AMOUNT_NOT_AN_INTEGER = "amount_not_an_integer"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    CURRENCY_MISMATCH = "currency_mismatch"
    DEBIT_ACCOUNT_CLOSED = "debit_account_closed"
    CREDIT_ACCOUNT_CLOSED = "credit_account_closed"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"
    OVERFLOWS_BALANCE = "overflows_balance"
    REFERENCE_TOO_LONG = "reference_too_long"
    CODE_OUT_OF_RANGE = "code_out_of_range"
    TIMEOUT_RESERVED_FOR_PENDING = "timeout_reserved_for_pending_transfer"
    TIMEOUT_OUT_OF_RANGE = "timeout_out_of_range"
    PENDING_ID_MUST_BE_ZERO = "pending_id_must_be_zero"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = "pending_transfer_has_different_accounts"
    PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY = "pending_transfer_has_different_currency"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"
    VOID_AMOUNT_MUST_BE_ZERO_OR_FULL = "void_amount_must_be_zero_or_pending_amount"


class BatchError(StrEnum):
    """Errors of a batch as a whole: nothing in it is applied."""

    EMPTY = "batch_empty"
    TOO_LARGE = "batch_too_large"


class PendingStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Account:
    """An account. `reference` is the caller's reference data (customer id, bank account, purpose)."""

    id: int
    currency: str
    kind: AccountKind
    flags: int = 0
    code: int = 0
    reference: str | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    """A request to move `amount` (in the currency's smallest unit) from the debit to the credit account.

    For POST_PENDING / VOID_PENDING, `pending_id` names the pending transfer; accounts and currency may be
    left 0 / "" (they are taken from it) and amount 0 means the full pending amount.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: int = 0
    reference: str | None = None
    flags: int = 0
    pending_id: int = 0
    timeout_s: int = 0


class TransferRecord(NamedTuple):
    """A transfer as the ledger stored it. `timestamp` (ns, unique, increasing) is set by the ledger.

    Records with a negative id are written by the ledger itself: -pending_id for the release of an expired
    pending transfer (flags VOID_PENDING | EXPIRED).
    """

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


# A stored transfer as a plain tuple, in TransferRecord's field order (what the store writes and reads).
RecordRow = tuple[int, int, int, int, str, int, str | None, int, int, int, int]


class PendingState(NamedTuple):
    """The state of a pending transfer: what it holds and what became of it."""

    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    status: str
    amount_posted: int
    expires_at_ns: int  # 0: never


class Balance(NamedTuple):
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    def posted_for(self, kind: AccountKind) -> int:
        """The posted balance in the account's normal direction (positive for a funded asset or liability)."""
        net = self.debits_posted - self.credits_posted
        return net if kind.debit_normal else -net

    def available_for(self, kind: AccountKind) -> int:
        """The posted balance less what pending transfers hold against it."""
        if kind.debit_normal:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending


ZERO_BALANCE = Balance(0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class TransferBatchOutcome:
    """What applying a batch produced. `results[i]` belongs to the i-th transfer of the batch."""

    results: list[str]
    records: list[RecordRow]
    balances: dict[int, Balance]
    pending_changes: dict[int, PendingState]
    last_timestamp: int
    batch_error: str | None = None

    @property
    def ok_count(self) -> int:
        return sum(1 for r in self.results if r == "ok")


@dataclass(frozen=True, slots=True)
class AccountBatchOutcome:
    results: list[str]
    created: list[Account]
    batch_error: str | None = None


@dataclass(slots=True)
class _Work:
    """Private working state while one batch is applied; undone chain by chain."""

    balances: dict[int, list[int]] = field(default_factory=dict)
    pending: dict[int, PendingState] = field(default_factory=dict)
    undo_balances: list[tuple[int, list[int]]] = field(default_factory=list)
    undo_pending: list[tuple[int, PendingState | None]] = field(default_factory=list)

    def clear_undo(self) -> None:
        self.undo_balances.clear()
        self.undo_pending.clear()


def _valid_code(code: object) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 65_535


def create_accounts(
    batch: Sequence[Account], existing: Mapping[int, Account]
) -> AccountBatchOutcome:
    """Validate a batch of new accounts against those already stored with the same ids."""
    if not batch:
        return AccountBatchOutcome([], [], BatchError.EMPTY.value)
    if len(batch) > account_batch_size_max:
        return AccountBatchOutcome([], [], BatchError.TOO_LARGE.value)
    results: list[str] = []
    created: list[Account] = []
    seen: set[int] = set()
    R = CreateAccountResult
    for a in batch:
        r = R.OK
        if not isinstance(a.id, int) or a.id <= 0:
            r = R.ID_MUST_BE_POSITIVE
        elif a.id > int64_max:
            r = R.ID_TOO_LARGE
        elif a.id in seen:
            r = R.ID_ALREADY_IN_BATCH
        elif a.id in existing:
            r = R.EXISTS if existing[a.id] == a else R.EXISTS_WITH_DIFFERENT_FIELDS
        elif a.currency not in KNOWN_CURRENCIES:
            r = R.UNKNOWN_CURRENCY
        elif not isinstance(a.kind, AccountKind):
            r = R.UNKNOWN_KIND
        elif a.flags & ~(DR_LIMIT | CR_LIMIT):
            r = R.UNKNOWN_FLAGS
        elif a.flags & DR_LIMIT and a.flags & CR_LIMIT:
            r = R.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        elif a.reference is not None and len(a.reference) > account_reference_length_max:
            r = R.REFERENCE_TOO_LONG
        elif not _valid_code(a.code):
            r = R.CODE_OUT_OF_RANGE
        if isinstance(a.id, int):
            seen.add(a.id)
        if r is R.OK:
            if a.closed:
                a = Account(a.id, a.currency, a.kind, a.flags, a.code, a.reference, False)
            created.append(a)
        results.append(r.value)
    return AccountBatchOutcome(results, created)


def _same_request(rec: TransferRecord, t: Transfer) -> bool:
    """Is `t` a retry of the stored `rec`? Post/void records hold resolved accounts, currency and amount,
    so a retry may leave those 0 / "" as the original request did."""
    if rec.flags & (F_POST | F_VOID):
        return (
            rec.flags == t.flags
            and rec.pending_id == t.pending_id
            and rec.code == t.code
            and rec.reference == t.reference
            and t.debit_account_id in (0, rec.debit_account_id)
            and t.credit_account_id in (0, rec.credit_account_id)
            and t.currency in ("", rec.currency)
            and t.amount in (0, rec.amount)
        )
    return (
        rec.debit_account_id == t.debit_account_id
        and rec.credit_account_id == t.credit_account_id
        and rec.amount == t.amount
        and rec.currency == t.currency
        and rec.code == t.code
        and rec.reference == t.reference
        and rec.flags == t.flags
        and rec.pending_id == t.pending_id
        and rec.timeout_s == t.timeout_s
    )


def apply_transfers(
    batch: Sequence[Transfer],
    accounts: Mapping[int, Account],
    balances: Mapping[int, Balance],
    existing: Mapping[int, TransferRecord],
    pending: Mapping[int, PendingState],
    now_ns: int,
    last_timestamp: int,
) -> TransferBatchOutcome:
    """Validate and apply a batch of transfers.

    `accounts`/`balances` must hold every account the batch names that exists; `existing` the stored
    transfers whose ids appear in the batch; `pending` the
    state of every pending transfer the batch posts or voids. Returns one result per transfer.
    """
    if not batch:
        return TransferBatchOutcome([], [], {}, {}, last_timestamp, BatchError.EMPTY.value)
    if len(batch) > transfer_batch_size_max:
        return TransferBatchOutcome([], [], {}, {}, last_timestamp, BatchError.TOO_LARGE.value)

    R = CreateTransferResult
    ok = R.OK.value
    n = len(batch)
    results: list[str] = [ok] * n
    records: list[RecordRow] = []
    work = _Work()
    wbal = work.balances
    seen: set[int] = set()
    ts = max(now_ns, last_timestamp + 1)
    ts0 = ts

    chain_start = -1  # index of the first transfer of the open linked chain, or -1
    chain_records = 0  # len(records) when the chain opened
    chain_failed = False
    chain_new = chain_existing = False  # whether the open chain applied new transfers / met stored ones

    get_account = accounts.get
    get_balance = balances.get
    append = records.append
    R_EXCEEDS_CREDITS = R.EXCEEDS_CREDITS.value
    R_EXCEEDS_DEBITS = R.EXCEEDS_DEBITS.value
    for i in range(n):
        t = batch[i]
        if chain_start < 0 and t.flags == 0:
            # Fast path for the common case, a plain unlinked transfer with well-formed fields. Anything
            # unusual falls through to _apply_one, which checks every rule in order and names the error.
            tid = t.id
            amount = t.amount
            code = t.code
            ref = t.reference
            if (
                type(tid) is int
                and 0 < tid <= int64_max
                and tid not in seen
                and tid not in existing
                and type(amount) is int
                and 0 < amount <= transfer_amount_max
                and type(code) is int
                and 0 <= code <= 65_535
                and (ref is None or len(ref) <= transfer_reference_length_max)
                and not t.pending_id
                and not t.timeout_s
            ):
                dr = get_account(t.debit_account_id)
                cr = get_account(t.credit_account_id)
                cur = t.currency
                if (
                    dr is not None
                    and cr is not None
                    and dr.id != cr.id
                    and dr.currency == cur
                    and cr.currency == cur
                    and not dr.closed
                    and not cr.closed
                ):
                    seen.add(tid)
                    did = dr.id
                    cid = cr.id
                    bd = wbal.get(did)
                    if bd is None:
                        src = get_balance(did, ZERO_BALANCE)
                        bd = wbal[did] = [src[0], src[1], src[2], src[3]]
                    bc = wbal.get(cid)
                    if bc is None:
                        src = get_balance(cid, ZERO_BALANCE)
                        bc = wbal[cid] = [src[0], src[1], src[2], src[3]]
                    if dr.flags & DR_LIMIT and bd[0] + bd[1] + amount > bd[3]:
                        results[i] = R_EXCEEDS_CREDITS
                    elif cr.flags & CR_LIMIT and bc[2] + bc[3] + amount > bc[1]:
                        results[i] = R_EXCEEDS_DEBITS
                    elif bd[0] + bd[1] + amount > int64_max or bc[2] + bc[3] + amount > int64_max:
                        results[i] = R.OVERFLOWS_BALANCE.value
                    else:
                        bd[1] += amount
                        bc[3] += amount
                        append((tid, did, cid, amount, cur, code, ref, 0, 0, 0, ts))
                        ts += 1
                    continue
        linked = isinstance(t.flags, int) and bool(t.flags & F_LINKED)
        if chain_start < 0 and linked:
            chain_start, chain_records, chain_failed = i, len(records), False
            chain_new = chain_existing = False
            work.clear_undo()
        in_chain = chain_start >= 0
        if in_chain and chain_failed:
            results[i] = R.LINKED_EVENT_FAILED.value
            if type(t.id) is int:
                seen.add(t.id)  # an id used earlier in a batch is refused later in it, whatever became of it
        else:
            r = _apply_one(
                t, accounts, balances, existing, pending, work, seen, records, ts, now_ns, in_chain
            )
            if r is None:
                ts += 1
                chain_new = True
            elif in_chain and r == R.EXISTS.value:
                # A retried chain: "exists" alone does not fail it (checked when the chain closes).
                results[i] = r
                chain_existing = True
            else:
                results[i] = r
                if in_chain:
                    chain_failed = True
                    _rollback(work, records, chain_records)
                    for j in range(chain_start, i):
                        results[j] = R.LINKED_EVENT_FAILED.value
        if in_chain and not linked:
            if not chain_failed and chain_new and chain_existing:
                # Part of this chain was stored before and part is new: it is not a retry; refuse the new part.
                _rollback(work, records, chain_records)
                for j in range(chain_start, i + 1):
                    if results[j] == ok:
                        results[j] = R.LINKED_EVENT_FAILED.value
            chain_start = -1  # this transfer closed the chain
            work.clear_undo()
    if chain_start >= 0:
        # The batch ended inside a chain: the whole open chain fails, its last event says why.
        if not chain_failed:
            _rollback(work, records, chain_records)
        for j in range(chain_start, n - 1):
            results[j] = R.LINKED_EVENT_FAILED.value
        results[n - 1] = R.LINKED_EVENT_CHAIN_OPEN.value
    new_balances = {k: Balance(v[0], v[1], v[2], v[3]) for k, v in wbal.items()}
    last = ts - 1 if ts > ts0 else last_timestamp
    return TransferBatchOutcome(results, records, new_balances, dict(work.pending), last)


def _rollback(work: _Work, records: list[RecordRow], keep: int) -> None:
    for key, old_balance in reversed(work.undo_balances):
        work.balances[key] = old_balance
    for pid, old_state in reversed(work.undo_pending):
        if old_state is None:
            work.pending.pop(pid, None)
        else:
            work.pending[pid] = old_state
    work.clear_undo()
    del records[keep:]


def _bal(work: _Work, balances: Mapping[int, Balance], account_id: int, chained: bool) -> list[int]:
    b = work.balances.get(account_id)
    if b is None:
        src = balances.get(account_id, ZERO_BALANCE)
        b = [src[0], src[1], src[2], src[3]]
        work.balances[account_id] = b
    if chained:
        work.undo_balances.append((account_id, list(b)))
    return b


def _apply_one(
    t: Transfer,
    accounts: Mapping[int, Account],
    balances: Mapping[int, Balance],
    existing: Mapping[int, TransferRecord],
    pending: Mapping[int, PendingState],
    work: _Work,
    seen: set[int],
    records: list[RecordRow],
    ts: int,
    now_ns: int,
    chained: bool,
) -> str | None:
    """Apply one transfer to the working state. Returns an error code, or None when it was applied."""
    R = CreateTransferResult
    tid = t.id
    if not isinstance(tid, int) or isinstance(tid, bool) or tid <= 0:
        return R.ID_MUST_BE_POSITIVE.value
    if tid > int64_max:
        return R.ID_TOO_LARGE.value
    if tid in seen:
        return R.ID_ALREADY_IN_BATCH.value
    seen.add(tid)
    flags = t.flags
    if not isinstance(flags, int) or flags & ~F_CLIENT:
        return R.UNKNOWN_FLAGS.value
    rec = existing.get(tid)
    if rec is not None:
        return R.EXISTS.value if _same_request(rec, t) else R.EXISTS_WITH_DIFFERENT_FIELDS.value
    if t.reference is not None and len(t.reference) > transfer_reference_length_max:
        return R.REFERENCE_TOO_LONG.value
    if not _valid_code(t.code):
        return R.CODE_OUT_OF_RANGE.value
    amount = t.amount
    if not isinstance(amount, int) or isinstance(amount, bool):
        return R.AMOUNT_NOT_AN_INTEGER.value
    if amount > transfer_amount_max:
        return R.AMOUNT_TOO_LARGE.value
    if flags & (F_POST | F_VOID):
        return _apply_post_or_void(t, accounts, balances, pending, work, records, ts, now_ns, chained)
    if t.pending_id:
        return R.PENDING_ID_MUST_BE_ZERO.value
    if amount <= 0:
        return R.AMOUNT_MUST_BE_POSITIVE.value
    is_pending = flags & F_PENDING
    timeout_s = t.timeout_s
    if timeout_s:
        if not is_pending:
            return R.TIMEOUT_RESERVED_FOR_PENDING.value
        if not isinstance(timeout_s, int) or timeout_s < 0 or timeout_s > pending_timeout_s_max:
            return R.TIMEOUT_OUT_OF_RANGE.value
    dr = accounts.get(t.debit_account_id)
    if dr is None:
        return R.DEBIT_ACCOUNT_NOT_FOUND.value
    cr = accounts.get(t.credit_account_id)
    if cr is None:
        return R.CREDIT_ACCOUNT_NOT_FOUND.value
    if dr.id == cr.id:
        return R.ACCOUNTS_MUST_BE_DIFFERENT.value
    if dr.currency != t.currency or cr.currency != t.currency:
        return R.CURRENCY_MISMATCH.value
    if dr.closed:
        return R.DEBIT_ACCOUNT_CLOSED.value
    if cr.closed:
        return R.CREDIT_ACCOUNT_CLOSED.value
    bd = _bal(work, balances, dr.id, chained)
    bc = _bal(work, balances, cr.id, chained)
    # bd/bc: [debits_pending, debits_posted, credits_pending, credits_posted]
    if dr.flags & DR_LIMIT and bd[0] + bd[1] + amount > bd[3]:
        return R.EXCEEDS_CREDITS.value
    if cr.flags & CR_LIMIT and bc[2] + bc[3] + amount > bc[1]:
        return R.EXCEEDS_DEBITS.value
    if is_pending:
        if bd[0] + bd[1] + amount > int64_max or bc[2] + bc[3] + amount > int64_max:
            return R.OVERFLOWS_BALANCE.value
        bd[0] += amount
        bc[2] += amount
        old = work.pending.get(tid)
        if chained:
            work.undo_pending.append((tid, old))
        expires = ts + timeout_s * NS_PER_S if timeout_s else 0
        work.pending[tid] = PendingState(
            tid, dr.id, cr.id, amount, t.currency, PendingStatus.PENDING.value, 0, expires
        )
    else:
        if bd[0] + bd[1] + amount > int64_max or bc[2] + bc[3] + amount > int64_max:
            return R.OVERFLOWS_BALANCE.value
        bd[1] += amount
        bc[3] += amount
    records.append(
        TransferRecord(
            tid, dr.id, cr.id, amount, t.currency, t.code, t.reference, flags, 0, timeout_s, ts
        )
    )
    return None


def _apply_post_or_void(
    t: Transfer,
    accounts: Mapping[int, Account],
    balances: Mapping[int, Balance],
    pending: Mapping[int, PendingState],
    work: _Work,
    records: list[RecordRow],
    ts: int,
    now_ns: int,
    chained: bool,
) -> str | None:
    R = CreateTransferResult
    flags = t.flags
    if flags & F_PENDING or (flags & F_POST and flags & F_VOID):
        return R.FLAGS_ARE_MUTUALLY_EXCLUSIVE.value
    if t.timeout_s:
        return R.TIMEOUT_RESERVED_FOR_PENDING.value
    if not isinstance(t.pending_id, int) or t.pending_id <= 0:
        return R.PENDING_ID_REQUIRED.value
    p = work.pending.get(t.pending_id) or pending.get(t.pending_id)
    if p is None:
        return R.PENDING_TRANSFER_NOT_FOUND.value
    if p.status == PendingStatus.POSTED:
        return R.PENDING_TRANSFER_ALREADY_POSTED.value
    if p.status == PendingStatus.VOIDED:
        return R.PENDING_TRANSFER_ALREADY_VOIDED.value
    if p.status == PendingStatus.EXPIRED:
        return R.PENDING_TRANSFER_EXPIRED.value
    if p.status != PendingStatus.PENDING:
        return R.PENDING_TRANSFER_NOT_PENDING.value
    if p.expires_at_ns and now_ns >= p.expires_at_ns:
        return R.PENDING_TRANSFER_EXPIRED.value
    if (t.debit_account_id and t.debit_account_id != p.debit_account_id) or (
        t.credit_account_id and t.credit_account_id != p.credit_account_id
    ):
        return R.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS.value
    if t.currency and t.currency != p.currency:
        return R.PENDING_TRANSFER_HAS_DIFFERENT_CURRENCY.value
    amount = t.amount
    if amount < 0:
        return R.AMOUNT_MUST_BE_POSITIVE.value
    is_post = bool(flags & F_POST)
    if is_post:
        if amount == 0:
            amount = p.amount
        if amount > p.amount:
            return R.EXCEEDS_PENDING_AMOUNT.value
    else:
        if amount not in (0, p.amount):
            return R.VOID_AMOUNT_MUST_BE_ZERO_OR_FULL.value
        amount = p.amount
    dr = accounts.get(p.debit_account_id)
    cr = accounts.get(p.credit_account_id)
    if dr is None:
        return R.DEBIT_ACCOUNT_NOT_FOUND.value
    if cr is None:
        return R.CREDIT_ACCOUNT_NOT_FOUND.value
    if is_post and dr.closed:
        return R.DEBIT_ACCOUNT_CLOSED.value
    if is_post and cr.closed:
        return R.CREDIT_ACCOUNT_CLOSED.value
    bd = _bal(work, balances, dr.id, chained)
    bc = _bal(work, balances, cr.id, chained)
    # Release the whole hold; a post moves `amount` of it to posted (holds only shrink, so no flag can break).
    bd[0] -= p.amount
    bc[2] -= p.amount
    if bd[0] < 0 or bc[2] < 0:
        raise InvariantViolation(f"pending balance below zero releasing transfer {p.id}")
    if is_post:
        bd[1] += amount
        bc[3] += amount
    if chained:
        work.undo_pending.append((p.id, work.pending.get(p.id)))
    status = PendingStatus.POSTED.value if is_post else PendingStatus.VOIDED.value
    work.pending[p.id] = p._replace(status=status, amount_posted=amount if is_post else 0)
    records.append(
        TransferRecord(
            t.id, p.debit_account_id, p.credit_account_id, amount, p.currency, t.code, t.reference,
            flags, p.id, 0, ts,
        )
    )
    return None


def expire_pending(
    due: Iterable[PendingState],
    accounts: Mapping[int, Account],
    balances: Mapping[int, Balance],
    now_ns: int,
    last_timestamp: int,
) -> TransferBatchOutcome:
    """Release every pending transfer in `due` whose timeout has passed at `now_ns`."""
    work = _Work()
    records: list[RecordRow] = []
    ts = max(now_ns, last_timestamp + 1)
    ts0 = ts
    for p in due:
        if p.status != PendingStatus.PENDING or not p.expires_at_ns or p.expires_at_ns > now_ns:
            continue
        if p.debit_account_id not in accounts or p.credit_account_id not in accounts:
            raise InvariantViolation(f"pending transfer {p.id} names an unknown account")
        bd = _bal(work, balances, p.debit_account_id, False)
        bc = _bal(work, balances, p.credit_account_id, False)
        bd[0] -= p.amount
        bc[2] -= p.amount
        if bd[0] < 0 or bc[2] < 0:
            raise InvariantViolation(f"pending balance below zero expiring transfer {p.id}")
        work.pending[p.id] = p._replace(status=PendingStatus.EXPIRED.value)
        records.append(
            TransferRecord(
                -p.id, p.debit_account_id, p.credit_account_id, p.amount, p.currency, 0, None,
                F_VOID | F_EXPIRED, p.id, 0, ts,
            )
        )
        ts += 1
    new_balances = {k: Balance(v[0], v[1], v[2], v[3]) for k, v in work.balances.items()}
    last = ts - 1 if ts > ts0 else last_timestamp
    return TransferBatchOutcome(["ok"] * len(records), records, new_balances, dict(work.pending), last)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transfer's effect on one account, with the account's balances after it."""

    transfer: TransferRecord
    balance: Balance


def account_history(
    account_id: int, records: Iterable[TransferRecord], pending_amounts: Mapping[int, int]
) -> list[HistoryEntry]:
    """Replay `records` (all transfers touching the account, in timestamp order) into running balances.

    `pending_amounts` maps each pending id that a post/void/expiry record names to the amount it held.
    """
    dp = dpo = cp = cpo = 0
    out: list[HistoryEntry] = []
    for r in records:
        is_dr = r.debit_account_id == account_id
        is_cr = r.credit_account_id == account_id
        if not (is_dr or is_cr):
            raise ValidationError(f"transfer {r.id} does not touch account {account_id}")
        if r.flags & (F_POST | F_VOID):
            held = pending_amounts.get(r.pending_id)
            if held is None:
                raise InvariantViolation(f"history: pending transfer {r.pending_id} unknown")
            posted = r.amount if r.flags & F_POST else 0
            if is_dr:
                dp -= held
                dpo += posted
            if is_cr:
                cp -= held
                cpo += posted
        elif r.flags & F_PENDING:
            if is_dr:
                dp += r.amount
            if is_cr:
                cp += r.amount
        else:
            if is_dr:
                dpo += r.amount
            if is_cr:
                cpo += r.amount
        out.append(HistoryEntry(r, Balance(dp, dpo, cp, cpo)))
    return out


@dataclass(frozen=True, slots=True)
class InvariantReport:
    """The result of checking the whole ledger. `problems` is empty when every invariant holds."""

    problems: list[str]
    accounts_checked: int
    transfers_checked: int
    totals_by_currency: dict[str, Balance]

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_broken(self) -> None:
        if self.problems:
            raise InvariantViolation("; ".join(self.problems[:10]))


def check_invariants(
    accounts: Mapping[int, Account],
    stored: Mapping[int, Balance],
    replayed: Mapping[int, Balance],
    transfers_checked: int,
) -> InvariantReport:
    """Compare the stored balances with those replayed from the transfers and check every rule.

    - per currency, total debits equal total credits (posted and pending alike);
    - every account's stored balances equal the replay of its transfers;
    - no account breaches its flag; no balance is negative.
    """
    problems: list[str] = []
    totals: dict[str, list[int]] = {}
    for aid, acc in accounts.items():
        b = stored.get(aid, ZERO_BALANCE)
        r = replayed.get(aid, ZERO_BALANCE)
        if b != r:
            problems.append(f"account {aid}: stored {tuple(b)} != replayed {tuple(r)}")
        if min(b) < 0:
            problems.append(f"account {aid}: negative balance component {tuple(b)}")
        if acc.flags & DR_LIMIT and b.debits_pending + b.debits_posted > b.credits_posted:
            problems.append(f"account {aid}: debits exceed credits")
        if acc.flags & CR_LIMIT and b.credits_pending + b.credits_posted > b.debits_posted:
            problems.append(f"account {aid}: credits exceed debits")
        t = totals.setdefault(acc.currency, [0, 0, 0, 0])
        for k in range(4):
            t[k] += b[k]
    for aid in replayed:
        if aid not in accounts:
            problems.append(f"transfers name unknown account {aid}")
    for cur, t in sorted(totals.items()):
        if t[0] != t[2]:
            problems.append(f"{cur}: pending debits {t[0]} != pending credits {t[2]}")
        if t[1] != t[3]:
            problems.append(f"{cur}: posted debits {t[1]} != posted credits {t[3]}")
    return InvariantReport(
        problems,
        len(accounts),
        transfers_checked,
        {c: Balance(t[0], t[1], t[2], t[3]) for c, t in totals.items()},
    )
