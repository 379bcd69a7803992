"""The pure ledger core: every rule both ways, without a database."""

from __future__ import annotations

import pytest

from bauhinia.domain import ledger as L
from bauhinia.domain.errors import InvariantViolation
from bauhinia.domain.ledger import (
    Account,
    AccountFlags,
    AccountKind,
    Balance,
    PendingState,
    Transfer,
    TransferFlags,
    TransferRecord,
)

NOW = 1_800_000_000 * L.NS_PER_S
DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CR_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)

ACCOUNTS = {
    1: Account(1, "HKD", AccountKind.ASSET),  # bank: may go anywhere
    2: Account(2, "HKD", AccountKind.LIABILITY, DR_LIMIT),  # customer: never below zero
    3: Account(3, "HKD", AccountKind.LIABILITY, DR_LIMIT),
    4: Account(4, "CNH", AccountKind.LIABILITY),
    5: Account(5, "HKD", AccountKind.ASSET, CR_LIMIT),  # asset that may not go negative
    6: Account(6, "HKD", AccountKind.LIABILITY, closed=True),
}
FUNDED = {2: Balance(0, 0, 0, 1_000), 5: Balance(0, 500, 0, 0)}


def apply(batch, balances=FUNDED, existing=None, pending=None, now=NOW):
    return L.apply_transfers(batch, ACCOUNTS, balances, existing or {}, pending or {}, now, 0)


def test_plain_transfer_moves_posted_balances_and_stamps_time():
    out = apply([Transfer(10, 2, 3, 400, "HKD", code=7, reference="r1")])
    assert out.results == ["ok"]
    assert out.balances[2] == Balance(0, 400, 0, 1_000)
    assert out.balances[3] == Balance(0, 0, 0, 400)
    rec = TransferRecord(*out.records[0])
    assert (rec.id, rec.amount, rec.code, rec.reference, rec.timestamp) == (10, 400, 7, "r1", NOW)
    assert out.last_timestamp == NOW


def test_inputs_are_not_mutated():
    before = dict(FUNDED)
    apply([Transfer(10, 2, 3, 400, "HKD")])
    assert before == FUNDED


@pytest.mark.parametrize(
    ("transfer", "code"),
    [
        (Transfer(0, 2, 3, 1, "HKD"), "id_must_be_positive"),
        (Transfer(-5, 2, 3, 1, "HKD"), "id_must_be_positive"),
        (Transfer(2**63, 2, 3, 1, "HKD"), "id_too_large"),
        (Transfer(10, 2, 3, 0, "HKD"), "amount_must_be_positive"),
        (Transfer(10, 2, 3, -1, "HKD"), "amount_must_be_positive"),
        (Transfer(10, 2, 3, 2**63, "HKD"), "amount_too_large"),
        (Transfer(10, 2, 3, 2**128, "HKD"), "amount_too_large"),
        (Transfer(10, 2, 3, 1.5, "HKD"), "amount_not_an_integer"),  # type: ignore[arg-type]
        (Transfer(10, 99, 3, 1, "HKD"), "debit_account_not_found"),
        (Transfer(10, 2, 99, 1, "HKD"), "credit_account_not_found"),
        (Transfer(10, 2, 2, 1, "HKD"), "accounts_must_be_different"),
        (Transfer(10, 2, 4, 1, "HKD"), "currency_mismatch"),
        (Transfer(10, 2, 3, 1, "CNH"), "currency_mismatch"),
        (Transfer(10, 2, 6, 1, "HKD"), "credit_account_closed"),
        (Transfer(10, 6, 2, 1, "HKD"), "debit_account_closed"),
        (Transfer(10, 2, 3, 1_001, "HKD"), "exceeds_credits"),
        (Transfer(10, 1, 5, 501, "HKD"), "exceeds_debits"),
        (Transfer(10, 2, 3, 1, "HKD", flags=64), "unknown_flags"),
        (Transfer(10, 2, 3, 1, "HKD", reference="x" * 129), "reference_too_long"),
        (Transfer(10, 2, 3, 1, "HKD", code=70_000), "code_out_of_range"),
        (Transfer(10, 2, 3, 1, "HKD", timeout_s=5), "timeout_reserved_for_pending_transfer"),
        (Transfer(10, 2, 3, 1, "HKD", pending_id=3), "pending_id_must_be_zero"),
        (Transfer(10, 2, 3, 1, "HKD", flags=int(TransferFlags.POST_PENDING)), "pending_id_required"),
        (
            Transfer(10, 2, 3, 1, "HKD", flags=int(TransferFlags.PENDING), timeout_s=-1),
            "timeout_out_of_range",
        ),
    ],
)
def test_each_bad_transfer_gets_its_own_code_and_changes_nothing(transfer, code):
    out = apply([transfer, Transfer(11, 2, 3, 5, "HKD")])
    assert out.results == [code, "ok"]
    assert [r[0] for r in out.records] == [11]  # the good one is not poisoned
    assert out.balances[2].debits_posted == 5


def test_limits_hold_exactly_at_the_boundary():
    assert apply([Transfer(10, 2, 3, 1_000, "HKD")]).results == ["ok"]
    assert apply([Transfer(10, 1, 5, 500, "HKD")]).results == ["ok"]


