"""bench/chain.py --quick runs and writes the figures it promises (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_chain_quick(tmp_path: Path) -> None:
    result = tmp_path / "chain.json"
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "chain.py"), "--quick", "--out", str(result)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(result.read_text(encoding="utf-8"))
    for key in ("embedded_batched_mint_credits_per_s", "embedded_single_mints_per_s", "node_single_mints_per_s",
                "indexer_events_per_s"):
        assert key in data
    assert data["embedded_batched_mint_credits_per_s"] > 0
    assert data["embedded_single_mints_per_s"] > 0
    assert data["indexer_events_per_s"] > 0
