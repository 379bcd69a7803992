"""Regulatory domain: the register's shape, judging evidence, incident notification deadlines and timeline,
redemption statistics, the export manifest; and the shipped register against the test files' markers."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest

from bauhinia.domain import regulatory as reg
from bauhinia.domain.errors import ConflictError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
REGISTER = json.loads((ROOT / "src" / "bauhinia" / "compliance_register.json").read_text())
S = reg.NS_PER_S
T0 = 1_800_000_000 * S


def test_shipped_register_parses_and_covers_the_issue() -> None:
    register = reg.parse_register(REGISTER)
    wanted = {"RES-FULL-BACKING", "ISS-MINT-FUNDS", "ISS-MINT-CLEARED", "RES-FROZEN-IN-SUPPLY", "ISS-REDEEM-AT-PAR",
              "ISS-PAYOUT-DEADLINE", "ISS-BURN-ONE-ENTRY", "ISS-NO-INTEREST", "RES-ELIGIBILITY", "RPT-DAILY-WEEKLY",
              "RES-RECON-HALT", "OPS-SECOND-APPROVER", "CHN-UPGRADE-CONTROL", "AML-CDD-THRESHOLD",
              "AML-TRAVEL-RULE", "AML-SANCTIONS", "REC-RETENTION-5Y", "CNH-APPROVAL", "INC-NOTIFY",
              "RPT-MONTHLY-RETURN"}
    assert wanted <= set(register.ids)


def _markers(path: Path) -> dict[str, set[str]]:
    """test function name -> requirement ids of its @pytest.mark.requirement decorators (read by AST)."""
    out: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                if (isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "requirement"):
                    out.setdefault(node.name, set()).update(a.value for a in d.args if isinstance(a, ast.Constant))
    return out


def test_every_listed_test_exists_and_carries_its_marker() -> None:
    register = reg.parse_register(REGISTER)
    problems = []
    for r in register.requirements:
        for t in r.tests:
            file, name = t.split("::", 1)
            path = ROOT / file
            if not path.exists():
                problems.append(f"{r.id}: {file} missing")
                continue
            if r.id not in _markers(path).get(name, set()):
                problems.append(f"{r.id}: {t} lacks @pytest.mark.requirement({r.id!r})")
    assert problems == []


def test_register_rows_are_checked() -> None:
    bad = copy.deepcopy(REGISTER)
    bad["requirements"][0]["id"] = "lower-case"
    with pytest.raises(ValidationError, match="must look like"):
        reg.parse_register(bad)
    dup = copy.deepcopy(REGISTER)
    dup["requirements"].append(dup["requirements"][0])
    with pytest.raises(ValidationError, match="twice"):
        reg.parse_register(dup)
    no_tests = copy.deepcopy(REGISTER)
    no_tests["requirements"][0]["tests"] = []
    with pytest.raises(ValidationError, match="tests are required"):
        reg.parse_register(no_tests)
    no_source = copy.deepcopy(REGISTER)
    del no_source["requirements"][0]["source"]
    with pytest.raises(ValidationError, match="missing field"):
        reg.parse_register(no_source)


def _reg(*tests: str) -> reg.Register:
    return reg.parse_register({"requirements": [
        {"id": "AA-ONE", "requirement": "one", "source": "s", "control": "bauhinia.domain.x:f",
         "tests": list(tests)},
        {"id": "AA-TWO", "requirement": "two", "source": "s", "control": "bauhinia.domain.x:g",
         "tests": ["tests/unit/t.py::test_b"]}]})


def test_evidence_proven_failing_unproven() -> None:
    register = _reg("tests/unit/t.py::test_a")
    P, F, K = reg.Outcome.PASSED, reg.Outcome.FAILED, reg.Outcome.SKIPPED
    ok = reg.evaluate(register, [reg.TestResult("tests/unit/t.py::test_a[sqlite]", ("AA-ONE",), P),
                                 reg.TestResult("tests/unit/t.py::test_a[postgres]", ("AA-ONE",), K),
                                 reg.TestResult("tests/unit/t.py::test_b", ("AA-TWO",), P)])
    assert [e.status for e in ok] == [reg.Status.PROVEN, reg.Status.PROVEN] and reg.evidence_ok(ok)
    assert ok[0].listed_not_marked == () and ok[0].skipped == 1
    failing = reg.evaluate(register, [reg.TestResult("tests/unit/t.py::test_a", ("AA-ONE",), P),
                                      reg.TestResult("tests/unit/t.py::test_c", ("AA-ONE",), F)])
    assert failing[0].status is reg.Status.FAILING and failing[0].marked_not_listed == ("tests/unit/t.py::test_c",)
    assert failing[1].status is reg.Status.UNPROVEN and not reg.evidence_ok(failing)
    skipped_only = reg.evaluate(register, [reg.TestResult("tests/unit/t.py::test_a", ("AA-ONE",), K)])
    assert skipped_only[0].status is reg.Status.UNPROVEN
    with pytest.raises(ValidationError, match="AA-NINE"):
        reg.evaluate(register, [reg.TestResult("tests/unit/t.py::test_a", ("AA-NINE",), P)])


@pytest.mark.requirement("INC-NOTIFY")
def test_shortfall_and_inability_to_pay_are_notified_immediately() -> None:
    for kind in (reg.IncidentKind.RESERVE_SHORTFALL, reg.IncidentKind.REDEMPTION_DEADLINE_BREACH):
        inc = reg.open_incident("i-1", kind, "BHKD", "short", actor="ops", now_ns=T0)
        assert inc.notify_by_ns == T0 and inc.severity is reg.Severity.HIGH
        assert reg.notification_status(inc, T0) == "due" and reg.notification_status(inc, T0 + 1) == "overdue"
    outage = reg.open_incident("i-2", reg.IncidentKind.OUTAGE, "ALL", "api down", actor="ops", now_ns=T0)
    assert outage.notify_by_ns == T0 + 24 * 3_600 * S and outage.severity is reg.Severity.MEDIUM
    high = reg.open_incident("i-3", reg.IncidentKind.OUTAGE, "ALL", "all down", actor="ops", now_ns=T0,
                             severity=reg.Severity.HIGH)
    assert high.notify_by_ns == T0 + 3_600 * S  # a high severity never waits more than an hour
    assert {reg.IncidentKind.RESERVE_SHORTFALL, reg.IncidentKind.REDEMPTION_DEADLINE_BREACH} == reg.IMMEDIATE_KINDS


def test_incident_timeline_notification_and_closure() -> None:
    inc = reg.open_incident("i-4", reg.IncidentKind.RECONCILIATION_BREAK, "BCNH", "bank != ledger", actor="ops",
                            now_ns=T0)
    with pytest.raises(ConflictError, match="before the regulator is notified"):
        reg.close_incident(inc, "fixed", actor="ops", now_ns=T0 + S)
    inc = reg.add_update(inc, "found the missing camt.053", actor="ops", now_ns=T0 + S)
    with pytest.raises(ValidationError):
        reg.record_notification(inc, " ", actor="ops", now_ns=T0 + 2 * S)
    late = T0 + 25 * 3_600 * S
    inc = reg.record_notification(inc, "HKMA/SI/2026/17", actor="mlro", now_ns=late)
    assert reg.notification_status(inc, late) == "notified_late" and "after the deadline" in inc.timeline[-1].text
    with pytest.raises(ConflictError):
        reg.record_notification(inc, "again", actor="mlro", now_ns=late)
    inc = reg.close_incident(inc, "statement re-read; breaker reset", actor="ops", now_ns=late + S)
    assert [e.action for e in inc.timeline] == ["opened", "update", "notified", "closed"]
    with pytest.raises(ConflictError):
        reg.add_update(inc, "more", actor="ops", now_ns=late + 2 * S)
    d = reg.incident_to_dict(inc, late + 3 * S)
    assert d["state"] == "closed" and d["notification"] == "notified_late" and len(d["timeline"]) == 4
    with pytest.raises(ValidationError, match="unknown incident kind"):
        reg.parse_kind("meteor")


@pytest.mark.requirement("RPT-MONTHLY-RETURN")
def test_redemption_stats_time_to_pay_and_breaches() -> None:
    H = 3_600 * S
    facts = [
        reg.RedemptionFact(100_00, 10, T0, T0 + 30 * H, T0 + 2 * H),  # paid in 2 h
        reg.RedemptionFact(200_00, 20, T0, T0 + 30 * H, T0 + 31 * H),  # paid late: a breach
        reg.RedemptionFact(300_00, 30, T0, T0 + 30 * H, None),  # unpaid past the deadline at period end: a breach
        reg.RedemptionFact(400_00, 40, T0, T0 + 300 * H, None),  # unpaid, still in time
    ]
    st = reg.redemption_stats(facts, T0 + 40 * H)
    assert (st.count, st.value_minor, st.fees_minor, st.paid_count) == (4, 1_000_00, 100, 2)
    assert st.time_to_pay_s_median == 2 * 3_600 and st.time_to_pay_s_max == 31 * 3_600
    assert st.breaches == 2
    assert reg.redemption_stats([], T0).time_to_pay_s_median is None


@pytest.mark.requirement("RPT-DAILY-WEEKLY")
def test_statement_line_composition_adds_up_to_the_reserve() -> None:
    line = reg.statement_line("BHKD", "HKD", "2026-11-26", outstanding_minor=1_000_00, redemptions_in_flight_minor=0,
                              composition_minor={"cash_at_bank": 600_00, "government_security": 500_00})
    line.check_invariants()
    assert line.reserve_value_minor == 1_100_00 and line.coverage_bps == 11_000
    assert line.composition_minor == {"cash_at_bank": 600_00, "government_security": 500_00}
    with pytest.raises(ValidationError):
        reg.statement_line("BHKD", "HKD", "2026-11-26", outstanding_minor=-1, redemptions_in_flight_minor=0,
                           composition_minor={})


def test_periods() -> None:
    assert reg.parse_period("2026-12") == (2026, 12)
    assert reg.month_bounds(2026, 12) == ("2026-12-01", "2027-01-01")
    for bad in ("2026-13", "26-01", "2026/01"):
        with pytest.raises(ValidationError):
            reg.parse_period(bad)


@pytest.mark.requirement("REC-RETENTION-5Y")
def test_manifest_detects_altered_missing_and_extra_files() -> None:
    files = {"audit/audit.jsonl": b'{"seq":1}\n', "incidents.json": b"[]\n"}
    manifest = reg.build_manifest(files, created_at_ns=T0, retention={"years_min": 5})
    assert reg.verify_manifest(manifest, files) == []
    assert reg.verify_manifest(manifest, {**files, "incidents.json": b"[1]\n"}) == ["altered file incidents.json"]
    assert reg.verify_manifest(manifest, {"incidents.json": b"[]\n"}) == ["missing file audit/audit.jsonl"]
    assert reg.verify_manifest(manifest, {**files, "x": b""}) == ["file not in manifest x"]
    edited = {**manifest, "files": [{**manifest["files"][0], "sha256": "0" * 64}, manifest["files"][1]]}
    assert "altered file audit/audit.jsonl" in reg.verify_manifest(edited, files)
    assert reg.verify_manifest({"format": "other"}, files) != []
    with pytest.raises(ValidationError):
        reg.build_manifest({"../etc/passwd": b""}, created_at_ns=T0, retention={})
