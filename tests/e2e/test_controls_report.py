"""`bauhinia compliance controls-report`: runs the marked tests, writes the HTML + PDF + JSON evidence pack,
exits non-zero when a requirement has no passing test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAUHINIA = str(Path(sys.executable).with_name("bauhinia"))


def report(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    return subprocess.run([BAUHINIA, "compliance", "controls-report", "--out", str(tmp_path / "pack"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_pack_for_proven_requirements(tmp_path: Path) -> None:
    proc = report(tmp_path, "--requirement", "AML-TRAVEL-RULE", "--requirement", "ISS-BURN-ONE-ENTRY")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "pack" / "evidence.json").read_text())
    assert doc["ok"] and [r["status"] for r in doc["requirements"]] == ["proven", "proven"]
    travel = doc["requirements"][0]
    assert travel["id"] == "AML-TRAVEL-RULE" and travel["passed"] == 2 and travel["listed_not_marked"] == []
    html = (tmp_path / "pack" / "evidence.html").read_text()
    assert "2 of 2 requirements proven" in html and "test_travel_rule_threshold_is_hk_8000" in html
    assert "&#10004;" in html and "#1a7f37" in html  # green marks
    assert (tmp_path / "pack" / "evidence.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_requirement_without_a_passing_test_fails_the_pack(tmp_path: Path) -> None:
    register = json.loads((ROOT / "src" / "bauhinia" / "compliance_register.json").read_text())
    orphan = {"id": "XYZ-ORPHAN", "requirement": "A requirement no test proves.", "source": "none",
              "control": "bauhinia.domain.regulatory:evaluate",
              "tests": ["tests/unit/test_regulatory_domain.py::test_periods"]}
    travel = next(r for r in register["requirements"] if r["id"] == "AML-TRAVEL-RULE")
    path = tmp_path / "register.json"
    path.write_text(json.dumps({"version": "t", "requirements": [travel, orphan]}))
    proc = report(tmp_path, "--register", str(path), "--requirement", "AML-TRAVEL-RULE",
                  "--requirement", "XYZ-ORPHAN")
    assert proc.returncode != 0
    assert "XYZ-ORPHAN" in proc.stderr
    doc = json.loads((tmp_path / "pack" / "evidence.json").read_text())
    assert not doc["ok"]
    assert {r["id"]: r["status"] for r in doc["requirements"]} == {"AML-TRAVEL-RULE": "proven",
                                                                   "XYZ-ORPHAN": "unproven"}
    html = (tmp_path / "pack" / "evidence.html").read_text()
    assert "does NOT pass" in html and "&#10008;" in html
