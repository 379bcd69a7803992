"""bench/races.py --quick runs both race modes on both stores and finds no double mint (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_races_quick(tmp_path: Path) -> None:
    result = tmp_path / "races.json"
    env = {**os.environ}
    env.pop("BAUHINIA_DATABASE_URL", None)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "races.py"), "--quick", "--out", str(result)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    data = json.loads(result.read_text(encoding="utf-8"))
    stores = ["sqlite", "postgres"] if "postgres_cli_trials" in data or os.environ.get("CI") else ["sqlite"]
    for store in stores:
        for mode in ("cli", "api"):
            assert data[f"{store}_{mode}_trials"] == 1
            assert data[f"{store}_{mode}_double_mints"] == 0
            assert data[f"{store}_{mode}_trials_with_a_mismatch"] == 0
            assert data[f"{store}_{mode}_runner_failures"] == 0
