"""REST API throughput and latency: redemption requests (POST /v1/redemptions, each with its own Idempotency-Key)
and subscription reads (GET /v1/subscriptions) from 50 concurrent clients, against `bauhinia serve --workers N`
(uvicorn, N worker processes) on the embedded defaults (SQLite, WAL + synchronous=FULL) and on PostgreSQL; next
to a plain FastAPI "hello" endpoint served by uvicorn the same way (N workers, and one process as the floor),
measured in the same run.

The load comes from wrk (a C load generator, one thread, script bench/wrk/api.lua) when it is on PATH, so the
client takes little of the machine's CPU; otherwise from aiohttp in this process. The JSON records which one
("load_generator").

Each redemption request authenticates a JWT, takes the idempotency key, validates the request against the
customer's verified wallet and bank account, commits the redemption with its outbox event and audit entry,
stores the response for replay and appends the API audit entry.

Usage: python bench/api.py [--quick] [--seconds S] [--clients N] [--no-postgres] [--workers N]
                           [--load-generator auto|wrk|aiohttp] [--out FILE]
Prints its figures and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

RESULTS = Path(__file__).resolve().parent / "results" / "api.json"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "api.lua"
PG_ADMIN = os.environ.get("BAUHINIA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HELLO_APP = (
    "from fastapi import FastAPI\n"
    "app = FastAPI()\n"
    "@app.get('/hello')\n"
    "def hello() -> dict[str, str]:\n"
    "    return {'hello': 'world'}\n"
)


@dataclass(frozen=True)
class Run:
    """One load run: answers with the expected status per second, latencies (ms), wrong answers and errors."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def prepare(data_dir: Path, db_url: str, customers: int) -> tuple[str, list[dict[str, str]]]:
    """An issuer with cleared customers (wallets, bank accounts), minted coins and an operator client."""
    issuer = make_issuer(data_dir, database_url=db_url, capital_minor=100_000_000_00)
    holders = [issuer.add_holder(f"c{i:03d}", f"Customer {i} Ltd", f"004-555-{i:06d}-838") for i in range(customers)]
    issuer.drop_notification([issuer.deposit(h, 1_000_000_00, f"IN-{i}") for i, h in enumerate(holders)],
                             datetime.now(UTC), message_id="API-BENCH-1")
    svc.ingest_bank_files(issuer.ctx)
    secret = creds.create_client(issuer.container.engine, "bench-operator", {"operator"}, None)
    issuer.container.close()
    bodies = [{"customer_id": h.customer_id, "currency": "CNH", "wallet": h.wallet, "bank_account": h.bank_account}
              for h in holders]
    return secret, bodies