def test_duplicate_id_in_one_batch_is_refused_the_second_time():
    out = apply([Transfer(10, 2, 3, 1, "HKD"), Transfer(10, 2, 3, 1, "HKD")])
    assert out.results == ["ok", "id_already_in_batch"]


def test_batch_limits():
    assert apply([]).batch_error == "batch_empty"
    too_many = [Transfer(i, 1, 3, 1, "HKD") for i in range(1, L.transfer_batch_size_max + 2)]
    assert apply(too_many).batch_error == "batch_too_large"


def test_idempotent_retry_returns_exists_and_different_fields_is_an_error():
    first = apply([Transfer(10, 2, 3, 400, "HKD", reference="a")])
    stored = {10: TransferRecord(*first.records[0])}
    again = apply([Transfer(10, 2, 3, 400, "HKD", reference="a")], existing=stored)
    assert again.results == ["exists"]
    assert again.records == []
    changed = apply([Transfer(10, 2, 3, 401, "HKD", reference="a")], existing=stored)
    assert changed.results == ["exists_with_different_fields"]


def test_linked_chain_all_or_nothing():
    linked = int(TransferFlags.LINKED)
    ok = apply([Transfer(10, 1, 2, 50, "HKD", flags=linked), Transfer(11, 2, 3, 1_050, "HKD")])
    assert ok.results == ["ok", "ok"]
    bad = apply(
        [
            Transfer(9, 1, 3, 1, "HKD"),
            Transfer(10, 1, 2, 50, "HKD", flags=linked),
            Transfer(11, 2, 3, 1_051, "HKD", flags=linked),
            Transfer(12, 1, 3, 5, "HKD"),
            Transfer(13, 1, 3, 7, "HKD"),
        ]
    )
    assert bad.results == ["ok", "linked_event_failed", "exceeds_credits", "linked_event_failed", "ok"]
    assert [r[0] for r in bad.records] == [9, 13]
    assert bad.balances[2] == FUNDED[2]  # the chain's first leg was rolled back
    assert bad.balances[3].credits_posted == 8


def test_chain_left_open_at_end_of_batch_fails_whole():
    linked = int(TransferFlags.LINKED)
    out = apply([Transfer(10, 1, 2, 50, "HKD", flags=linked), Transfer(11, 2, 3, 5, "HKD", flags=linked)])
    assert out.results == ["linked_event_failed", "linked_event_chain_open"]
    assert out.records == []


def test_pending_holds_funds_then_partial_post_releases_the_rest():
    out = apply([Transfer(10, 2, 3, 600, "HKD", flags=int(TransferFlags.PENDING))])
    assert out.results == ["ok"]
    held = out.balances
    assert held[2] == Balance(600, 0, 0, 1_000)
    # The hold counts against the flag: only 400 left.
    assert apply([Transfer(11, 2, 3, 401, "HKD")], balances=held).results == ["exceeds_credits"]
    pend = {10: out.pending_changes[10]}
    post = apply(
        [Transfer(12, 0, 0, 250, "", flags=int(TransferFlags.POST_PENDING), pending_id=10)],
        balances=held,
        pending=pend,
    )
    assert post.results == ["ok"]
    assert post.balances[2] == Balance(0, 250, 0, 1_000)
    assert post.balances[3] == Balance(0, 0, 0, 250)
    assert post.pending_changes[10].status == "posted"
    again = apply(
        [Transfer(13, 0, 0, 0, "", flags=int(TransferFlags.VOID_PENDING), pending_id=10)],
        balances=post.balances,
        pending=post.pending_changes,
    )
    assert again.results == ["pending_transfer_already_posted"]


def test_post_more_than_pending_and_void_rules():
    p = {10: PendingState(10, 2, 3, 600, "HKD", "pending", 0, 0)}
    bal = {2: Balance(600, 0, 0, 1_000), 3: Balance(0, 0, 600, 0)}
    post = int(TransferFlags.POST_PENDING)
    void = int(TransferFlags.VOID_PENDING)
    assert apply([Transfer(12, 0, 0, 601, "", flags=post, pending_id=10)], bal, pending=p).results == [
        "exceeds_pending_amount"
    ]
    assert apply([Transfer(12, 0, 0, 5, "", flags=void, pending_id=10)], bal, pending=p).results == [
        "void_amount_must_be_zero_or_pending_amount"
    ]
    assert apply([Transfer(12, 0, 0, 0, "", flags=post, pending_id=77)], bal, pending=p).results == [
        "pending_transfer_not_found"
    ]
    assert apply([Transfer(12, 3, 0, 0, "", flags=post, pending_id=10)], bal, pending=p).results == [
        "pending_transfer_has_different_accounts"
    ]
    assert apply([Transfer(12, 0, 0, 0, "", flags=post | void, pending_id=10)], bal, pending=p).results == [
        "flags_are_mutually_exclusive"
    ]
    voided = apply([Transfer(12, 0, 0, 0, "", flags=void, pending_id=10)], bal, pending=p)
    assert voided.results == ["ok"]
    assert voided.balances[2] == Balance(0, 0, 0, 1_000)


