"""bench/api.py --quick serves the API, loads it with concurrent clients and writes its figures (no timing
asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_api_quick(tmp_path: Path) -> None:
    out = tmp_path / "api.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "api.py"), "--quick", "--seconds", "1",
                           "--clients", "10", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in ("requests_per_s", "p99_ms", "hello_requests_per_s", "redemption_requests_per_s"):
        assert figures[key] > 0, key
    assert figures["errors"] == 0 and figures["redemption_errors"] == 0
