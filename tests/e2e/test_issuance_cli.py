"""The issuance CLI as a user runs it: clear one-line errors and non-zero exits on bad input; the cycle command
books a bank file and mints on the embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bauhinia.adapters.bank.simulator import SimEntry, camt054


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_issuance_cli(tmp_path: Path) -> None:
    assert run(tmp_path, "issuance", "configure-coin", "--currency", "CNH", "--licence", "HKMA-1",
               "--approval", "PBOC-1").returncode == 0
    assert run(tmp_path, "issuance", "fund-capital", "--currency", "CNH", "--amount", "1000.00",
               "--reference", "cap-1").returncode == 0
    out = run(tmp_path, "issuance", "customer", "add", "acme", "Acme Trading Ltd")
    assert out.returncode == 0 and "BH00000017" in out.stdout
    bad = run(tmp_path, "issuance", "customer", "status", "acme", "bogus", "--reason", "x")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: bad_status: unknown status 'bogus'"
    assert run(tmp_path, "issuance", "customer", "status", "acme", "cleared", "--reason", "CDD done").returncode == 0
    amount = run(tmp_path, "issuance", "redeem", "acme", "--amount", "12.345", "--wallet", "0x" + "1" * 40,
                 "--bank-account", "1", "--key", "k")
    assert amount.returncode == 2 and "more than 2 decimals" in amount.stderr and len(amount.stderr.splitlines()) == 1
    sample = Path(__file__).resolve().parents[1] / "fixtures" / "iso20022" / "camt054_credit_sample.xml"
    foreign = run(tmp_path, "issuance", "ingest", str(sample))
    assert foreign.returncode == 1 and "unknown_account" in foreign.stdout
    f = tmp_path / "n.xml"
    f.write_bytes(camt054("CLI-1", datetime.now(UTC), "012-875-001234-002", "CNH",
                          [SimEntry(500_00, True, "S1", "SUB BH00000017", "Acme Trading Ltd")]))
    booked = run(tmp_path, "issuance", "ingest", str(f))
    assert booked.returncode == 0 and "1 subscription(s)" in booked.stdout
    subs = run(tmp_path, "issuance", "subscriptions")
    assert "CNH 500.00" in subs.stdout and "received" in subs.stdout
    assert "invariants hold" in run(tmp_path, "ledger", "check").stdout
