"""Hypothesis drives random accounts, transfers, pending/post/void/expiry and linked chains against a small,
obviously-correct reference model; results and balances must match and invariants hold after every step.
Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import copy
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain.ledger import Account, AccountFlags, AccountKind, Transfer, TransferFlags

NS = 1_000_000_000
DR, CR = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS), int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
LINKED, PENDING = int(TransferFlags.LINKED), int(TransferFlags.PENDING)
POST, VOID = int(TransferFlags.POST_PENDING), int(TransferFlags.VOID_PENDING)


class Model:
    """The ledger's semantics written plainly: one transfer at a time, chains by snapshot and restore."""

    def __init__(self) -> None:
        self.accounts: dict[int, tuple[str, int]] = {}
        self.bal: dict[int, list[int]] = {}  # dp, dpo, cp, cpo
        self.requests: dict[int, Transfer] = {}
        self.pending: dict[int, dict] = {}

    def state(self) -> tuple:
        return copy.deepcopy((self.bal, self.requests, self.pending))

    def restore(self, s: tuple) -> None:
        self.bal, self.requests, self.pending = s

    def one(self, t: Transfer, seen: set[int], now: int, stamp: dict[int, int]) -> str:
        if t.id in seen:
            return "id_already_in_batch"
        seen.add(t.id)
        if t.id in self.requests:
            old = self.requests[t.id]
            same = old == t or (
                old.flags & (POST | VOID) and old.pending_id == t.pending_id and old.flags == t.flags
                and t.amount in (0, old.amount)
            )
            return "exists" if same else "exists_with_different_fields"
        if t.flags & (POST | VOID):
            p = self.pending.get(t.pending_id)
            if p is None:
                return "pending_transfer_not_found"
            if p["status"] != "pending":
                return {"posted": "pending_transfer_already_posted", "voided": "pending_transfer_already_voided",
                        "expired": "pending_transfer_expired"}[p["status"]]
            if p["timeout_s"] and now >= stamp[t.pending_id] + p["timeout_s"] * NS:
                return "pending_transfer_expired"
            amount = t.amount or p["amount"]
            if t.flags & POST and amount > p["amount"]:
                return "exceeds_pending_amount"
            if t.flags & VOID and t.amount not in (0, p["amount"]):
                return "void_amount_must_be_zero_or_pending_amount"
            self.bal[p["dr"]][0] -= p["amount"]
            self.bal[p["cr"]][2] -= p["amount"]
            if t.flags & POST:
                self.bal[p["dr"]][1] += amount
                self.bal[p["cr"]][3] += amount
            p["status"] = "posted" if t.flags & POST else "voided"
            self.requests[t.id] = Transfer(t.id, t.debit_account_id, t.credit_account_id, amount, t.currency,
                                           flags=t.flags, pending_id=t.pending_id)
            return "ok"
        if t.amount <= 0:
            return "amount_must_be_positive"
        if t.debit_account_id not in self.accounts:
            return "debit_account_not_found"
        if t.credit_account_id not in self.accounts:
            return "credit_account_not_found"
        if t.debit_account_id == t.credit_account_id:
            return "accounts_must_be_different"
        if self.accounts[t.debit_account_id][0] != t.currency or self.accounts[t.credit_account_id][0] != t.currency:
            return "currency_mismatch"
        d, c = self.bal[t.debit_account_id], self.bal[t.credit_account_id]
        if self.accounts[t.debit_account_id][1] & DR and d[0] + d[1] + t.amount > d[3]:
            return "exceeds_credits"
        if self.accounts[t.credit_account_id][1] & CR and c[2] + c[3] + t.amount > c[1]:
            return "exceeds_debits"
        if t.flags & PENDING:
            d[0] += t.amount
            c[2] += t.amount
            self.pending[t.id] = {"dr": t.debit_account_id, "cr": t.credit_account_id, "amount": t.amount,
                                  "status": "pending", "timeout_s": t.timeout_s}
        else:
            d[1] += t.amount
            c[3] += t.amount
        self.requests[t.id] = t
        return "ok"

    def batch(self, batch: list[Transfer], now: int, stamp: dict[int, int]) -> list[str]:
        results: list[str] = []
        seen: set[int] = set()
        i = 0
        while i < len(batch):
            # A chain runs from a LINKED transfer to the first one without LINKED (or the end of the batch).
            j = i
            while j < len(batch) - 1 and batch[j].flags & LINKED:
                j += 1
            chain = batch[i : j + 1]
            if len(chain) == 1 and not chain[0].flags & LINKED:
                results.append(self.one(chain[0], seen, now, stamp))
            else:
                snap = self.state()
                rs = []
                for t in chain:
                    r = self.one(t, seen, now, stamp)
                    rs.append(r)
                    if r not in ("ok", "exists"):
                        break
                failed = rs[-1] not in ("ok", "exists")
                open_end = chain[-1].flags & LINKED
                mixed = not failed and "ok" in rs and "exists" in rs
                if failed or open_end or mixed:
                    self.restore(snap)
                    # ids of the failed part of a chain still count as seen in this batch
                    seen.update(t.id for t in chain)
                    if open_end:
                        out = ["linked_event_failed"] * len(chain)
                        out[-1] = "linked_event_chain_open"
                    elif failed:
                        out = ["linked_event_failed"] * len(chain)
                        out[len(rs) - 1] = rs[-1]
                    else:
                        out = ["exists" if r == "exists" else "linked_event_failed" for r in rs]
                    rs = out
                results.extend(rs)
            i = j + 1
        return results

    def expire(self, now: int, stamp: dict[int, int]) -> None:
        for pid, p in self.pending.items():
            if p["status"] == "pending" and p["timeout_s"] and now >= stamp[pid] + p["timeout_s"] * NS:
                self.bal[p["dr"]][0] -= p["amount"]
                self.bal[p["cr"]][2] -= p["amount"]
                p["status"] = "expired"


