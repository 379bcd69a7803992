"""Ledger throughput: transfers/s batched (8,190) and single, on SQLite and PostgreSQL, against a naive baseline.

Workload: 10,000 accounts (one bank asset account and customer liability accounts that may not go below zero),
each customer funded first; then random transfers between customers, of which about 2% ask for more than the
payer holds and must be rejected for insufficient funds. Durable settings: SQLite WAL + synchronous=FULL,
PostgreSQL defaults (fsync on, synchronous_commit on). Transfer objects are built before the clock starts.

Usage: python bench/ledger.py [--quick] [--transfers N] [--accounts N] [--no-postgres] [--out FILE]
Prints its figures and writes bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain.ledger import Account, AccountFlags, AccountKind, Transfer
from bauhinia.domain.limits import transfer_batch_size_max
from naive_ledger import run_naive

RESULTS = Path(__file__).resolve().parent / "results" / "ledger.json"
PG_ADMIN = os.environ.get("BAUHINIA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FUNDING_MINOR = 1_000_000_00  # HK$1,000,000 per customer
REJECT_SHARE = 0.02


def workload(n_accounts: int, n_transfers: int, seed: int, first_id: int) -> list[Transfer]:
    rng = random.Random(seed)
    out = []
    for i in range(n_transfers):
        a = rng.randint(2, n_accounts)
        b = rng.randint(2, n_accounts - 1)
        if b >= a:
            b += 1
        # 2% ask for more than any customer could hold: rejected for insufficient funds.
        amount = FUNDING_MINOR * 100 if rng.random() < REJECT_SHARE else rng.randint(1, 10_000)
        out.append(Transfer(first_id + i, a, b, amount, "HKD", code=1))
    return out


def setup(ledger: SqlLedger, n_accounts: int) -> None:
    accts = [Account(1, "HKD", AccountKind.ASSET, code=1, reference="bank")]
    accts += [
        Account(i, "HKD", AccountKind.LIABILITY, int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS), code=2)
        for i in range(2, n_accounts + 1)
    ]
    for k in range(0, len(accts), transfer_batch_size_max):
        ledger.create_accounts(accts[k : k + transfer_batch_size_max])
    funding = [Transfer(10**12 + i, 1, i, FUNDING_MINOR, "HKD", code=9) for i in range(2, n_accounts + 1)]
    for k in range(0, len(funding), transfer_batch_size_max):
        res = ledger.create_transfers(funding[k : k + transfer_batch_size_max])
        if set(res) != {"ok"}:
            raise SystemExit(f"funding failed: {set(res)}")


def run_batches(ledger: SqlLedger, transfers: list[Transfer], batch: int) -> tuple[float, int, int]:
    ok = rejected = 0
    t0 = time.perf_counter()
    for k in range(0, len(transfers), batch):
        for r in ledger.create_transfers(transfers[k : k + batch]):
            if r == "ok":
                ok += 1
            else:
                rejected += 1
    return time.perf_counter() - t0, ok, rejected


def pg_database() -> str | None:
    import psycopg

    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = f"bauhinia_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as c:
            c.execute(f'create database "{name}"')
    except Exception as exc:
        print(f"PostgreSQL unavailable, skipping its figures: {exc}", file=sys.stderr)
        return None
    return PG_ADMIN.rpartition("/")[0] + "/" + name


def drop_pg(url: str) -> None:
    import psycopg

    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = url.rpartition("/")[2]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}" with (force)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    ap.add_argument("--transfers", type=int)
    ap.add_argument("--accounts", type=int)
    ap.add_argument("--singles", type=int)
    ap.add_argument("--naive", type=int)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the figures (JSON)")
    args = ap.parse_args()
    n_tr = args.transfers or (20_000 if args.quick else 1_000_000)
    n_acc = args.accounts or (1_000 if args.quick else 10_000)
    n_single = args.singles or (300 if args.quick else 5_000)
    n_naive = args.naive or (2_000 if args.quick else 100_000)
    batch = transfer_batch_size_max
    out: dict[str, object] = {
        "transfers": n_tr,
        "accounts": n_acc,
        "batch_size": batch,
        "single_transfers": n_single,
        "naive_transfers": n_naive,
    }
    work = workload(n_acc, n_tr, 1, 1)
    singles = workload(n_acc, n_single, 2, 50_000_000)
    naive_work = workload(n_acc, n_naive, 3, 80_000_000)

    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/ledger.sqlite3")
        migrate(engine)
        ledger = SqlLedger(engine, time.time_ns)
        setup(ledger, n_acc)
        secs, _, rej = run_batches(ledger, work, batch)
        out["sqlite_batched_transfers_per_s"] = round(n_tr / secs)
        out["sqlite_batched_rejected_share_pct"] = round(100 * rej / n_tr, 2)
        print(f"SQLite batched: {n_tr:,} transfers in {secs:.2f} s = {n_tr / secs:,.0f}/s ({rej:,} rejected)")
        secs, _, rej = run_batches(ledger, singles, 1)
        out["sqlite_single_transfers_per_s"] = round(n_single / secs)
        print(f"SQLite single:  {n_single:,} transfers in {secs:.2f} s = {n_single / secs:,.0f}/s")
        t0 = time.perf_counter()
        report = ledger.check_invariants()
        out["sqlite_check_invariants_s"] = round(time.perf_counter() - t0, 3)
        if not report.ok:
            raise SystemExit(f"invariants broken after the bench: {report.problems[:3]}")
        engine.dispose()

        naive_engine = make_engine(f"sqlite:///{d}/naive.sqlite3")
        migrate(naive_engine)
        setup(SqlLedger(naive_engine, time.time_ns), n_acc)
        naive_engine.dispose()
        t0 = time.perf_counter()
        _, rej = run_naive(f"{d}/naive.sqlite3", naive_work, time.time_ns())
        secs = time.perf_counter() - t0
        out["naive_sqlite_transfers_per_s"] = round(n_naive / secs)
        print(f"Naive SQLite (one transaction per transfer): {n_naive / secs:,.0f}/s")
    out["sqlite_batched_vs_naive_ratio"] = round(
        int(out["sqlite_batched_transfers_per_s"]) / int(out["naive_sqlite_transfers_per_s"]), 1  # type: ignore[call-overload]
    )

    pg_url = None if args.no_postgres else pg_database()
    if pg_url:
        try:
            engine = make_engine(pg_url)
            migrate(engine)
            ledger = SqlLedger(engine, time.time_ns)
            setup(ledger, n_acc)
            secs, _, rej = run_batches(ledger, work, batch)
            out["postgres_batched_transfers_per_s"] = round(n_tr / secs)
            print(f"PostgreSQL batched: {n_tr:,} in {secs:.2f} s = {n_tr / secs:,.0f}/s ({rej:,} rejected)")
            secs, _, rej = run_batches(ledger, singles, 1)
            out["postgres_single_transfers_per_s"] = round(n_single / secs)
            print(f"PostgreSQL single: {n_single / secs:,.0f}/s")
            if not ledger.check_invariants().ok:
                raise SystemExit("invariants broken after the PostgreSQL bench")
            engine.dispose()
        finally:
            drop_pg(pg_url)
    else:
        out["postgres_batched_transfers_per_s"] = None
        out["postgres_single_transfers_per_s"] = None

    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(f"peak RSS: {out['peak_rss_mb']} MB; batched vs naive: {out['sqlite_batched_vs_naive_ratio']}x")
    out["quick"] = args.quick
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
