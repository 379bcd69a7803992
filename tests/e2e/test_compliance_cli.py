"""`bauhinia compliance ...` end to end (subprocess, real entry point, embedded SQLite in a temp folder):
onboard, re-screen after a list change, monitor, handle a case, export an STR, four-eyes freeze, retention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000 * 10**9
HOUR = 3_600 * 10**9
WALLET = "0x" + "a1" * 20
LISTED = "0x" + "66" * 20


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "test.ftm.json").write_text(
        json.dumps({"id": "e1", "schema": "Person", "properties": {"name": ["Kim Jong Un"]}}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "blacklist.txt").write_text(f"{LISTED},stolen funds\n", encoding="utf-8")
    # The people acting are operators: clients of the credentials store with the compliance role.
    from bauhinia.adapters.store import api_credentials as creds
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.config import Settings

    engine = make_engine(Settings(demo=True, data_dir=tmp_path / "var", database_url="").resolved_database_url())
    migrate(engine)
    OPERATORS.update({name: creds.create_client(engine, name, {"compliance"}) for name in ("olivia", "lead", "mlro")})
    engine.dispose()
    return {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path / "var"), "BAUHINIA_DATABASE_URL": "",
            "BAUHINIA_SANCTIONS_DIR": str(lists), "BAUHINIA_BLACKLIST": str(tmp_path / "blacklist.txt"),
            "COLUMNS": "200"}


OPERATORS: dict[str, str] = {}


def run(env: dict[str, str], *args: str, actor: str = "olivia") -> subprocess.CompletedProcess[str]:
    e = {**env, "BAUHINIA_OPERATOR_ID": actor, "BAUHINIA_OPERATOR_SECRET": OPERATORS[actor]}
    return subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", "compliance", *args],
                          capture_output=True, text=True, timeout=120, check=False, cwd=ROOT, env=e)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def customer(cid: str, name: str) -> dict[str, object]:
    return {"customer_id": cid, "identity_verified": True,
            "parties": [{"kind": "natural", "party_id": f"{cid}-p", "names": [name], "nationality": "HK",
                         "documents": [{"type": "hkid", "number": "Z6837120", "issuing_country": "HK"}]}]}


@pytest.mark.slow
def test_onboard_rescreen_monitor_case_str_freeze(env: dict[str, str], tmp_path: Path) -> None:
    onboarding = tmp_path / "customers.json"
    onboarding.write_text(json.dumps([customer("C1", "陳大文"), customer("C2", "Kim Jong Un")],
                                     ensure_ascii=False), encoding="utf-8")
    out = ok(run(env, "onboard", str(onboarding), "--today", "2026-03-01"))
    assert "C1 陳大文: accepted" in out and "C2 Kim Jong Un: refused" in out
    assert "next review 2029-03-01" in out
    assert "Z6837120" not in ok(run(env, "customer", "C1"))

    # A list change lists C1 (as CHAN Tai Man): the re-screen catches it.
    lists = Path(env["BAUHINIA_SANCTIONS_DIR"])
    with (lists / "test.ftm.json").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "e2", "schema": "Person", "properties": {"name": ["CHAN Tai Man"]}}) + "\n")
    out = ok(run(env, "rescreen"))
    assert "C1: accepted -> refused" in out
    assert "unchanged" in ok(run(env, "rescreen"))

    events = tmp_path / "events.jsonl"
    rows = [{"event_id": f"d{i}", "kind": "fiat_in", "at_ns": T0 + i * HOUR, "amount_hkd_minor": 790_000,
             "customer_id": "C1"} for i in range(3)]
    rows.append({"event_id": "t1", "kind": "transfer", "at_ns": T0, "amount_hkd_minor": 50_000,
                 "from_address": LISTED, "to_address": WALLET})
    events.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = ok(run(env, "monitor", str(events)))
    assert "structuring C1" in out and "listed_exposure" in out and "opened CASE-000001" in out
    assert "threshold_hkd_minor=800000" in out

    cases = ok(run(env, "cases"))
    case_id = next(line.split()[1] for line in cases.splitlines() if " C1 " in line)
    ok(run(env, "case", "assign", case_id, "olivia", actor="lead"))
    ok(run(env, "case", "note", case_id, "three deposits of HK$7,900 within two hours"))
    ok(run(env, "case", "escalate", case_id, "--to", "mlro", "--reason", "structuring"))
    out = ok(run(env, "freeze", "request", case_id, WALLET, "--reason", "protect funds"))
    request_id = out.split(":")[0].strip()
    refused = run(env, "freeze", "approve", request_id)  # the requester cannot approve
    assert refused.returncode == 2 and "maker_cannot_approve" in refused.stderr
    # The second person's approval runs the approvals executor: the freeze goes to the chain.
    assert "executed by client:mlro" in ok(run(env, "freeze", "approve", request_id, actor="mlro"))

    out = ok(run(env, "str-export", case_id, "--out", str(tmp_path / "str"), actor="mlro"))
    report = json.loads((tmp_path / "str" / f"STR-{case_id}-1.json").read_text(encoding="utf-8"))
    assert report["subject"]["names"] == ["陳大文"] and report["total_hkd_minor"] == 2_370_000
    assert (tmp_path / "str" / f"STR-{case_id}-1.pdf").read_bytes().startswith(b"%PDF")
    bad_close = run(env, "case", "close", case_id, "--reason", "closed-somehow", "--note", "x")
    assert bad_close.returncode != 0 and "unknown close reason" in bad_close.stderr
    ok(run(env, "case", "close", case_id, "--reason", "str_filed", "--note", "filed via STREAMS",
           actor="mlro"))
    shown = ok(run(env, "case", "show", case_id))
    for action in ("opened", "assigned", "noted", "escalated", "freeze_requested", "freeze_approved",
                   "str_exported", "closed"):
        assert action in shown
    assert "closed as str_filed" in shown


def test_retention_refuses_early_deletion(env: dict[str, str], tmp_path: Path) -> None:
    onboarding = tmp_path / "c.json"
    onboarding.write_text(json.dumps(customer("C7", "Ho Ka Yan")), encoding="utf-8")
    ok(run(env, "onboard", str(onboarding)))
    early = run(env, "delete-customer", "C7")
    assert early.returncode != 0 and "relationship has not ended" in early.stderr
    assert "kept until 2031-01-31" in ok(run(env, "end-relationship", "C7", "--on", "2026-01-31"))
    early = run(env, "delete-customer", "C7", "--today", "2031-01-30")
    assert early.returncode != 0 and "records must be kept until 2031-01-31" in early.stderr
    assert "records deleted" in ok(run(env, "delete-customer", "C7", "--today", "2031-01-31"))


def test_bad_input_files_refused_with_a_reason(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    r = run(env, "onboard", str(bad))
    assert r.returncode != 0 and "not JSON" in r.stderr
    events = tmp_path / "e.jsonl"
    events.write_text('{"event_id": "x", "kind": "gift", "at_ns": 1, "amount_hkd_minor": 1}\n', encoding="utf-8")
    r = run(env, "monitor", str(events))
    assert r.returncode != 0 and "line 1" in r.stderr and "unknown event kind" in r.stderr
