"""The mutation check tool on one requirement: the control switched off, its tests fail, the table is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mutation_check_kills_the_travel_rule_mutant(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = subprocess.run([sys.executable, "tools/mutation_check.py", "--requirement", "AML-TRAVEL-RULE",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert (doc["mutants_total"], doc["mutants_killed"]) == (1, 1)
    [row] = doc["rows"]
    assert row["requirement"] == "AML-TRAVEL-RULE" and row["baseline"] == "pass" and row["killed"]
    assert any("test_travel_rule_threshold_is_hk_8000" in t for t in row["tests_failed"])
    assert "1 of 1 mutants killed" in proc.stdout


def test_every_requirement_has_a_mutant() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from _mutations import known

    register = json.loads((ROOT / "src" / "bauhinia" / "compliance_register.json").read_text())
    assert {r["id"] for r in register["requirements"]} == known()
