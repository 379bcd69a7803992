"""Service bench: how long the always-on service (`bauhinia run`) takes, unattended, from a bank credit's file
arriving in the inbox to its coins minted, and from a redemption request to its payout file, with 1 and with 3
replicas on PostgreSQL and the default job schedules.

    .venv/bin/python bench/service.py [--quick] [--files N] [--credits-per-file N] [--redemptions N]

Each replica is a separate `bauhinia run --no-api` process; all share one fresh PostgreSQL database and one chain
node (the embedded revm chain served over JSON-RPC). Files are written aside and renamed into the inbox one per
second; redemptions are asked for (and their coins sent in) while the files arrive. Latencies come from the
flows' own transition times in the database and the payout files' write times. Prints the figures and writes
bench/results/service.json (flat; units in the keys).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.adapters.chain.revm_server import RevmServer, serve
from bauhinia.adapters.store.issuance_tables import transitions
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "service.json"
PG_ADMIN = os.environ.get("BAUHINIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test").replace(
    "postgresql+psycopg://", "postgresql://")
CLI = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
PASSWORD = "service-bench"
HOLDERS = 8
DRAIN_S_MAX = 300.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _fresh_pg() -> tuple[str, str]:
    import psycopg

    name = f"bauhinia_svc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return f"{PG_ADMIN.rpartition('/')[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}", name


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def run_once(replicas: int, files: int, per_file: int, redemptions: int, node: RevmServer) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bauhinia-svc-") as tmp:
        data = Path(tmp) / "data"
        url, pg_name = _fresh_pg()
        procs: list[subprocess.Popen[str]] = []
        try:
            issuer = make_issuer(data, database_url=url, chain_rpc_url=node.url, capital_minor=100_000_000_00,
                                 keystore_scrypt_n=2, chain_keystore_password=PASSWORD, chain_confirmations=0,
                                 chain_dev_funding=True)
            ctx = issuer.ctx
            holders = [issuer.add_holder(f"h{i}", f"Service Bench Trading {i} Ltd", f"004-555-{300400 + i}-838")
                       for i in range(HOLDERS)]
            issuer.fund_gas(*holders)
            # the holders need coins to redeem: one credit each, minted before the replicas start
            issuer.drop_notification([issuer.deposit(h, 50_000_00, f"SEED-{i}") for i, h in enumerate(holders)],
                                     datetime.now(UTC))
            svc.ingest_bank_files(ctx)
            svc.run_subscriptions(ctx, Currency.CNH)
            seeded = {s.seq for s in ctx.store.subscriptions(limit=100_000)}
            env = {**os.environ, "BAUHINIA_DATA_DIR": str(data), "BAUHINIA_DATABASE_URL": url,
                   "BAUHINIA_CHAIN_RPC_URL": node.url, "BAUHINIA_CHAIN_KEYSTORE_PASSWORD": PASSWORD,
                   "BAUHINIA_CHAIN_CONFIRMATIONS": "0", "BAUHINIA_CHAIN_DEV_FUNDING": "1", "BAUHINIA_DEMO": "1",
                   "BAUHINIA_SCREEN_ISSUANCE": "0", "BAUHINIA_BANK_INBOX_SETTLE_S": "0", "BAUHINIA_LOG_JSON": "0",
                   "BAUHINIA_JOBS_SCHEDULE": json.dumps({"daily_reconciliation": "off", "weekly_disclosure": "off",
                                                         "daily_statement": "off", "list_update": "off"})}
            procs = [subprocess.Popen([*CLI, "run", "--no-api"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, text=True) for _ in range(replicas)]
            from bauhinia.adapters.store.jobs_tables import job_runs

            up_by = time.monotonic() + 120  # measure the service, not its start: wait until every replica runs jobs
            while True:
                with issuer.container.engine.connect() as conn:
                    running = conn.execute(sa.select(sa.func.count(sa.distinct(job_runs.c.holder)))).scalar()
                if int(running or 0) >= replicas:
                    break
                if time.monotonic() > up_by:
                    raise RuntimeError(f"only {running} of {replicas} replica(s) came up")
                time.sleep(0.2)
            arrived: dict[int, int] = {}  # credit amount (unique per credit) -> arrival time
            requested: dict[int, int] = {}  # redemption seq -> request time
            chain = issuer.chain()
            every = max(1, files // max(1, redemptions)) if redemptions else 0
            for n in range(files):
                entries = []
                for j in range(per_file):
                    k = n * per_file + j
                    h = holders[k % HOLDERS]
                    entries.append(SimEntry(1_000_00 + k, True, f"SVC-IN-{k:05d}", f"SUB {h.deposit_reference}",
                                            h.name))
                part = issuer.inbox() / f"svc-{n:04d}.xml.part"
                part.write_bytes(camt054(f"SVC-NTF-{n:04d}", datetime.now(UTC), issuer.settings.reserve_account_cnh,
                                         "CNH", entries))
                part.rename(issuer.inbox() / f"svc-{n:04d}.xml")
                now = time.time_ns()
                for e in entries:
                    arrived[e.amount_minor] = now
                if every and n % every == 0 and len(requested) < redemptions:
                    i = len(requested)
                    h = holders[i % HOLDERS]
                    amount = 100_00 + i
                    r = svc.request_redemption(ctx, iss.RedemptionRequest(h.customer_id, Currency.BCNH, amount,
                                                                          h.wallet, h.bank_account, f"svc-red-{i}"))
                    requested[r.seq] = time.time_ns()
                    chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(amount),
                                      idempotency_key=f"svc-red-{i}:in")
                time.sleep(1.0)
            deadline = time.monotonic() + DRAIN_S_MAX
            while True:
                subs = [s for s in ctx.store.subscriptions(limit=100_000) if s.seq not in seeded]
                done = len(subs) == files * per_file and all(s.status == "minted" for s in subs)
                paid = all(ctx.store.redemption(seq).status == "payout_instructed" for seq in requested)
                if done and paid:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{replicas} replica(s): not drained within {DRAIN_S_MAX} s")
                time.sleep(0.5)
            with issuer.container.engine.connect() as conn:
                minted_at = {int(seq): int(at) for seq, at in conn.execute(
                    sa.select(transitions.c.flow_seq, sa.func.min(transitions.c.at_ns))
                    .where(transitions.c.flow == "subscription", transitions.c.to_status == "minted")
                    .group_by(transitions.c.flow_seq))}
            mint_s = [(minted_at[s.seq] - arrived[s.amount_minor]) / 1e9 for s in subs if s.amount_minor in arrived]
            payout_s = []
            written: dict[str, float] = {}
            for f in (data / "bank" / "outbox").glob("*.xml"):
                for ref in re.findall(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>", f.read_text()):
                    written[ref] = f.stat().st_mtime_ns / 1e9
            for seq, at in requested.items():
                payout_s.append(written[svc.payout_reference(Currency.CNH, seq)] - at / 1e9)
            issuer.container.close()
            return {"mint_s": mint_s, "payout_s": payout_s, "credits": len(subs), "redemptions": len(requested)}
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
            _drop_pg(pg_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (for tests)")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--credits-per-file", type=int, default=None)
    parser.add_argument("--redemptions", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    files = args.files or (2 if args.quick else 40)
    per_file = args.credits_per_file or (2 if args.quick else 10)
    redemptions = args.redemptions if args.redemptions is not None else (1 if args.quick else 20)
    node = serve()
    results: dict[str, Any] = {"quick": args.quick, "files": files, "credits_per_file": per_file,
                               "redemptions": redemptions, "schedule": "defaults (mint every 5 s, bank inbox every "
                               "5 s, redemptions every 10 s)"}
    started = time.monotonic()
    try:
        for replicas in (1, 3):
            got = run_once(replicas, files, per_file, redemptions, node)
            mint, payout = got["mint_s"], got["payout_s"]
            results[f"replicas_{replicas}_credits"] = got["credits"]
            results[f"replicas_{replicas}_mint_p50_s"] = round(statistics.median(mint), 2) if mint else None
            results[f"replicas_{replicas}_mint_p99_s"] = round(_pct(mint, 0.99), 2) if mint else None
            results[f"replicas_{replicas}_payout_p50_s"] = round(statistics.median(payout), 2) if payout else None
            results[f"replicas_{replicas}_payout_p99_s"] = round(_pct(payout, 0.99), 2) if payout else None
            print(f"{replicas} replica(s): {got['credits']} credits, mint p50 "
                  f"{results[f'replicas_{replicas}_mint_p50_s']} s p99 {results[f'replicas_{replicas}_mint_p99_s']} s;"
                  f" {got['redemptions']} redemptions, payout p99 {results[f'replicas_{replicas}_payout_p99_s']} s")
    finally:
        node.stop()
    results["mint_p99_target_s"] = 30
    results["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
