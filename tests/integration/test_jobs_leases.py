"""Job leases with fencing tokens and the scheduler that runs each job on one replica at a time (issue 15), on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.jobs_repo import JobStore
from bauhinia.domain.jobs import parse_schedule, slot_just_passed
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.entrypoints.service import Job, Scheduler

S = 1_000_000_000


@pytest.fixture()
def store(db_url: str) -> JobStore:
    engine = make_engine(db_url)
    migrate(engine)
    yield JobStore(engine)
    engine.dispose()


def test_one_holder_at_a_time_and_a_dead_holders_lease_is_taken_over(store: JobStore) -> None:
    now = 1_000 * S
    a = store.acquire("mint", "replica-a", 30 * S, now)
    assert a is not None and a.token == 1
    assert store.acquire("mint", "replica-b", 30 * S, now + S) is None  # held
    kept = store.acquire("mint", "replica-a", 30 * S, now + 2 * S)  # the holder keeps its token
    assert kept is not None and kept.token == 1
    # replica-a dies: no renewal; after the time to live replica-b takes it, with a higher token
    b = store.acquire("mint", "replica-b", 30 * S, now + 33 * S)
    assert b is not None and b.token == 2
    assert store.renew(a, 30 * S, now + 34 * S) is None  # the old holder learns it lost the lease
    assert store.renew(b, 30 * S, now + 34 * S) is not None
    store.release(b, now + 35 * S)
    c = store.acquire("mint", "replica-c", 30 * S, now + 35 * S)
    assert c is not None and c.token == 3


def test_racing_replicas_take_a_new_lease_once(store: JobStore, db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    stores = [JobStore(e) for e in engines]
    got: list[Any] = []
    barrier = threading.Barrier(len(stores))

    def take(i: int) -> None:
        barrier.wait()
        got.append(stores[i].acquire("daily_statement", f"r{i}", 30 * S, 5_000 * S))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len([g for g in got if g is not None]) == 1
    for e in engines:
        e.dispose()


def test_two_schedulers_run_a_calendar_job_once_per_slot(tmp_path: Path, db_url: str) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        calls: list[str] = []
        gate = threading.Event()

        def slow(container: Any) -> str:
            calls.append("ran")
            gate.wait(2)
            return "statement written"

        job = Job("daily_statement", parse_schedule(slot_just_passed(time.time_ns())), slow)  # due now, once
        a = Scheduler(issuer.container, [job], holder="replica-a", lease_ttl_s=5)
        b = Scheduler(issuer.container, [job], holder="replica-b", lease_ttl_s=5)
        results: list[Any] = []
        threads = [threading.Thread(target=lambda s=s: results.append(s.run_job(job))) for s in (a, b)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        gate.set()
        for t in threads:
            t.join(30)
        assert calls == ["ran"]  # one replica ran it; the other found it held, or no longer due
        assert sorted(r is None for r in results) == [False, True]
        assert a.run_job(job) is None and b.run_job(job) is None  # the slot is done for today
        runs = a.store.runs("daily_statement")
        assert len(runs) == 1 and runs[0]["ok"] and runs[0]["summary"] == "statement written"
    finally:
        issuer.container.close()


def test_a_failing_job_is_recorded_with_its_error_and_retried(tmp_path: Path, db_url: str) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        def broken(container: Any) -> str:
            raise RuntimeError("the bank's host is away")

        job = Job("bank_inbox", parse_schedule("every 1s"), broken)
        sched = Scheduler(issuer.container, [job], holder="replica-a", lease_ttl_s=5)
        first = sched.run_job(job)
        assert first is not None and not first["ok"] and "bank's host is away" in first["error"]
        time.sleep(1.1)
        assert sched.run_job(job) is not None  # due again on its schedule
        assert [r["ok"] for r in sched.store.runs("bank_inbox")] == [False, False]
    finally:
        issuer.container.close()


def test_an_event_wakes_a_job_before_its_interval(tmp_path: Path, db_url: str) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    try:
        job = Job("mint", parse_schedule("every 1h"), lambda c: "minted")
        sched = Scheduler(issuer.container, [job], holder="replica-a", lease_ttl_s=5)
        assert sched.run_job(job) is not None
        assert not sched.due(job, sched._now()) and sched.run_job(job) is None  # an hour to go
        sched.wake("mint")  # e.g. subscriptions.received from the events stream
        assert sched.due(job, sched._now())
        assert sched.run_job(job) is not None and not sched.due(job, sched._now())  # woken once
    finally:
        issuer.container.close()
