"""bench/ledger.py --quick runs end to end and writes the figures it promises (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_ledger_quick(tmp_path: Path) -> None:
    out = tmp_path / "ledger.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "ledger.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in ("sqlite_batched_transfers_per_s", "sqlite_single_transfers_per_s", "naive_sqlite_transfers_per_s",
                "peak_rss_mb"):
        assert figures[key] > 0, key
    assert "postgres_batched_transfers_per_s" in figures
    # about 2% of the workload must be refused for insufficient funds
    assert 1.0 <= figures["sqlite_batched_rejected_share_pct"] <= 3.5
    assert figures["quick"] is True
