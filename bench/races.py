"""Race trials: two mint runners at once against a node across a network never mint a credit twice.

    .venv/bin/python bench/races.py [--quick] [--trials N] [--latency-ms 150] [--stores sqlite,postgres]

Each trial builds an issuer with a few received credits on a fresh store, then starts two runners together
against the same store and the same chain node (the embedded revm chain served over HTTP JSON-RPC, every answer
delayed by the latency):
  cli   two `bauhinia issuance mint` processes (an overlapping cron run, an operator's run during a scheduled one);
  api   two `bauhinia serve` processes sharing the store (two API workers or hosts), each sent
        `POST /v1/mint-runs` at the same moment.
Afterwards it checks, from the chain's own logs and the ledger, that every credit was minted exactly once and
that chain supply equals the ledger's coins outstanding, and that neither runner failed (a runner that dies on the
other's work wedges the next recovery). Prints the figures and writes bench/results/races.json
(flat: trials and double mints per mode and store, seconds). Exits 1 on any double mint or mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bauhinia.adapters.chain.indexer import TRANSFER_TOPIC
from bauhinia.adapters.chain.revm_server import RevmServer, serve
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "races.json"
PG_ADMIN = os.environ.get("BAUHINIA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "race-trials"
JWT_SECRET = "r" * 48
CREDITS = 6
CLI = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_pg() -> tuple[str, str]:
    import psycopg

    name = f"bauhinia_race_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", name


def _drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _env(data: Path, db_url: str, node: RevmServer) -> dict[str, str]:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(data), "BAUHINIA_DATABASE_URL": db_url,
           "BAUHINIA_CHAIN_RPC_URL": node.url, "BAUHINIA_CHAIN_KEYSTORE_PASSWORD": PASSWORD,
           "BAUHINIA_CHAIN_CONFIRMATIONS": "0", "BAUHINIA_CHAIN_DEV_FUNDING": "1", "BAUHINIA_DEMO": "1",
           "BAUHINIA_SCREEN_ISSUANCE": "0",
           "BAUHINIA_API_JWT_SECRET": JWT_SECRET, "PYTHONUNBUFFERED": "1"}
    env.pop("BAUHINIA_FAULT_KILL_AT", None)
    return env


def _issuer(data: Path, db_url: str, node: RevmServer) -> Any:
    return make_issuer(data, database_url=db_url, chain_rpc_url=node.url, capital_minor=10_000_000_00,
                       keystore_scrypt_n=2, chain_keystore_password=PASSWORD, chain_confirmations=0,
                       chain_dev_funding=True)


def _prepare(data: Path, db_url: str, node: RevmServer) -> dict[str, int]:
    """Holders with verified wallets and received credits; returns wallet -> expected base units."""
    issuer = _issuer(data, db_url, node)
    try:
        expected: dict[str, int] = {}
        entries = []
        for i in range(CREDITS):
            holder = issuer.add_holder(f"h{i}", f"Race Trading {i} Ltd", f"004-555-{100200 + i}-838")
            amount = 1_000_00 + i
            entries.append(issuer.deposit(holder, amount, f"IN-{i}"))
            fee = iss.fee_minor(amount, 0)
            expected[holder.wallet.lower()] = minor_to_base_units(amount - fee)
        issuer.drop_notification(entries, NOW)
        assert svc.ingest_bank_files(issuer.ctx).subscriptions == CREDITS
    finally:
        issuer.container.close()
    return expected


def _run_cli_pair(env: dict[str, str]) -> list[str]:
    procs = [subprocess.Popen([*CLI, "issuance", "mint", "--currency", "CNH"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        outs.append(f"exit {p.returncode}: {out.strip()[-300:]}")
    return outs


def _run_api_pair(env: dict[str, str]) -> list[str]:
    # the first admin of a new install is created at once (later staff roles need a second admin)
    made = subprocess.run([*CLI, "api", "create-client", "racer", "--role", "admin"], env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    secret = json.loads(made.stdout)["client_secret"]
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen([*CLI, "serve", "--port", str(p)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for p in ports]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base in bases:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError(f"{base} did not come up")
        token = httpx.post(f"{bases[0]}/v1/oauth/token", timeout=60, data={
            "grant_type": "client_credentials", "client_id": "racer", "client_secret": secret}).json()["access_token"]
        answers: list[str] = ["", ""]
        barrier = threading.Barrier(2)

        def post(i: int) -> None:
            barrier.wait()
            r = httpx.post(f"{bases[i]}/v1/mint-runs", json={"currency": "CNH"}, timeout=600,
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"race-{i}-{uuid.uuid4()}"})
            answers[i] = f"{r.status_code}: {r.text[:300]}"

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return answers
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            try:
                s.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()


def _check(data: Path, db_url: str, node: RevmServer, expected: dict[str, int]) -> dict[str, int]:
    """From the chain's logs: mints per wallet; from the ledger: coins outstanding."""
    issuer = _issuer(data, db_url, node)
    try:
        chain = issuer.chain()
        logs = node.provider.node.get_logs({"address": chain.address, "fromBlock": "0x0", "toBlock": "latest",
                                            "topics": [TRANSFER_TOPIC, "0x" + "00" * 32]})
        mints: dict[str, list[int]] = {}
        for log in logs:
            mints.setdefault("0x" + log["topics"][2][-40:], []).append(int(log["data"], 16))
        double = sum(max(0, len(v) - 1) for v in mints.values())
        missing = sum(1 for w in expected if w not in mints)
        outstanding = issuer.ctx.ledger.account(iss.book_account_id(Currency.CNH, Book.COINS_OUTSTANDING)).posted
        supply = int(chain.total_supply())
        return {"double_mints": double, "missing_mints": missing,
                "supply_mismatch_base_units": supply - minor_to_base_units(int(outstanding)),
                "minted_base_units": supply}
    finally:
        issuer.container.close()