transfer_ids = st.integers(min_value=1, max_value=60)
account_ids = st.integers(min_value=1, max_value=7)
amounts = st.integers(min_value=-2, max_value=400)


@st.composite
def transfers(draw: st.DrawFn) -> Transfer:
    kind = draw(st.sampled_from(["plain", "plain", "plain", "pending", "post", "void"]))
    tid = draw(transfer_ids)
    linked = LINKED if draw(st.integers(0, 4)) == 0 else 0
    if kind in ("post", "void"):
        return Transfer(tid, 0, 0, draw(st.sampled_from([0, 0, 50, 1_000])), "",
                        flags=(POST if kind == "post" else VOID) | linked, pending_id=draw(transfer_ids))
    cur = draw(st.sampled_from(["HKD", "HKD", "HKD", "CNH"]))
    flags = linked | (PENDING if kind == "pending" else 0)
    timeout = draw(st.sampled_from([0, 0, 1, 3])) if kind == "pending" else 0
    return Transfer(tid, draw(account_ids), draw(account_ids), draw(amounts), cur, flags=flags, timeout_s=timeout)


class LedgerMachine(RuleBasedStateMachine):
    engine = None

    @initialize()
    def setup(self) -> None:
        self.now = 1_800_000_000 * NS
        assert self.engine is not None
        # Start each example from an empty ledger (the database is shared by the examples of one test).
        with self.engine.begin() as conn:
            for table in ("ledger_transfers", "ledger_pending", "ledger_postings", "ledger_references",
                          "ledger_accounts"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql("UPDATE ledger_meta SET version = version + 1, last_timestamp = 0, "
                                 "indexed_until = 0, unindexed_count = 0")
        self.ledger = SqlLedger(self.engine, lambda: self.now)
        self.ledger.compaction_threshold = 7
        self.model = Model()
        self.stamp: dict[int, int] = {}
        accts = [Account(1, "HKD", AccountKind.ASSET), Account(2, "HKD", AccountKind.LIABILITY, DR),
                 Account(3, "HKD", AccountKind.LIABILITY, DR), Account(4, "HKD", AccountKind.ASSET, CR),
                 Account(5, "CNH", AccountKind.ASSET), Account(6, "CNH", AccountKind.LIABILITY, DR)]
        assert self.ledger.create_accounts(accts) == ["ok"] * 6
        for a in accts:
            self.model.accounts[a.id] = (a.currency, a.flags)
            self.model.bal[a.id] = [0, 0, 0, 0]

    @rule(batch=st.lists(transfers(), min_size=1, max_size=6))
    def create(self, batch: list[Transfer]) -> None:
        got = self.ledger.create_transfers(batch)
        for rec in self.ledger.lookup_transfers([t.id for t in batch]):
            self.stamp.setdefault(rec.id, rec.timestamp)
        want = self.model.batch(batch, self.now, self.stamp)
        assert got == want, (batch, got, want)

    @rule(seconds=st.integers(min_value=1, max_value=2))
    def tick(self, seconds: int) -> None:
        self.now += seconds * NS

    @precondition(lambda self: bool(self.model.pending))
    @rule()
    def expire(self) -> None:
        self.ledger.expire_pending()
        self.model.expire(self.now, self.stamp)

    @invariant()
    def balances_match_model_and_invariants_hold(self) -> None:
        if not hasattr(self, "ledger"):
            return
        got = {v.account.id: list(v.balance) for v in self.ledger.lookup_accounts(range(1, 8))}
        assert got == self.model.bal
        report = self.ledger.check_invariants()
        assert report.ok, report.problems


def _run(db_url: str, examples: int) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    LedgerMachine.engine = engine
    test = LedgerMachine.TestCase
    test.settings = settings(max_examples=examples, stateful_step_count=20, deadline=None,
                             suppress_health_check=list(HealthCheck))
    try:
        test("runTest").runTest()
    finally:
        LedgerMachine.engine = None
        engine.dispose()


def test_ledger_matches_model_on_sqlite(tmp_path) -> None:
    _run(f"sqlite:///{tmp_path}/m-{uuid.uuid4().hex[:6]}.sqlite3", 50)


@pytest.mark.postgres
def test_ledger_matches_model_on_postgres(pg_url: str) -> None:
    _run(pg_url, 20)