def test_post_after_timeout_is_refused_and_expiry_releases_funds():
    p = {10: PendingState(10, 2, 3, 600, "HKD", "pending", 0, NOW + 5 * L.NS_PER_S)}
    bal = {2: Balance(600, 0, 0, 1_000), 3: Balance(0, 0, 600, 0)}
    post = Transfer(12, 0, 0, 0, "", flags=int(TransferFlags.POST_PENDING), pending_id=10)
    assert apply([post], bal, pending=p, now=NOW + 4 * L.NS_PER_S).results == ["ok"]
    assert apply([post], bal, pending=p, now=NOW + 5 * L.NS_PER_S).results == ["pending_transfer_expired"]
    early = L.expire_pending(p.values(), ACCOUNTS, bal, NOW + 4 * L.NS_PER_S, 0)
    assert early.records == []
    late = L.expire_pending(p.values(), ACCOUNTS, bal, NOW + 6 * L.NS_PER_S, 0)
    assert late.balances[2] == Balance(0, 0, 0, 1_000)
    assert late.pending_changes[10].status == "expired"
    rec = TransferRecord(*late.records[0])
    assert rec.id == -10 and rec.flags & L.F_EXPIRED


def test_overflow_is_refused():
    bal = {1: Balance(0, L.int64_max - 5, 0, 0)}
    assert apply([Transfer(10, 1, 3, 6, "HKD")], balances=bal).results == ["overflows_balance"]


def test_history_replays_running_balances():
    recs = [
        TransferRecord(1, 1, 2, 1_000, "HKD", 0, None, 0, 0, 0, 1),
        TransferRecord(2, 2, 3, 300, "HKD", 0, None, int(TransferFlags.PENDING), 0, 0, 2),
        TransferRecord(3, 2, 3, 200, "HKD", 0, None, int(TransferFlags.POST_PENDING), 2, 0, 3),
    ]
    hist = L.account_history(2, recs, {2: 300})
    assert [h.balance for h in hist] == [
        Balance(0, 0, 0, 1_000),
        Balance(300, 0, 0, 1_000),
        Balance(0, 200, 0, 1_000),
    ]
    assert hist[-1].balance.posted_for(AccountKind.LIABILITY) == 800


def test_check_invariants_finds_each_kind_of_break():
    accts = {1: ACCOUNTS[1], 2: ACCOUNTS[2]}
    good = {1: Balance(0, 100, 0, 0), 2: Balance(0, 0, 0, 100)}
    assert L.check_invariants(accts, good, good, 1).ok
    unbalanced = {1: Balance(0, 100, 0, 0), 2: Balance(0, 0, 0, 90)}
    rep = L.check_invariants(accts, unbalanced, unbalanced, 1)
    assert any("posted debits 100 != posted credits 90" in p for p in rep.problems)
    drift = L.check_invariants(accts, good, {1: Balance(0, 100, 0, 0), 2: Balance(0, 0, 0, 99)}, 1)
    assert any("stored" in p and "replayed" in p for p in drift.problems)
    breach = {1: Balance(0, 0, 0, 100), 2: Balance(0, 100, 0, 0)}
    rep = L.check_invariants(accts, breach, breach, 1)
    assert any("debits exceed credits" in p for p in rep.problems)
    with pytest.raises(InvariantViolation):
        rep.raise_if_broken()


def test_create_accounts_rules():
    out = L.create_accounts(
        [
            Account(1, "HKD", AccountKind.ASSET),
            Account(1, "HKD", AccountKind.ASSET),
            Account(0, "HKD", AccountKind.ASSET),
            Account(2, "USD", AccountKind.ASSET),
            Account(3, "HKD", AccountKind.ASSET, DR_LIMIT | CR_LIMIT),
            Account(4, "BCNH", AccountKind.LIABILITY),
        ],
        {},
    )
    assert out.results == [
        "ok", "id_already_in_batch", "id_must_be_positive", "unknown_currency", "flags_are_mutually_exclusive", "ok",
    ]
    again = L.create_accounts([Account(1, "HKD", AccountKind.ASSET), Account(4, "BCNH", AccountKind.ASSET)],
                              {1: Account(1, "HKD", AccountKind.ASSET), 4: Account(4, "BCNH", AccountKind.LIABILITY)})
    assert again.results == ["exists", "exists_with_different_fields"]


def test_retried_chain_returns_exists_but_a_chain_mixing_old_and_new_is_refused():
    linked = int(TransferFlags.LINKED)
    chain = [Transfer(10, 1, 2, 50, "HKD", flags=linked), Transfer(11, 2, 3, 20, "HKD")]
    first = apply(chain)
    stored = {r[0]: TransferRecord(*r) for r in first.records}
    assert apply(chain, existing=stored).results == ["exists", "exists"]
    mixed = [Transfer(10, 1, 2, 50, "HKD", flags=linked), Transfer(12, 2, 3, 20, "HKD")]
    out = apply(mixed, existing=stored)
    assert out.results == ["exists", "linked_event_failed"]
    assert out.records == []
