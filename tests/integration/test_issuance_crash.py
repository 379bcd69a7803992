"""SIGKILL at every named commit boundary of the money flows (bauhinia/faults.py), then restart: no double mint,
no double payout, no lost request, and ledger supply equals chain supply.

Each case runs an issuer process (issuance_crash_child.py) with BAUHINIA_FAULT_KILL_AT set to one point and
occurrence: it must die there by SIGKILL (a point the code no longer reaches fails the case instead of passing
it quietly). A second, unarmed run recovers and finishes the work, and the end state is checked. The kill is
placed by the code, not by a timer, so every run on any machine tests the same windows.

The chain must outlive the killed process: the embedded revm node served over JSON-RPC from the test process
(revm_node.py), and a Hardhat node where one is installed (node marker: skips without it, except under CI).
Both stores: the embedded SQLite file and PostgreSQL (skips when unreachable, except under CI).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chain_node
import pytest
import revm_node

from bauhinia import faults
from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

hardhat_url = chain_node.hardhat_url  # fixtures
revm_url = revm_node.revm_url

CHILD = Path(__file__).with_name("issuance_crash_child.py")
sys.path.insert(0, str(CHILD.parent))
import issuance_crash_child as child  # noqa: E402

# A small book that still reaches every point at least twice: the child ingests two files per round and mints
# after each round (two mint batches), and runs redemptions every three requests (two burns, two payout files).
FILES = 4
CREDITS_PER_FILE = 3
HOLDERS = 2
REDEMPTIONS = 6
REDEEM_EVERY = 3
# Which occurrences of each point are killed at, one case each. Every point at its first; the second where the
# book is then in another state (a file after a booked one, a batch or burn after a finished one). The chain
# journal's first transactions deploy the contracts: its 16th is this book's first batch mint, its 21st its
# first burn (a change to the deploy shifts them onto other transactions, which are still killed at).
OCCURRENCES: dict[str, tuple[int, ...]] = {
    **{point: (1,) for point in faults.POINTS},
    "bank.after_booking": (1, 2), "mint.after_batch": (1, 2), "mint.after_send": (1, 2),
    "redeem.after_burn_booked": (1, 2), "payout.after_batch": (1, 2),
    "chain.after_journal": (16, 21), "chain.after_send": (16, 21),
}
# Every point in the order one book's flows reach them after each restart (the sequence test).
SEQUENCE = ("chain.after_journal", "chain.after_send", "bank.after_booking", "mint.after_batch", "mint.after_send",
            "mint.after_booked", "redeem.after_burn_booked", "redeem.after_burn", "payout.after_batch",
            "payout.after_file", "payout.after_marked")
CHILD_TIMEOUT_S = 300
KEYSTORE_PASSWORD = "crash-test"



def _env(kill_at: str = "") -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BAUHINIA_CHAIN_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
           "BAUHINIA_CHAIN_CONFIRMATIONS": "0"}
    env.pop("BAUHINIA_FAULT_KILL_AT", None)
    if kill_at:
        env["BAUHINIA_FAULT_KILL_AT"] = kill_at
    return env


def _run_child(args: list[str], kill_at: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHILD), *args], capture_output=True, text=True,
                          env=_env(kill_at), timeout=CHILD_TIMEOUT_S, check=False)


def _write_inbox(inbox: Path) -> int:
    """The bank files the child reads; returns the total credited (minor units)."""
    inbox.mkdir(parents=True)
    at = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    refs = {i: iss.deposit_reference_for(i + 1) for i in range(HOLDERS)}  # holders onboard in order
    total = 0
    for f in range(FILES):
        entries = []
        for j in range(CREDITS_PER_FILE):
            n = f * CREDITS_PER_FILE + j
            amount = 1_000_00 + n
            total += amount
            entries.append(SimEntry(amount, True, f"IN-{n:05d}", f"SUB {refs[n % HOLDERS]}", f"Holder {n}"))
        (inbox / f"{f:03d}.xml").write_bytes(camt054(f"CRASH-{f:03d}", at, "012-875-001234-002", "CNH", entries))
    return total


def _kill(args: list[str], point: str, nth: int) -> None:
    """Run the child armed at `point`'s `nth` occurrence: it must die there by SIGKILL."""
    killed = _run_child(args, kill_at=f"{point}:{nth}")
    assert killed.returncode == -signal.SIGKILL, (
        f"the child was to die by SIGKILL at {point} (occurrence {nth}) but exited {killed.returncode}"
        + (": the point was never reached that often" if killed.returncode == 0 else "")
        + f"\n{killed.stdout[-1500:]}\n{killed.stderr[-3000:]}")
    assert "done" not in killed.stdout


