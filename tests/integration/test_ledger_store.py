"""The ledger on both stores (SQLite and PostgreSQL): persistence, queries, bad input, concurrency."""

from __future__ import annotations

import pytest

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.ledger import Account, AccountFlags, AccountKind, Transfer, TransferFlags

DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)


class Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000_000_000_000

    def __call__(self) -> int:
        return self.ns


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def ledger(db_url: str, clock: Clock) -> SqlLedger:
    engine = make_engine(db_url)
    migrate(engine)
    led = SqlLedger(engine, clock)
    assert led.create_accounts(
        [
            Account(1, "HKD", AccountKind.ASSET, reference="bank:hsbc"),
            Account(2, "HKD", AccountKind.LIABILITY, DR_LIMIT, reference="cust:a"),
            Account(3, "HKD", AccountKind.LIABILITY, DR_LIMIT, reference="cust:b"),
            Account(4, "CNH", AccountKind.LIABILITY, DR_LIMIT),
        ]
    ) == ["ok"] * 4
    yield led
    engine.dispose()


def fingerprint(led: SqlLedger) -> tuple:
    views = led.lookup_accounts([1, 2, 3, 4])
    return tuple((v.account.id, tuple(v.balance)) for v in views), led.check_invariants().transfers_checked


def test_migrate_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)
    engine.dispose()


def test_deposit_transfer_and_balances_persist(ledger: SqlLedger, clock: Clock) -> None:
    assert ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD", reference="dep-1")]) == ["ok"]
    clock.ns += 1_000
    assert ledger.create_transfers([Transfer(11, 2, 3, 300, "HKD", reference="pay-1")]) == ["ok"]
    fresh = SqlLedger(ledger.engine, clock)  # a second process would see the same
    assert fresh.account(2).posted == 700
    assert fresh.account(3).posted == 300
    assert fresh.account(1).posted == 1_000
    assert [t.id for t in fresh.transfers_by_reference("pay-1")] == [11]
    assert [v.account.id for v in fresh.accounts_by_reference("cust:a")] == [2]
    assert fresh.check_invariants().ok


@pytest.mark.parametrize(
    ("transfer", "code"),
    [
        (Transfer(20, 2, 3, -5, "HKD"), "amount_must_be_positive"),
        (Transfer(20, 2, 3, 0, "HKD"), "amount_must_be_positive"),
        (Transfer(20, 2, 3, 2**63, "HKD"), "amount_too_large"),
        (Transfer(20, 2, 3, 2**128, "HKD"), "amount_too_large"),
        (Transfer(20, 2, 99, 1, "HKD"), "credit_account_not_found"),
        (Transfer(20, 98, 3, 1, "HKD"), "debit_account_not_found"),
        (Transfer(20, 2, 4, 1, "HKD"), "currency_mismatch"),
        (Transfer(20, 2, 3, 10_000, "HKD"), "exceeds_credits"),
        (Transfer(10, 1, 2, 999, "HKD"), "exists_with_different_fields"),
    ],
)
def test_bad_input_gets_its_code_and_changes_nothing(ledger: SqlLedger, transfer: Transfer, code: str) -> None:
    ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD")])
    before = fingerprint(ledger)
    assert ledger.create_transfers([transfer]) == [code]
    assert fingerprint(ledger) == before


def test_duplicate_ids_in_one_batch_and_batch_limits(ledger: SqlLedger) -> None:
    ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD")])
    before = fingerprint(ledger)
    res = ledger.create_transfers([Transfer(30, 2, 3, 5, "HKD"), Transfer(30, 2, 3, 5, "HKD")])
    assert res == ["ok", "id_already_in_batch"]
    assert ledger.account(3).posted == 5
    before = fingerprint(ledger)
    with pytest.raises(ValidationError) as empty:
        ledger.create_transfers([])
    assert empty.value.code == "batch_empty"
    with pytest.raises(ValidationError) as big:
        ledger.create_transfers([Transfer(100 + i, 1, 3, 1, "HKD") for i in range(8_191)])
    assert big.value.code == "batch_too_large"
    assert fingerprint(ledger) == before


def test_idempotent_resubmission(ledger: SqlLedger) -> None:
    batch = [Transfer(10, 1, 2, 1_000, "HKD"), Transfer(11, 2, 3, 10, "HKD")]
    assert ledger.create_transfers(batch) == ["ok", "ok"]
    before = fingerprint(ledger)
    assert ledger.create_transfers(batch) == ["exists", "exists"]
    assert fingerprint(ledger) == before


