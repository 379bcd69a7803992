"""bench/issuance.py --quick runs end to end and writes the figures it promises (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_issuance_quick(tmp_path: Path) -> None:
    out = tmp_path / "issuance.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "issuance.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["subscriptions_per_s"] > 0 and figures["redemptions_per_s"] > 0
    assert figures["credits"] == 500 and figures["quick"] is True
