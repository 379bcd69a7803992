"""`bauhinia trade ...` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", "trade", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={"BAUHINIA_DATA_DIR": str(cwd / "var"), "BAUHINIA_DEMO": "1", "PATH": "/usr/bin:/bin"})


def test_quote_prices_exactly(tmp_path: Path) -> None:
    done = run("quote", "--pay", "100000", "--currency", "HKD", "--rate", "0.9213", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "BCNH 92,130.000000" in done.stdout


def test_demo_then_unwired_step_fails_with_one_line(tmp_path: Path) -> None:
    done = run("demo", "--report-dir", str(tmp_path / "rep"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "state released" in done.stdout and "swap settled" in done.stdout
    assert (tmp_path / "rep" / "trade_report.html").exists()
    refused = run("swap", "Q-1", cwd=tmp_path)
    assert refused.returncode != 0 and refused.stderr.startswith("error: chain_not_wired")
