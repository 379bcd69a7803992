"""Three replicas of `bauhinia run` on one PostgreSQL database share the issuer's day (issue 15).

Separate processes on loopback against one PostgreSQL database and one chain node (the revm chain served over
JSON-RPC). Bank files and redemption requests arrive for a bounded time; the replica holding the mint job is
SIGKILLed midway. Then: every credit minted once, every redemption instructed once, one daily statement, the mint
lease taken over within its bound, and no job run by two replicas at once (from the fencing tokens in the run log).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.adapters.chain.indexer import TRANSFER_TOPIC
from bauhinia.adapters.chain.revm_server import RevmServer, serve
from bauhinia.adapters.store.jobs_tables import job_leases, job_runs
from bauhinia.domain import issuance as iss
from bauhinia.domain.jobs import slot_just_passed
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CLI = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
PASSWORD = "replicas-test"
LEASE_TTL_S = 3.0
HOLDERS = 4
FILES = 4
CREDITS_PER_FILE = 3
REDEMPTIONS = 3
WAIT_S = 240
SCHEDULE = {"bank_inbox": "every 1s", "chain_indexer": "every 1s", "mint": "every 1s", "redemptions": "every 1s",
            "recover": "every 5s", "outbox_relay": "every 1s",
            "daily_reconciliation": "off", "weekly_disclosure": "off", "deadline_watcher": "every 10s",
            "list_update": "off"}


@pytest.fixture()
def node() -> Iterator[RevmServer]:
    server = serve()
    yield server
    server.stop()


def _issuer(data: Path, url: str, node: RevmServer) -> Issuer:
    return make_issuer(data, database_url=url, chain_rpc_url=node.url, capital_minor=10_000_000_00,
                       keystore_scrypt_n=2, chain_keystore_password=PASSWORD, chain_confirmations=0,
                       chain_dev_funding=True)


def _env(data: Path, url: str, node: RevmServer) -> dict[str, str]:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(data), "BAUHINIA_DATABASE_URL": url,
           "BAUHINIA_CHAIN_RPC_URL": node.url, "BAUHINIA_CHAIN_KEYSTORE_PASSWORD": PASSWORD,
           "BAUHINIA_CHAIN_CONFIRMATIONS": "0", "BAUHINIA_CHAIN_DEV_FUNDING": "1", "BAUHINIA_DEMO": "1",
           "BAUHINIA_SCREEN_ISSUANCE": "0",
           # the daily statement's slot just passed: due at once, and once across the replicas
           "BAUHINIA_JOBS_SCHEDULE": json.dumps({**SCHEDULE, "daily_statement": slot_just_passed(time.time_ns())}),
           "BAUHINIA_JOBS_LEASE_TTL_S": str(LEASE_TTL_S), "BAUHINIA_JOBS_TICK_S": "0.2",
           "BAUHINIA_LOG_JSON": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("BAUHINIA_FAULT_KILL_AT", None)
    return env


def _drop(issuer: Issuer, n: int, holders: list[Any]) -> int:
    """A complete camt.054 with CREDITS_PER_FILE credits, written aside and renamed in (as a bank's SFTP does)."""
    entries, total = [], 0
    for j in range(CREDITS_PER_FILE):
        k = n * CREDITS_PER_FILE + j
        h = holders[k % len(holders)]
        amount = 2_000_00 + k
        total += amount
        entries.append(SimEntry(amount, True, f"REP-IN-{k:04d}", f"SUB {h.deposit_reference}", h.name))
    inbox = issuer.inbox()
    part = inbox / f"rep-{n:03d}.xml.part"
    part.write_bytes(camt054(f"REP-NTF-{n:03d}", datetime.now(UTC), issuer.settings.reserve_account_cnh, "CNH",
                             entries))
    part.rename(inbox / f"rep-{n:03d}.xml")
    return total


def _pid(holder: str) -> int:
    return int(holder.split(":")[1])


def test_three_replicas_share_the_day_and_survive_a_killed_mint_holder(tmp_path: Path, pg_url: str,
                                                                       node: RevmServer) -> None:
    data = tmp_path / "data"
    issuer = _issuer(data, pg_url, node)
    ctx = issuer.ctx
    holders = [issuer.add_holder(f"h{i}", f"Replica Trading {i} Ltd", f"004-555-{200300 + i}-838")
               for i in range(HOLDERS)]
    issuer.fund_gas(*holders)
    env = _env(data, pg_url, node)
    replicas = [subprocess.Popen([*CLI, "run", "--no-api", "--drain-s", "10"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    engine = issuer.container.engine
    killed: dict[str, Any] = {}
    try:
        credited = 0
        for n in range(FILES):
            credited += _drop(issuer, n, holders)
            time.sleep(1.0)
            if n == 1:  # midway: SIGKILL whichever replica holds the mint job's lease
                deadline = time.monotonic() + 30
                while not killed and time.monotonic() < deadline:
                    with engine.connect() as conn:
                        row = conn.execute(sa.select(job_leases).where(job_leases.c.name == "mint")).first()
                    if row is not None and int(row.expires_at_ns) > time.time_ns():
                        victim = next((p for p in replicas if p.pid == _pid(row.holder)), None)
                        if victim is not None:
                            victim.send_signal(signal.SIGKILL)
                            killed.update(holder=row.holder, token=int(row.token), at_ns=time.time_ns())
                    time.sleep(0.02)
                assert killed, "no replica was seen holding the mint lease"
        # redemption requests while the survivors run: the holders send their coins in
        deadline = time.monotonic() + WAIT_S
        while len([s for s in ctx.store.subscriptions(limit=1_000) if s.status == "minted"]) < FILES * CREDITS_PER_FILE:
            assert time.monotonic() < deadline, "credits were not all minted in time"
            time.sleep(0.5)
        reds = []
        deadline = time.monotonic() + WAIT_S
        chain = issuer.chain()
        for i in range(REDEMPTIONS):
            h = holders[i]
            reds.append(svc.request_redemption(ctx, iss.RedemptionRequest(
                h.customer_id, Currency.BCNH, 1_000_00 + i, h.wallet, h.bank_account, f"rep-red-{i}")))
            chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(1_000_00 + i),
                              idempotency_key=f"rep-red-{i}:in")
        while {ctx.store.redemption(r.seq).status for r in reds} != {"payout_instructed"}:
            if time.monotonic() > deadline:
                with engine.connect() as conn:
                    last = [dict(r._mapping) for r in conn.execute(
                        sa.select(job_runs).where(job_runs.c.name == "redemptions")
                        .order_by(job_runs.c.id.desc()).limit(3))]
                raise AssertionError(f"redemptions not all instructed in time: "
                                     f"{[ctx.store.redemption(r.seq).status for r in reds]}; last runs {last}")
            time.sleep(0.5)
    finally:
        outputs = []
        for p in replicas:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in replicas:
            try:
                out, _ = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            outputs.append(out)

    # every credit minted once: one Transfer from the zero address per subscription, amounts matching
    subs = ctx.store.subscriptions(limit=1_000)
    assert len(subs) == FILES * CREDITS_PER_FILE and sum(s.amount_minor for s in subs) == credited
    logs = node.provider.node.get_logs({"address": chain.address, "fromBlock": "0x0", "toBlock": "latest",
                                        "topics": [TRANSFER_TOPIC, "0x" + "00" * 32]})
    minted = sorted(int(log["data"], 16) for log in logs)
    assert minted == sorted(minor_to_base_units(s.amount_minor - s.fee_minor) for s in subs)
    assert svc.supply_check(ctx, Currency.CNH)["difference_base_units"] == 0
    # every redemption instructed once, across all payout files
    seen: dict[str, int] = {}
    for f in (data / "bank" / "outbox").glob("*.xml"):
        for ref in re.findall(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>", f.read_text()):
            seen[ref] = seen.get(ref, 0) + 1
    assert sorted(seen) == sorted(svc.payout_reference(Currency.CNH, r.seq) for r in reds)
    assert set(seen.values()) == {1}
    with engine.connect() as conn:
        runs = [dict(r._mapping) for r in conn.execute(sa.select(job_runs).order_by(job_runs.c.id))]
    # one daily statement
    statements = [r for r in runs if r["name"] == "daily_statement" and r["ok"]]
    assert len(statements) == 1, statements
    # the mint lease was taken over within its bound after the kill
    after = [r for r in runs if r["name"] == "mint" and r["holder"] != killed["holder"]
             and r["started_at_ns"] > killed["at_ns"]]
    assert after, "no other replica minted after the kill"
    takeover_s = (after[0]["started_at_ns"] - killed["at_ns"]) / 1e9
    assert takeover_s <= LEASE_TTL_S + 3.0, takeover_s
    assert after[0]["token"] > killed["token"]
    # no job ran on two replicas at once: per job, each run ends before the next starts, and a run the kill cut
    # short is followed only by a run under a higher fencing token
    for name in {r["name"] for r in runs}:
        mine = [r for r in runs if r["name"] == name]
        for a, b in itertools.pairwise(mine):
            if a["finished_at_ns"] is None:
                assert a["holder"] == killed["holder"] and b["token"] > a["token"], (name, a, b)
            else:
                assert a["finished_at_ns"] <= b["started_at_ns"], (name, a, b)
            assert b["token"] >= a["token"]
    holders_seen = {r["holder"] for r in runs}
    assert len(holders_seen) >= 2, holders_seen  # the work really was shared
    survivors = [o for p, o in zip(replicas, outputs, strict=True) if p.returncode == 0]
    assert len(survivors) == 2, [p.returncode for p in replicas]
    issuer.container.close()
