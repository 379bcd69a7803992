"""bench/service.py --quick runs 1 and 3 `bauhinia run` replicas on PostgreSQL and writes the figures it
promises (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_service_quick(tmp_path: Path, pg_admin_url: str) -> None:  # pg_admin_url: fails in CI without it
    result = tmp_path / "service.json"
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "service.py"), "--quick", "--out", str(result)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    data = json.loads(result.read_text(encoding="utf-8"))
    for key in ("replicas_1_mint_p50_s", "replicas_1_mint_p99_s", "replicas_3_mint_p99_s", "replicas_3_payout_p99_s"):
        assert isinstance(data[key], float) and data[key] > 0, (key, data)
    assert data["replicas_1_credits"] == data["replicas_3_credits"] == data["files"] * data["credits_per_file"]
