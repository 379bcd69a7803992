"""bench/reserves.py runs in quick mode and writes the figures it promises (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_reserves_quick(tmp_path: Path) -> None:
    out = tmp_path / "reserves.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reserves.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    for key in ("pol_build_1m_s", "pol_verify_ms", "reconcile_1m_s"):
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
    assert figures["holders"] == 20_000 and figures["quick"] is True
