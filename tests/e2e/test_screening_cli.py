"""`bauhinia screening ...` end to end, as a user runs it (subprocess, real entry point)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "screening"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bauhinia.entrypoints.cli.main", "screening", *args],
        capture_output=True, text=True, timeout=180, check=False, cwd=cwd,
    )


@pytest.fixture()
def lists(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    folder.mkdir()
    for name in ("un_small.xml", "ofac_sdn.csv", "ofac_alt.csv", "ofac_add.csv", "ofac_sdn_comments.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def test_score_pairs_prints_metrics_and_writes_scores(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "name1,name2,schema,is_match\n習近平,Xi Jinping / 习近平,Person,1\n王芳,汪芳,Person,0\n"
        "陳大文,CHAN Tai Man,Person,1\n习近朋,习近平,Person,0\n",
        encoding="utf-8",
    )
    done = run("score-pairs", str(pairs))
    assert done.returncode == 0, done.stderr
    assert "precision 1.0000  recall 1.0000  f1 1.0000" in done.stdout
    rows = list(csv.DictReader((tmp_path / "pairs.scored.csv").open(encoding="utf-8")))
    assert [r["decision"] for r in rows] == ["hit", "clear", "hit", "clear"]
    assert float(rows[0]["score"]) == 1.0


def test_score_pairs_without_labels_and_with_out(tmp_path: Path) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text("name1,name2,schema\nHuawei Technologies Co. Ltd,HUAWEI TECHNOLOGIES LIMITED,Company\n",
                     encoding="utf-8")
    out = tmp_path / "scores.csv"
    done = run("score-pairs", str(pairs), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "precision" not in done.stdout and out.exists()


def test_score_pairs_refuses_missing_columns(tmp_path: Path) -> None:
    pairs = tmp_path / "p.csv"
    pairs.write_text("a,b\n1,2\n", encoding="utf-8")
    done = run("score-pairs", str(pairs))
    assert done.returncode != 0 and "needs columns" in done.stderr


def test_screen_file_writes_best_hits(tmp_path: Path, lists: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("full_name,date_of_birth,nationality\n黃滿志,1961-03-18,China\n王芳,,\n張磊,1976,CN\n",
                      encoding="utf-8")
    done = run("screen-file", str(people), "--lists", str(lists))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "people.hits.csv").open(encoding="utf-8")))
    first = [r for r in rows if r["row"] == "1"]
    assert first[0]["entity_id"] == "ofac-9340" and first[0]["decision"] == "hit"
    assert "date of birth 1961-03-18 matches" in first[0]["explanation"]
    assert [r["decision"] for r in rows if r["row"] == "2"] == ["clear"]
    assert next(r for r in rows if r["row"] == "3")["entity_id"] == "ofac-16318"


def test_screen_file_refuses_malformed_list(tmp_path: Path, lists: Path) -> None:
    (lists / "un_small.xml").write_text("<CONSOLIDATED_LIST><broken>", encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text("full_name\nX\n", encoding="utf-8")
    done = run("screen-file", str(people), "--lists", str(lists))
    assert done.returncode != 0 and "not well-formed XML" in done.stderr


def test_screen_wallet_direct_and_indirect(tmp_path: Path, lists: Path) -> None:
    listed = "0x7Db418b5D567A4e0E8c59Ad71BE1FcE48f3E6107"
    done = run("screen-wallet", listed, "--lists", str(lists))
    assert done.returncode == 0, done.stderr
    assert ": block" in done.stdout and "ofac-30518" in done.stdout
    customer = "0x" + "1" * 40
    transfers = tmp_path / "t.csv"
    transfers.write_text(f"from,to,amount\n{listed},{customer},1000000\n", encoding="utf-8")
    done = run("screen-wallet", customer, "--lists", str(lists), "--transfers", str(transfers))
    assert ": alert" in done.stdout
    done = run("screen-wallet", "0x" + "5" * 40, "--lists", str(lists))
    assert ": clear" in done.stdout


def test_check_travel_rule(tmp_path: Path) -> None:
    from bauhinia.adapters.screening.travel_rule import Party, build_ivms101

    payload = build_ivms101(Party(name="CHAN", given_names="Tai Man", account="0x" + "1" * 40),
                            Party(name="LEE", given_names="Ka Kit", account="0x" + "2" * 40))
    path = tmp_path / "ivms.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    assert run("check-travel-rule", str(path), "--amount-hkd-minor", "500000").returncode == 0
    done = run("check-travel-rule", str(path), "--amount-hkd-minor", "800000")
    assert done.returncode != 0 and "travel_rule_incomplete" in done.stderr
