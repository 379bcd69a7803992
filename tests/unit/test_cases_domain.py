"""Case state machine (every transition recorded), four-eyes freeze, STR structure against its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bauhinia.domain import cases as c
from bauhinia.domain import monitoring as m
from bauhinia.domain.errors import ConflictError, ForbiddenError, ValidationError

T0 = 1_800_000_000 * 10**9
WALLET = "0x" + "ab" * 20
SCHEMA = Path(__file__).parents[2] / "src/bauhinia/adapters/reports/str.schema.json"


def alerts() -> tuple[m.Alert, ...]:
    events = [m.MonitoredEvent(f"e{i}", m.EventKind.FIAT_IN, T0 + i * m.NS_PER_HOUR, 790_000, customer_id="C1")
              for i in range(3)]
    return m.evaluate(events).alerts


def opened() -> tuple[c.Case, c.CaseEvent]:
    return c.open_case("K1", alerts(), "system", T0, customer_id="C1")


def test_lifecycle_records_every_transition() -> None:
    case, e1 = opened()
    assert case.state is c.CaseState.OPEN and case.severity is m.Severity.HIGH and e1.seq == 1
    case, e2 = c.assign(case, "olivia", "lead", T0 + 1)
    assert case.state is c.CaseState.ASSIGNED and case.assignee == "olivia"
    case, e3 = c.add_note(case, "customer says salary split", "olivia", T0 + 2)
    case, e4 = c.escalate(case, "mlro", "pattern persists", "olivia", T0 + 3)
    assert case.state is c.CaseState.ESCALATED and case.assignee == "mlro"
    case, e5 = c.close(case, c.CloseReason.ACTIVITY_EXPLAINED, "payslips seen", "mlro", T0 + 4)
    assert case.state is c.CaseState.CLOSED and case.close_reason is c.CloseReason.ACTIVITY_EXPLAINED
    assert [e.seq for e in (e1, e2, e3, e4, e5)] == [1, 2, 3, 4, 5]
    assert [e.action for e in (e2, e3, e4, e5)] == [c.CaseAction.ASSIGNED, c.CaseAction.NOTED,
                                                     c.CaseAction.ESCALATED, c.CaseAction.CLOSED]
    assert e5.details_dict()["note"] == "payslips seen"


def test_closed_case_refuses_changes() -> None:
    case, _ = opened()
    case, _ = c.close(case, c.CloseReason.FALSE_POSITIVE, "test data", "olivia", T0 + 1)
    for action in (
        lambda: c.add_note(case, "x", "olivia", T0 + 2),
        lambda: c.assign(case, "bob", "olivia", T0 + 2),
        lambda: c.escalate(case, "mlro", "x", "olivia", T0 + 2),
        lambda: c.close(case, c.CloseReason.FALSE_POSITIVE, "again", "olivia", T0 + 2),
    ):
        with pytest.raises(ConflictError, match="closed"):
            action()


def test_transition_guards() -> None:
    case, _ = opened()
    with pytest.raises(ValidationError):
        c.close(case, c.CloseReason.FALSE_POSITIVE, "   ", "olivia", T0 + 1)  # a reason needs a note
    with pytest.raises(ConflictError, match="export the suspicious"):
        c.close(case, c.CloseReason.STR_FILED, "filed", "olivia", T0 + 1)
    case2, _ = c.escalate(case, "mlro", "why", "olivia", T0 + 1)
    with pytest.raises(ConflictError, match="already escalated"):
        c.escalate(case2, "mlro", "why", "olivia", T0 + 2)
    with pytest.raises(ValidationError, match="time went backwards"):
        c.add_note(case2, "x", "olivia", T0)
    with pytest.raises(ValidationError, match="actor"):
        c.add_note(case, "x", " ", T0 + 1)
    with pytest.raises(ValidationError, match="one subject"):
        other = m.evaluate([m.MonitoredEvent(f"x{i}", m.EventKind.FIAT_IN, T0 + i, 790_000, customer_id="C2")
                            for i in range(3)]).alerts
        c.open_case("K2", (*alerts(), *other), "system", T0)
    case3, _ = c.mark_str_exported(case, "STR-1", "ab" * 32, "olivia", T0 + 1)
    closed, _ = c.close(case3, c.CloseReason.STR_FILED, "filed with JFIU", "olivia", T0 + 2)
    assert closed.close_reason is c.CloseReason.STR_FILED


@pytest.mark.requirement("OPS-SECOND-APPROVER")
def test_freeze_needs_a_second_person() -> None:
    case, _ = opened()
    req, case, ev = c.request_freeze(case, "F1", [WALLET.upper().replace("0X", "0x")], "listed exposure",
                                     "olivia", T0 + 1)
    assert req.state is c.FreezeState.PENDING and req.addresses == (WALLET,)
    assert ev.action is c.CaseAction.FREEZE_REQUESTED
    with pytest.raises(ForbiddenError, match="second person") as err:
        c.approve_freeze(req, case, "olivia", "", T0 + 2)
    assert err.value.code == "four_eyes"
    with pytest.raises(ForbiddenError):
        c.check_freeze_executable(req)  # pending: cannot go to the chain
    approved, case, ev2 = c.approve_freeze(req, case, "mlro", "agreed", T0 + 3)
    assert approved.state is c.FreezeState.APPROVED and ev2.actor == "mlro"
    c.check_freeze_executable(approved)
    with pytest.raises(ConflictError, match="is approved"):
        c.approve_freeze(approved, case, "someone", "", T0 + 4)
    done, case, ev3 = c.mark_freeze_executed(approved, case, "0xdead", "system", T0 + 5)
    assert done.state is c.FreezeState.EXECUTED and done.idempotency_key == "freeze-F1"
    assert ev3.details_dict()["tx_hash"] == "0xdead"


def test_freeze_rejected_and_bad_addresses() -> None:
    case, _ = opened()
    with pytest.raises(ValidationError, match="0x address"):
        c.request_freeze(case, "F1", ["0x1234"], "r", "olivia", T0 + 1)
    req, case, _ = c.request_freeze(case, "F1", [WALLET], "r", "olivia", T0 + 1)
    rejected, case, _ = c.reject_freeze(req, case, "mlro", "insufficient grounds", T0 + 2)
    with pytest.raises(ForbiddenError):
        c.check_freeze_executable(rejected)
    forged = c.FreezeRequest("F2", "K1", (WALLET,), "r", "olivia", T0, c.FreezeState.APPROVED, "olivia", T0)
    with pytest.raises(ForbiddenError, match="requester"):
        c.check_freeze_executable(forged)


def test_str_report_matches_schema() -> None:
    case, e1 = opened()
    case, e2 = c.add_note(case, "three deposits of HK$7,900 in three hours", "olivia", T0 + 1)
    req, case, e3 = c.request_freeze(case, "F1", [WALLET], "r", "olivia", T0 + 2)
    events = [m.MonitoredEvent(f"e{i}", m.EventKind.FIAT_IN, T0 + i * m.NS_PER_HOUR, 790_000, customer_id="C1")
              for i in range(3)]
    report = c.str_report(
        report_id="STR-K1-1", case=case, alerts=alerts(), events=events, history=[e1, e2, e3],
        subject={"kind": "customer", "customer_id": "C1", "names": ["陳大文", "CHAN Tai Man"]},
        institution={"name": "Bauhinia Issuer Ltd", "licence": "SC-0001"}, reporter="olivia", now_ns=T0 + 3,
        freezes=[req],
    )
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(report, schema)
    assert report["total_hkd_minor"] == 2_370_000
    assert report["narrative"][0]["note"].startswith("three deposits")
    broken = dict(report)
    del broken["grounds"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
