"""bench/screening.py runs in quick mode and writes the figures it promises (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_screening_quick(tmp_path: Path) -> None:
    out = tmp_path / "screening.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screening.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    for key in ("f1", "precision", "recall", "p50_ms", "p99_ms"):
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
    assert figures["list_names"] > 10_000
    assert figures["queries"] == 200 and figures["quick"] is True
    assert 0 < figures["f1"] <= 1