async def load(base: str, headers: dict[str, str], clients: int, seconds: float,
               make_request: object) -> tuple[list[float], int, int]:
    """`clients` concurrent loops for `seconds` (aiohttp: a light client, so the server is what is measured);
    returns latencies (ms), ok count, error count."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base_url=base, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def worker(n: int) -> None:
            nonlocal errors
            rng = random.Random(n)
            while time.perf_counter() < stop:
                method, path, kwargs, expect = make_request(rng)  # type: ignore[operator]
                t0 = time.perf_counter()
                async with client.request(method, path, **kwargs) as r:
                    body = await r.read()
                ms = (time.perf_counter() - t0) * 1000
                if r.status == expect:
                    latencies.append(ms)
                else:
                    errors += 1
                    if errors < 3:
                        print(f"  unexpected {r.status}: {body[:200]!r}", file=sys.stderr)

        await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, len(latencies), errors


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


def run_aiohttp(base: str, token: str, mode: str, bodies: list[dict[str, str]], clients: int,
                seconds: float) -> Run:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def redeem(rng: random.Random) -> tuple[str, str, dict[str, object], int]:
        body = {**rng.choice(bodies), "amount_minor": rng.randint(100_00, 10_000_00)}
        return "POST", "/v1/redemptions", {"json": body, "headers": {"Idempotency-Key": uuid.uuid4().hex}}, 201

    def read(rng: random.Random) -> tuple[str, str, dict[str, object], int]:
        return "GET", "/v1/subscriptions", {"params": {"limit": 20}}, 200

    def mixed(rng: random.Random) -> tuple[str, str, dict[str, object], int]:
        return redeem(rng) if rng.random() < 0.5 else read(rng)

    def hello(rng: random.Random) -> tuple[str, str, dict[str, object], int]:
        return "GET", "/hello", {}, 200

    fn = {"redemption": redeem, "read": read, "mixed": mixed, "hello": hello}[mode]
    lat, ok, err = asyncio.run(load(base, headers, clients, seconds, fn))
    return Run(round(ok / seconds, 1), pct(lat, 0.50), pct(lat, 0.99), err)


def run_wrk(base: str, token: str, mode: str, bodies: list[dict[str, str]], clients: int, seconds: float) -> Run:
    """wrk -t1 with bench/wrk/api.lua; its done() prints one JSON line (latencies in µs)."""
    with tempfile.TemporaryDirectory() as d:
        bodies_file = Path(d) / "bodies.jsonl"
        # one body per line; the Lua script puts a random amount in place of AMOUNT
        bodies_file.write_text("".join(json.dumps({**b, "amount_minor": "AMOUNT"}).replace('"AMOUNT"', "AMOUNT") + "\n"
                                       for b in bodies))
        env = {**os.environ, "MODE": mode, "TOKEN": token, "BODIES": str(bodies_file), "POST_SHARE": "0.5"}
        duration_s = max(1, math.ceil(seconds))  # wrk takes whole seconds
        cmd = ["wrk", "-t1", f"-c{clients}", f"-d{duration_s}s", "--latency", "--timeout", "60s",
               "-s", str(WRK_SCRIPT), base]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration_s + 120, check=False)
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    r = json.loads(lines[-1])
    ok = r["requests"] - r["bad_status"]
    return Run(round(ok / (r["duration_us"] / 1e6), 1), round(r["p50_us"] / 1000, 2), round(r["p99_us"] / 1000, 2),
               int(r["errors"]))


def run_load(generator: str, base: str, token: str, mode: str, bodies: list[dict[str, str]], clients: int,
             seconds: float) -> Run:
    run = run_wrk if generator == "wrk" else run_aiohttp
    return run(base, token, mode, bodies, clients, seconds)


def measure_bauhinia(db_url: str, clients: int, seconds: float, label: str, workers: int,
                     generator: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        secret, bodies = prepare(data, db_url, customers=50)
        port = free_port()
        env = {**os.environ, "BAUHINIA_DATA_DIR": str(data), "BAUHINIA_DATABASE_URL": db_url,
               "BAUHINIA_LOG_LEVEL": "WARNING", "BAUHINIA_API_JWT_SECRET": "b" * 48,
               "BAUHINIA_CNH_MAINLAND_APPROVAL_REFERENCE": "PBOC-CB-DEMO-2025-001"}
        proc = subprocess.Popen([sys.executable, "-m", "bauhinia.entrypoints.cli.main", "serve", "--port", str(port),
                                 "--no-relay", "--workers", str(workers)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_up(f"{base}/healthz", proc)
            tok = httpx.post(f"{base}/v1/oauth/token", data={"grant_type": "client_credentials",
                             "client_id": "bench-operator", "client_secret": secret}, timeout=30).json()
            token = tok["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            # warm up: the first redemption deploys the embedded chain in the server process
            warm = httpx.post(f"{base}/v1/redemptions", json={**bodies[0], "amount_minor": 100_00},
                              headers={**headers, "Idempotency-Key": "warm"}, timeout=60)
            if warm.status_code != 201:
                raise SystemExit(f"warm-up redemption failed: {warm.status_code} {warm.text[:300]}")

            out: dict[str, float] = {}
            for name, mode in (("redemption", "redemption"), ("subscription_read", "read"), ("mixed", "mixed")):
                r = run_load(generator, base, token, mode, bodies, clients, seconds)
                key = "" if name == "mixed" else f"{name}_"
                out[f"{label}{key}requests_per_s"] = r.requests_per_s
                out[f"{label}{key}p50_ms"] = r.p50_ms
                out[f"{label}{key}p99_ms"] = r.p99_ms
                out[f"{label}{key}errors"] = r.errors
                print(f"{label or 'sqlite_'}{name}: {r.requests_per_s:,.0f} req/s, p50 {r.p50_ms} ms, "
                      f"p99 {r.p99_ms} ms, {r.errors} errors")
            return out
        finally:
            stop(proc)


def measure_hello(clients: int, seconds: float, workers: int, label: str, generator: str) -> dict[str, float]:
    """The hello app served like `bauhinia serve --workers N`: uvicorn (same event loop and HTTP parser), `workers`
    processes, no access log."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "bench_hello_app.py").write_text(HELLO_APP)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench_hello_app:app", "--app-dir", d,
                                 "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
                                 "--log-level", "warning", "--no-access-log"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_up(f"{base}/hello", proc)
            r = run_load(generator, base, "", "hello", [], clients, seconds)
        finally:
            stop(proc)
    print(f"{label}: {r.requests_per_s:,.0f} req/s ({workers} worker{'s' if workers > 1 else ''}), "
          f"p50 {r.p50_ms} ms, p99 {r.p99_ms} ms, {r.errors} errors")
    return {f"{label}_requests_per_s": r.requests_per_s, f"{label}_p50_ms": r.p50_ms, f"{label}_p99_ms": r.p99_ms}


def pg_database() -> str | None:
    import psycopg

    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    name = f"bauhinia_apibench_{uuid.uuid4().hex[:8]}"
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
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'drop database if exists "{url.rpartition("/")[2]}" with (force)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of `bauhinia serve`")
    ap.add_argument("--load-generator", choices=("auto", "wrk", "aiohttp"), default="auto",
                    help="auto: wrk when it is on PATH, else aiohttp in this process")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 15.0)
    generator = args.load_generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "aiohttp"
    elif generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")
    if generator == "wrk":
        seconds = float(max(1, math.ceil(seconds)))  # wrk runs whole seconds
    print(f"load generator: {generator}, {args.clients} clients, {seconds:g} s per run")
    out: dict[str, object] = {"clients": args.clients, "seconds_per_run": seconds, "quick": args.quick,
                              "server_workers": args.workers, "load_generator": generator}
    hello = measure_hello(args.clients, seconds, args.workers, "hello", generator)
    if args.workers == 1:
        one = {k.replace("hello_", "hello_1worker_", 1): v for k, v in hello.items()}
    else:
        one = measure_hello(args.clients, seconds, 1, "hello_1worker", generator)
    out.update(hello)
    out.update(one)
    with tempfile.TemporaryDirectory() as d:
        out.update(measure_bauhinia(f"sqlite:///{d}/api.sqlite3", args.clients, seconds, "", args.workers,
                                    generator))
    pg = None if args.no_postgres else pg_database()
    if pg:
        try:
            out.update(measure_bauhinia(pg, args.clients, seconds, "postgres_", args.workers, generator))
        finally:
            drop_pg(pg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
