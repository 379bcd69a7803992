"""Pipelined batches (one write in flight while the next batch is validated) give exactly the results and balances
of calling create_transfers batch by batch; a writer that slips in between is detected and nothing is torn."""

from __future__ import annotations

import random

import pytest

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain.errors import ConflictError
from bauhinia.domain.ledger import Account, AccountFlags, AccountKind, Transfer, TransferFlags

NOW = 1_800_000_000_000_000_000
DR = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
LINKED, PENDING = int(TransferFlags.LINKED), int(TransferFlags.PENDING)
POST, VOID = int(TransferFlags.POST_PENDING), int(TransferFlags.VOID_PENDING)


def workload(seed: int, n_batches: int = 30, size: int = 60) -> list[list[Transfer]]:
    """Batches that lean on each other: posts and voids of the previous batch's pending transfers, ids reused
    across consecutive batches, linked chains, overdrafts."""
    rng = random.Random(seed)
    batches: list[list[Transfer]] = []
    next_id = 1
    last_pending: list[int] = []
    for _ in range(n_batches):
        batch: list[Transfer] = []
        pendings: list[int] = []
        for _ in range(size):
            roll = rng.random()
            if roll < 0.1 and last_pending:
                pid = rng.choice(last_pending)
                flag = POST if rng.random() < 0.6 else VOID
                batch.append(Transfer(next_id, 0, 0, rng.choice([0, 5]), "", flags=flag, pending_id=pid))
            elif roll < 0.15 and batches:
                old = rng.choice(batches[-1])  # the same id again: exists, or exists with different fields
                batch.append(old if rng.random() < 0.5 else Transfer(old.id, 1, 2, 3, "HKD"))
                continue
            else:
                a, b = rng.sample(range(1, 7), 2)
                flags = PENDING if roll > 0.85 else (LINKED if roll > 0.8 else 0)
                batch.append(Transfer(next_id, a, b, rng.randint(1, 400), "HKD", flags=flags))
                if flags == PENDING:
                    pendings.append(next_id)
            next_id += 1
        if batch[-1].flags & LINKED:
            batch[-1] = Transfer(batch[-1].id, batch[-1].debit_account_id, batch[-1].credit_account_id,
                                 batch[-1].amount, "HKD")
        batches.append(batch)
        last_pending = pendings
    return batches


def fresh(db_url: str) -> SqlLedger:
    engine = make_engine(db_url)
    migrate(engine)
    ledger = SqlLedger(engine, lambda: NOW)
    accts = [Account(1, "HKD", AccountKind.ASSET)] + [Account(i, "HKD", AccountKind.LIABILITY, DR) for i in range(2, 7)]
    assert ledger.create_accounts(accts) == ["ok"] * 6
    assert ledger.create_transfers([Transfer(10**9 + i, 1, i, 2_000, "HKD") for i in range(2, 7)]) == ["ok"] * 5
    return ledger


def snapshot(ledger: SqlLedger) -> list[tuple[int, tuple[int, ...]]]:
    return [(v.account.id, tuple(v.balance)) for v in ledger.lookup_accounts(range(1, 7))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pipelined_equals_sequential(sqlite_url: str, seed: int) -> None:
    """On SQLite (two ledgers side by side); the pipelined path on PostgreSQL is exercised by the next test and by
    bench/ledger.py --quick in the suite."""
    batches = workload(seed)
    sequential = fresh(sqlite_url)
    want = [sequential.create_transfers(b) for b in batches]
    pipelined = fresh(sqlite_url.replace(".sqlite3", "-p.sqlite3"))
    got = pipelined.create_transfer_batches(batches)
    assert got == want
    assert snapshot(pipelined) == snapshot(sequential)
    assert {r for rs in want for r in rs} >= {"ok", "exists", "exceeds_credits"}  # the workload is not trivial
    assert pipelined.check_invariants().ok
    # the cache is trusted afterwards: one more batch behaves as on the sequential ledger
    extra = [Transfer(9_000_000, 2, 3, 1, "HKD")]
    assert pipelined.create_transfers(extra) == sequential.create_transfers(extra)


def test_a_writer_slipping_in_is_detected(db_url: str) -> None:
    ledger = fresh(db_url)
    other = SqlLedger(ledger.engine, lambda: NOW)

    def batches():
        yield [Transfer(1, 1, 2, 5, "HKD")]
        yield [Transfer(2, 1, 2, 5, "HKD")]
        other.create_transfers([Transfer(3, 2, 3, 1_000, "HKD")])  # another process writes between our batches
        yield [Transfer(4, 2, 3, 1_005, "HKD")]  # validated against a stale balance: must not be written

    with pytest.raises(ConflictError):
        ledger.create_transfer_batches(batches())
    # batch 1 committed; batch 2 committed only if its write began before the other writer's; batch 3 never
    stored = {t.id for t in ledger.lookup_transfers([1, 2, 3, 4])}
    assert {1, 3} <= stored and 4 not in stored
    assert ledger.check_invariants().ok
    # the ledger reloads what changed: account 2 holds 1,005 or 1,010 now (batch 2 may have committed), so
    # a transfer of 1,011 is refused for lack of funds, where the stale cache would have let it through
    assert ledger.create_transfers([Transfer(4, 2, 3, 1_011, "HKD")]) == ["exceeds_credits"]
    # resubmitting the pipeline's batches is safe: what committed says exists, the rest is applied once
    assert ledger.create_transfer_batches([[Transfer(1, 1, 2, 5, "HKD")], [Transfer(2, 1, 2, 5, "HKD")]]) in (
        [["exists"], ["exists"]], [["exists"], ["ok"]])
    assert ledger.check_invariants().ok