def _recover_and_check(data: Path, db_url: str, rpc_url: str, args: list[str], expected_minor: int) -> None:
    """An unarmed run recovers and finishes; then nothing is lost, minted twice or paid twice."""
    recovered = _run_child(args)
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert "done" in recovered.stdout
    issuer = make_issuer(data, database_url=db_url, chain_rpc_url=rpc_url, capital_minor=10_000_000_00,
                         keystore_scrypt_n=2, chain_keystore_password=KEYSTORE_PASSWORD, chain_confirmations=0)
    try:
        ctx = issuer.ctx
        # no lost request: every credit booked once and minted
        subs = ctx.store.subscriptions(limit=10_000)
        assert len(subs) == FILES * CREDITS_PER_FILE
        assert {s.status for s in subs} == {"minted"}
        assert sum(s.amount_minor for s in subs) == expected_minor
        # no double mint: the chain minted exactly what was received (coins were only burned by redemptions)
        reds = ctx.store.redemptions(limit=10_000)
        assert len(reds) == REDEMPTIONS and {r.status for r in reds} == {"payout_instructed"}
        assert sorted(r.amount_minor for r in reds) == sorted(child.redemption_plan(i, HOLDERS)[1]
                                                             for i in range(REDEMPTIONS))
        burned_minor = sum(r.amount_minor for r in reds)
        assert issuer.chain().total_supply() == minor_to_base_units(expected_minor - burned_minor)
        assert svc.supply_check(ctx, Currency.CNH)["difference_base_units"] == 0
        # no double payout: each redemption reference appears in exactly one payment instruction of one file
        seen: dict[str, int] = {}
        for f in (data / "bank" / "outbox").glob("*.xml"):
            for ref in re.findall(r"<EndToEndId>(RDM-CNH-\d+)</EndToEndId>", f.read_text()):
                seen[ref] = seen.get(ref, 0) + 1
        assert len(seen) == REDEMPTIONS and set(seen.values()) == {1}
        ledger: Any = ctx.ledger  # the ledger service behind the context's read port
        assert ledger.check_invariants().ok
    finally:
        issuer.container.close()


# Fixtures, not getfixturevalue in the test body: titanoboa's pytest plugin anchors its EVM around each fixture,
# and a fixture set up from inside a test unwinds those anchors out of order.
@pytest.fixture()
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture()
def rpc_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_every_fault_point_is_killed_at() -> None:
    assert len(set(faults.POINTS)) == len(faults.POINTS)
    assert sorted(SEQUENCE) == sorted(faults.POINTS) == sorted(OCCURRENCES)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), [
    (point, nth) for point in faults.POINTS for nth in OCCURRENCES[point]])
def test_sigkill_at_a_commit_boundary_never_double_mints_or_pays(tmp_path: Path, sqlite_url: str, revm_url: str,
                                                                  point: str, nth: int) -> None:
    """One kill per case, at every point and occurrence: SQLite and the embedded chain (runs everywhere)."""
    data = tmp_path / "data"
    expected_minor = _write_inbox(data / "bank" / "inbox")
    args = [str(data), sqlite_url, revm_url, str(HOLDERS), str(REDEMPTIONS), str(REDEEM_EVERY)]
    _kill(args, point, nth)
    _recover_and_check(data, sqlite_url, revm_url, args, expected_minor)


@pytest.mark.slow
@pytest.mark.parametrize(("store_url", "rpc_url"), [
    pytest.param("postgres", "revm", marks=pytest.mark.postgres, id="postgres-revm"),
    pytest.param("sqlite", "hardhat", marks=pytest.mark.node, id="sqlite-hardhat"),
], indirect=True)
def test_sigkill_at_every_point_in_turn_then_recover(tmp_path: Path, store_url: str, rpc_url: str) -> None:
    """PostgreSQL and a Hardhat node: one book killed at every point in turn, in the order its flows reach them
    (each start first recovers from the kill before it, so recovery itself is killed too), then recovered."""
    data = tmp_path / "data"
    expected_minor = _write_inbox(data / "bank" / "inbox")
    args = [str(data), store_url, rpc_url, str(HOLDERS), str(REDEMPTIONS), str(REDEEM_EVERY)]
    for point in SEQUENCE:
        _kill(args, point, 1)
    _recover_and_check(data, store_url, rpc_url, args, expected_minor)