def test_two_phase_post_void_expire(ledger: SqlLedger, clock: Clock) -> None:
    pend = int(TransferFlags.PENDING)
    ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD")])
    assert ledger.create_transfers(
        [
            Transfer(11, 2, 3, 400, "HKD", flags=pend),
            Transfer(12, 2, 3, 300, "HKD", flags=pend, timeout_s=60),
            Transfer(13, 2, 3, 200, "HKD", flags=pend),
        ]
    ) == ["ok"] * 3
    assert ledger.account(2).available == 100
    assert ledger.create_transfers([Transfer(14, 2, 3, 101, "HKD")]) == ["exceeds_credits"]
    post = Transfer(15, 0, 0, 150, "", flags=int(TransferFlags.POST_PENDING), pending_id=11)
    void = Transfer(16, 0, 0, 0, "", flags=int(TransferFlags.VOID_PENDING), pending_id=13)
    assert ledger.create_transfers([post, void]) == ["ok", "ok"]
    assert ledger.create_transfers([post, void]) == ["exists", "exists"]  # retry of a post/void
    assert ledger.pending_state(11).status == "posted"
    assert ledger.pending_state(13).status == "voided"
    clock.ns += 61 * 1_000_000_000
    assert ledger.expire_pending() == 1
    assert ledger.expire_pending() == 0
    assert ledger.pending_state(12).status == "expired"
    late = Transfer(17, 0, 0, 0, "", flags=int(TransferFlags.POST_PENDING), pending_id=12)
    assert ledger.create_transfers([late]) == ["pending_transfer_expired"]
    acct = ledger.account(2)
    assert (acct.posted, acct.available) == (850, 850)
    hist = ledger.history(2)
    assert [h.transfer.id for h in hist] == [10, 11, 12, 13, 15, 16, -12]
    assert hist[-1].balance == acct.balance
    assert ledger.check_invariants().ok


def test_history_balance_as_of_and_reference_lookup_across_compaction(ledger: SqlLedger, clock: Clock) -> None:
    ledger.compaction_threshold = 5
    ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD", reference="dep")])
    stamps = []
    for i in range(12):
        clock.ns += 1_000
        ledger.create_transfers([Transfer(100 + i, 2, 3, 10, "HKD", reference=f"r{i % 3}")])
        stamps.append(ledger.lookup_transfers([100 + i])[0].timestamp)
    hist = ledger.history(3)
    assert [h.transfer.id for h in hist] == [100 + i for i in range(12)]
    assert [h.balance.credits_posted for h in hist] == [10 * (i + 1) for i in range(12)]
    assert ledger.balance_as_of(3, stamps[6]).credits_posted == 70
    assert ledger.balance_as_of(3, stamps[0] - 1).credits_posted == 0
    assert [t.id for t in ledger.transfers_by_reference("r1")] == [101, 104, 107, 110]
    ledger.compact()
    assert [t.id for t in ledger.transfers_by_reference("r1")] == [101, 104, 107, 110]
    assert len(ledger.history(2)) == 13


def test_closed_account_takes_no_new_postings(ledger: SqlLedger) -> None:
    ledger.create_transfers([Transfer(10, 1, 2, 1_000, "HKD")])
    ledger.create_transfers([Transfer(11, 2, 3, 10, "HKD", flags=int(TransferFlags.PENDING))])
    with pytest.raises(ConflictError):
        ledger.close_account(3)
    ledger.create_transfers([Transfer(12, 0, 0, 0, "", flags=int(TransferFlags.VOID_PENDING), pending_id=11)])
    ledger.close_account(3)
    assert ledger.create_transfers([Transfer(13, 2, 3, 1, "HKD")]) == ["credit_account_closed"]
    with pytest.raises(NotFoundError):
        ledger.close_account(77)


def test_two_writers_never_use_a_stale_cache(ledger: SqlLedger, clock: Clock) -> None:
    other = SqlLedger(ledger.engine, clock)
    ledger.create_transfers([Transfer(10, 1, 2, 100, "HKD")])
    assert other.create_transfers([Transfer(11, 2, 3, 100, "HKD")]) == ["ok"]
    # `ledger` cached account 2 at 100 available; the other writer spent it.
    assert ledger.create_transfers([Transfer(12, 2, 3, 1, "HKD")]) == ["exceeds_credits"]
    assert ledger.check_invariants().ok


def test_transfers_inside_a_caller_transaction_roll_back_with_it(ledger: SqlLedger) -> None:
    ledger.create_transfers([Transfer(10, 1, 2, 100, "HKD")])
    before = fingerprint(ledger)
    with pytest.raises(RuntimeError), ledger.engine.begin() as conn:
        assert ledger.create_transfers_in(conn, [Transfer(11, 2, 3, 50, "HKD")]) == ["ok"]
        raise RuntimeError("crash after the ledger write, before commit")
    assert fingerprint(ledger) == before
    assert ledger.create_transfers([Transfer(11, 2, 3, 100, "HKD")]) == ["ok"]
