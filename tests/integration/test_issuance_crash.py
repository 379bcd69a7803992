"""SIGKILL at random points during 1,000 subscriptions and 100 redemptions on a JSON-RPC node, then restart:
no double mint, no double payout, no lost request, and ledger supply equals chain supply."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import chain_node
import pytest

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer

hardhat_url = chain_node.hardhat_url  # fixture

CHILD = Path(__file__).with_name("issuance_crash_child.py")
sys.path.insert(0, str(CHILD.parent))
import issuance_crash_child as child  # noqa: E402

FILES = 10
CREDITS_PER_FILE = 100
KILLS = 8


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "BAUHINIA_CHAIN_KEYSTORE_PASSWORD": "crash-test",
            "BAUHINIA_CHAIN_CONFIRMATIONS": "0"}


def _run(args: list[str], kill_after_s: float | None) -> str:
    """Run the child; kill it with SIGKILL after `kill_after_s` unless it finished first ("killed" then)."""
    proc = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    if kill_after_s is None:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        return out
    try:
        out, err = proc.communicate(timeout=kill_after_s)
        assert proc.returncode == 0, err[-3000:]  # finished before the kill
        return out
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        return out + "\nkilled"


@pytest.mark.slow
@pytest.mark.node
def test_sigkill_during_issuance_never_double_mints_or_pays(tmp_path: Path, db_url: str, hardhat_url: str) -> None:
    data = tmp_path / "data"
    inbox = data / "bank" / "inbox"
    inbox.mkdir(parents=True)
    at = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    refs = {i: iss.deposit_reference_for(i + 1) for i in range(child.HOLDERS)}  # holders onboard in order
    expected_minor = 0
    for f in range(FILES):
        entries = []
        for j in range(CREDITS_PER_FILE):
            n = f * CREDITS_PER_FILE + j
            amount = 1_000_00 + n
            expected_minor += amount
            entries.append(SimEntry(amount, True, f"IN-{n:05d}", f"SUB {refs[n % child.HOLDERS]}", f"Holder {n}"))
        (inbox / f"{f:03d}.xml").write_bytes(camt054(f"CRASH-{f:03d}", at, "012-875-001234-002", "CNH", entries))
    args = [str(data), db_url, hardhat_url]
    rng = random.Random(int(time.time()))
    kills = 0
    finished = False
    for _ in range(KILLS):
        out = _run(args, kill_after_s=rng.uniform(1.5, 5.0))
        kills += out.endswith("killed")
        if "done" in out:
            finished = True
            break
    if not finished:
        assert "done" in _run(args, kill_after_s=None)
    assert kills >= 3, "the child finished before it could be killed often enough to test anything"

    os.environ.update({"BAUHINIA_CHAIN_KEYSTORE_PASSWORD": "crash-test", "BAUHINIA_CHAIN_CONFIRMATIONS": "0"})
    issuer = make_issuer(data, database_url=db_url, chain_rpc_url=hardhat_url, capital_minor=10_000_000_00,
                         keystore_scrypt_n=2)
    ctx = issuer.ctx
    subs = ctx.store.subscriptions(limit=10_000)
    # no lost request: every credit booked once and minted
    assert len(subs) == FILES * CREDITS_PER_FILE
    assert {s.status for s in subs} == {"minted"}
    assert sum(s.amount_minor for s in subs) == expected_minor
    # no double mint: the chain minted exactly what was received (coins were only burned by redemptions)
    reds = ctx.store.redemptions(limit=10_000)
    assert len(reds) == child.REDEMPTIONS and {r.status for r in reds} == {"payout_instructed"}
    burned_minor = sum(r.amount_minor for r in reds)
    chain = issuer.chain()
    assert chain.total_supply() == minor_to_base_units(expected_minor - burned_minor)
    supply = __import__("bauhinia.services.issuance", fromlist=["supply_check"]).supply_check(ctx, Currency.CNH)
    assert supply["difference_base_units"] == 0
    # no double payout: each redemption reference appears in exactly one payment instruction of one file
    outbox = data / "bank" / "outbox"
    seen: dict[str, int] = {}
    for f in outbox.glob("*.xml"):
        for ref in re.findall(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>", f.read_text()):
            seen[ref] = seen.get(ref, 0) + 1
    assert len(seen) == child.REDEMPTIONS and set(seen.values()) == {1}
    assert ctx.ledger.check_invariants().ok
    issuer.container.close()
