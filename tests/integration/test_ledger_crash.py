"""Crash test: a child process posting batches is killed with SIGKILL at random moments. After each restart every
batch is wholly present or wholly absent, the invariants hold, and resubmitting the same ids changes nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger

CHILD = Path(__file__).with_name("ledger_crash_child.py")
sys.path.insert(0, str(CHILD.parent))
import ledger_crash_child as child  # noqa: E402

BATCHES = 60
KILLS = 5


def _run_child(url: str, first: int, last: int, kill_after_s: float | None) -> list[int]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, str(first), str(last)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if kill_after_s is None:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    else:
        time.sleep(kill_after_s)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    return [int(x) for x in out.split()]


def _present(ledger: SqlLedger, k: int) -> int:
    ids = [t.id for t in child.batch(k)]
    return len(ledger.lookup_transfers(ids))


def _check_atomic(ledger: SqlLedger, upto: int) -> int:
    """Each batch wholly present or absent; returns how many are present."""
    n = 0
    for k in range(upto):
        size = len(child.batch(k))
        got = _present(ledger, k)
        assert got in (0, size), f"batch {k} is torn: {got} of {size} transfers present"
        n += got == size
    return n


def test_sigkill_at_random_moments_loses_or_tears_nothing(db_url: str) -> None:
    rng = random.Random(int(time.time()))
    engine = make_engine(db_url)
    migrate(engine)
    ledger = SqlLedger(engine, time.time_ns)
    confirmed: set[int] = set()
    start = 0
    for _ in range(KILLS):
        # Restart from an earlier batch each time, so committed batches are resubmitted as well.
        first = max(0, start - 3)
        done = _run_child(db_url, first, BATCHES, kill_after_s=rng.uniform(0.3, 1.5))
        confirmed.update(done)
        _check_atomic(ledger, BATCHES)
        for k in confirmed:  # every batch the child saw committed is there
            assert _present(ledger, k) == len(child.batch(k)), f"committed batch {k} lost"
        report = ledger.check_invariants()
        assert report.ok, report.problems
        start = max(confirmed, default=-1) + 1
    _run_child(db_url, 0, BATCHES, kill_after_s=None)
    assert _check_atomic(ledger, BATCHES) == BATCHES
    before = ledger.check_invariants()
    assert before.ok, before.problems
    for k in range(BATCHES):
        assert set(ledger.create_transfers(child.batch(k))) == {"exists"}
    after = ledger.check_invariants()
    assert after.transfers_checked == before.transfers_checked
    assert after.totals_by_currency == before.totals_by_currency
    engine.dispose()