def trial(mode: str, store: str, node: RevmServer, latency_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bauhinia-race-") as tmp:
        data = Path(tmp) / "data"
        pg_name = ""
        db_url = f"sqlite:///{tmp}/bauhinia.sqlite3"
        if store == "postgres":
            db_url, pg_name = _fresh_pg()
        try:
            node.latency_s = 0.0
            expected = _prepare(data, db_url, node)
            env = _env(data, db_url, node)
            node.latency_s = latency_s
            started = time.monotonic()
            answers = _run_cli_pair(env) if mode == "cli" else _run_api_pair(env)
            seconds = time.monotonic() - started
            node.latency_s = 0.0
            figures = _check(data, db_url, node, expected)
        finally:
            node.latency_s = 0.0
            if pg_name:
                _drop_pg(pg_name)
    failures = sum(1 for a in answers if not (a.startswith("exit 0:") or a.startswith("200:")))
    return {**figures, "runner_failures": failures, "seconds": seconds, "answers": answers}


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one trial per mode and store (for tests)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=None, help="per answer of the node (150; --quick 30)")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--modes", default="cli,api")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    trials = 1 if args.quick else args.trials
    if args.latency_ms is None:
        args.latency_ms = 30 if args.quick else 150
    stores = [s for s in args.stores.split(",") if s]
    if "postgres" in stores and not _pg_available():
        if os.environ.get("CI"):
            print(f"error: PostgreSQL is not reachable at {PG_ADMIN}", file=sys.stderr)
            return 2
        print(f"PostgreSQL not reachable at {PG_ADMIN}: sqlite only")
        stores = [s for s in stores if s != "postgres"]
    node = serve()
    results: dict[str, Any] = {"quick": args.quick, "latency_ms": args.latency_ms, "credits_per_trial": CREDITS}
    failed = False
    started = time.monotonic()
    try:
        for store in stores:
            for mode in args.modes.split(","):
                doubles = mismatches = failures = 0
                for n in range(trials):
                    got = trial(mode, store, node, args.latency_ms / 1000)
                    doubles += got["double_mints"]
                    failures += got["runner_failures"]
                    bad = (got["double_mints"] or got["missing_mints"] or got["supply_mismatch_base_units"]
                           or got["runner_failures"])
                    mismatches += 1 if bad else 0
                    print(f"{store} {mode} trial {n + 1}/{trials}: {got['double_mints']} double mint(s), "
                          f"{got['missing_mints']} missing, supply - ledger = {got['supply_mismatch_base_units']}, "
                          f"{got['runner_failures']} runner(s) failed "
                          f"({got['seconds']:.1f} s) {' | '.join(got['answers'])}")
                    failed = failed or bool(bad)
                results[f"{store}_{mode}_trials"] = trials
                results[f"{store}_{mode}_double_mints"] = doubles
                results[f"{store}_{mode}_trials_with_a_mismatch"] = mismatches
                results[f"{store}_{mode}_runner_failures"] = failures
    finally:
        node.stop()
    results["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
