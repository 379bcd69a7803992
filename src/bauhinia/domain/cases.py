"""Compliance cases: opened from monitoring alerts, assigned, noted, escalated, closed with a reason.

Pure and synchronous. Every transition returns the new case and the `CaseEvent` that records it (who, when,
what); the store keeps both in one transaction and mirrors the event into the audit log. A case can request a
freeze of wallets: the request goes to the chain's blacklist only after a second person (not the requester)
approves it, a rule enforced here whatever approval machinery is wired around it. A case can also produce a
suspicious transaction report (STR) as structured data (`str_report`), validated against
adapters/reports/str.schema.json and rendered to PDF by adapters/reports/str_pdf.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bauhinia.domain.errors import ConflictError, ForbiddenError, ValidationError
from bauhinia.domain.monitoring import Alert, MonitoredEvent, Severity

note_length_max: int = 10_000
actor_length_max: int = 128
addresses_per_freeze_max: int = 100
alerts_per_case_max: int = 1_000
STR_SCHEMA_ID = "https://bauhinia.example/schemas/str-1.json"
STR_VERSION = "bauhinia-str/1"

_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class CaseState(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    CLOSED = "closed"


class CaseAction(StrEnum):
    OPENED = "opened"
    ALERT_LINKED = "alert_linked"
    ASSIGNED = "assigned"
    NOTED = "noted"
    ESCALATED = "escalated"
    CLOSED = "closed"
    STR_EXPORTED = "str_exported"
    FREEZE_REQUESTED = "freeze_requested"
    FREEZE_APPROVED = "freeze_approved"
    FREEZE_REJECTED = "freeze_rejected"
    FREEZE_EXECUTED = "freeze_executed"


class CloseReason(StrEnum):
    FALSE_POSITIVE = "false_positive"
    ACTIVITY_EXPLAINED = "activity_explained"
    STR_FILED = "str_filed"
    RELATIONSHIP_EXITED = "relationship_exited"
    DUPLICATE = "duplicate"


def parse_close_reason(text: str) -> CloseReason:
    try:
        return CloseReason(text.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(r.value for r in CloseReason)
        raise ValidationError(f"unknown close reason {text!r}; known: {known}", code="bad_close_reason") from None


def _actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > actor_length_max:
        raise ValidationError(f"an actor (1..{actor_length_max} characters) is required")
    return actor


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise ValidationError(f"{what} must not be empty")
    if len(text) > note_length_max:
        raise ValidationError(f"{what} is longer than {note_length_max} characters")
    return text


@dataclass(frozen=True, slots=True)
class CaseEvent:
    case_id: str
    seq: int  # 1, 2, 3... per case
    at_ns: int
    actor: str
    action: CaseAction
    details: tuple[tuple[str, str], ...] = ()

    def details_dict(self) -> dict[str, str]:
        return dict(self.details)


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    subject: str  # customer id or wallet address the alerts are about
    state: CaseState
    severity: Severity
    alert_ids: tuple[str, ...]
    opened_by: str
    opened_at_ns: int
    updated_at_ns: int
    seq: int  # number of events so far
    assignee: str = ""
    escalated_to: str = ""
    close_reason: CloseReason | None = None
    customer_id: str = ""
    str_exported: bool = False

    def check_invariants(self) -> None:
        if (self.state is CaseState.CLOSED) != (self.close_reason is not None):
            raise ValidationError(f"case {self.case_id}: a close reason exactly when closed")
        if self.state is CaseState.ASSIGNED and not self.assignee:
            raise ValidationError(f"case {self.case_id}: assigned without an assignee")
        if self.seq < 1:
            raise ValidationError(f"case {self.case_id}: a case has at least its opening event")

    @property
    def is_open(self) -> bool:
        return self.state is not CaseState.CLOSED


def _event(case: Case, at_ns: int, actor: str, action: CaseAction, **details: object) -> CaseEvent:
    return CaseEvent(case.case_id, case.seq, at_ns, actor, action, tuple((k, str(v)) for k, v in details.items()))


def _step(case: Case, now_ns: int, **changes: Any) -> Case:
    if now_ns < case.updated_at_ns:
        raise ValidationError(f"case {case.case_id}: time went backwards ({now_ns} < {case.updated_at_ns})")
    new = replace(case, updated_at_ns=now_ns, seq=case.seq + 1, **changes)
    new.check_invariants()
    return new


def _require_open(case: Case, doing: str) -> None:
    if case.state is CaseState.CLOSED:
        raise ConflictError(f"case {case.case_id} is closed ({case.close_reason}); cannot {doing}",
                            code="case_closed")


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def open_case(
    case_id: str, alerts: Sequence[Alert], actor: str, now_ns: int, customer_id: str = ""
) -> tuple[Case, CaseEvent]:
    """A case for one subject from one or more of its alerts."""
    actor = _actor(actor)
    if not case_id:
        raise ValidationError("a case needs a case_id")
    if not alerts:
        raise ValidationError("a case is opened from at least one alert")
    if len(alerts) > alerts_per_case_max:
        raise ValidationError(f"more than {alerts_per_case_max} alerts in one case")
    subjects = {a.subject for a in alerts}
    if len(subjects) != 1:
        raise ValidationError(f"one case covers one subject; alerts name {sorted(subjects)}")
    severity = max((a.severity for a in alerts), key=lambda s: _SEVERITY_RANK[s])
    case = Case(
        case_id=case_id,
        subject=alerts[0].subject,
        state=CaseState.OPEN,
        severity=severity,
        alert_ids=tuple(dict.fromkeys(a.alert_id for a in alerts)),
        opened_by=actor,
        opened_at_ns=now_ns,
        updated_at_ns=now_ns,
        seq=1,
        customer_id=customer_id,
    )
    case.check_invariants()
    event = CaseEvent(case_id, 1, now_ns, actor, CaseAction.OPENED, (
        ("alerts", ",".join(case.alert_ids)), ("rules", ",".join(sorted({a.rule.value for a in alerts}))),
        ("severity", severity.value),
    ))
    return case, event


def link_alert(case: Case, alert: Alert, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    actor = _actor(actor)
    _require_open(case, "link an alert")
    if alert.subject != case.subject:
        raise ValidationError(f"alert {alert.alert_id} is about {alert.subject}, case {case.case_id} about "
                              f"{case.subject}")
    if alert.alert_id in case.alert_ids:
        raise ConflictError(f"alert {alert.alert_id} is already in case {case.case_id}")
    severity = max(case.severity, alert.severity, key=lambda s: _SEVERITY_RANK[s])
    new = _step(case, now_ns, alert_ids=(*case.alert_ids, alert.alert_id), severity=severity)
    return new, _event(new, now_ns, actor, CaseAction.ALERT_LINKED, alert=alert.alert_id, rule=alert.rule.value)


def assign(case: Case, assignee: str, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    actor, assignee = _actor(actor), _actor(assignee)
    _require_open(case, "assign it")
    if assignee == case.assignee:
        raise ConflictError(f"case {case.case_id} is already assigned to {assignee}")
    state = CaseState.ESCALATED if case.state is CaseState.ESCALATED else CaseState.ASSIGNED
    new = _step(case, now_ns, assignee=assignee, state=state)
    return new, _event(new, now_ns, actor, CaseAction.ASSIGNED, assignee=assignee, previous=case.assignee or "-")


def add_note(case: Case, text: str, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    actor = _actor(actor)
    _require_open(case, "add a note")
    text = _text(text, "a note")
    new = _step(case, now_ns)
    return new, _event(new, now_ns, actor, CaseAction.NOTED, note=text)


def escalate(case: Case, to: str, reason: str, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    """To the MLRO (money laundering reporting officer) or another senior reviewer."""
    actor, to = _actor(actor), _actor(to)
    _require_open(case, "escalate it")
    if case.state is CaseState.ESCALATED:
        raise ConflictError(f"case {case.case_id} is already escalated to {case.escalated_to}")
    reason = _text(reason, "an escalation reason")
    new = _step(case, now_ns, state=CaseState.ESCALATED, escalated_to=to, assignee=to)
    return new, _event(new, now_ns, actor, CaseAction.ESCALATED, to=to, reason=reason)


def close(case: Case, reason: CloseReason, note: str, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    """Close with a reason and a note saying why. "str_filed" needs the report exported first."""
    actor = _actor(actor)
    _require_open(case, "close it again")
    note = _text(note, "a closing note")
    if reason is CloseReason.STR_FILED and not case.str_exported:
        raise ConflictError(f"case {case.case_id}: export the suspicious transaction report before closing "
                            f"with reason {reason.value}", code="str_not_exported")
    new = _step(case, now_ns, state=CaseState.CLOSED, close_reason=reason)
    return new, _event(new, now_ns, actor, CaseAction.CLOSED, reason=reason.value, note=note)


def mark_str_exported(case: Case, report_id: str, sha256: str, actor: str, now_ns: int) -> tuple[Case, CaseEvent]:
    actor = _actor(actor)
    new = _step(case, now_ns, str_exported=True)
    return new, _event(new, now_ns, actor, CaseAction.STR_EXPORTED, report_id=report_id, sha256=sha256)


# ---------------------------------------------------------------------------------------------------------------
# Freeze requests: four eyes
# ---------------------------------------------------------------------------------------------------------------


class FreezeState(StrEnum):
    PENDING = "pending"  # waiting for a second person
    APPROVED = "approved"  # approved; the chain freeze may be sent
    REJECTED = "rejected"
    EXECUTED = "executed"  # the chain's blacklist holds the addresses


@dataclass(frozen=True, slots=True)
class FreezeRequest:
    request_id: str
    case_id: str
    addresses: tuple[str, ...]
    reason: str
    requested_by: str
    requested_at_ns: int
    state: FreezeState = FreezeState.PENDING
    decided_by: str = ""
    decided_at_ns: int = 0
    decision_note: str = ""
    chain_tx_hash: str = ""

    @property
    def idempotency_key(self) -> str:
        """The chain freeze's key: retrying an approved request never sends a second transaction."""
        return f"freeze-{self.request_id}"


def request_freeze(
    case: Case, request_id: str, addresses: Iterable[str], reason: str, actor: str, now_ns: int
) -> tuple[FreezeRequest, Case, CaseEvent]:
    actor = _actor(actor)
    _require_open(case, "request a freeze")
    reason = _text(reason, "a freeze reason")
    cleaned: list[str] = []
    for address in addresses:
        a = address.strip()
        if not _EVM_ADDRESS.fullmatch(a):
            raise ValidationError(f"{address!r} is not a 0x address with 40 hex digits")
        cleaned.append(a.lower())
    cleaned = list(dict.fromkeys(cleaned))
    if not cleaned or len(cleaned) > addresses_per_freeze_max:
        raise ValidationError(f"a freeze names 1..{addresses_per_freeze_max} addresses")
    request = FreezeRequest(request_id, case.case_id, tuple(cleaned), reason, actor, now_ns)
    new = _step(case, now_ns)
    return request, new, _event(
        new, now_ns, actor, CaseAction.FREEZE_REQUESTED, request=request_id, addresses=",".join(cleaned),
        reason=reason,
    )


def _decide(request: FreezeRequest, approver: str, doing: str) -> str:
    approver = _actor(approver)
    if request.state is not FreezeState.PENDING:
        raise ConflictError(f"freeze request {request.request_id} is {request.state.value}; cannot {doing}",
                            code="freeze_not_pending")
    if approver == request.requested_by:
        raise ForbiddenError(
            f"freeze request {request.request_id}: {approver} requested it; a second person must {doing} it",
            code="four_eyes",
        )
    return approver


def approve_freeze(
    request: FreezeRequest, case: Case, approver: str, note: str, now_ns: int
) -> tuple[FreezeRequest, Case, CaseEvent]:
    """A second person (not the requester) approves; only then may the freeze go to the chain."""
    approver = _decide(request, approver, "approve")
    _require_open(case, "approve a freeze")
    approved = replace(request, state=FreezeState.APPROVED, decided_by=approver, decided_at_ns=now_ns,
                       decision_note=note.strip())
    new = _step(case, now_ns)
    return approved, new, _event(new, now_ns, approver, CaseAction.FREEZE_APPROVED, request=request.request_id,
                                 requested_by=request.requested_by)


def reject_freeze(
    request: FreezeRequest, case: Case, approver: str, note: str, now_ns: int
) -> tuple[FreezeRequest, Case, CaseEvent]:
    approver = _decide(request, approver, "reject")
    note = _text(note, "a rejection note")
    rejected = replace(request, state=FreezeState.REJECTED, decided_by=approver, decided_at_ns=now_ns,
                       decision_note=note)
    new = _step(case, now_ns)
    return rejected, new, _event(new, now_ns, approver, CaseAction.FREEZE_REJECTED, request=request.request_id,
                                 note=note)


def check_freeze_executable(request: FreezeRequest) -> None:
    """Raise unless a second person approved the request (the last guard before the chain call)."""
    if request.state is not FreezeState.APPROVED or not request.decided_by:
        raise ForbiddenError(
            f"freeze request {request.request_id} is {request.state.value}: it goes to the chain only after a "
            "second person approves it", code="four_eyes",
        )
    if request.decided_by == request.requested_by:
        raise ForbiddenError(f"freeze request {request.request_id} was approved by its requester",
                             code="four_eyes")


def mark_freeze_executed(
    request: FreezeRequest, case: Case, tx_hash: str, actor: str, now_ns: int
) -> tuple[FreezeRequest, Case, CaseEvent]:
    check_freeze_executable(request)
    done = replace(request, state=FreezeState.EXECUTED, chain_tx_hash=tx_hash)
    new = _step(case, now_ns)
    return done, new, _event(new, now_ns, _actor(actor), CaseAction.FREEZE_EXECUTED, request=request.request_id,
                             tx_hash=tx_hash, addresses=",".join(request.addresses))


# ---------------------------------------------------------------------------------------------------------------
# Suspicious transaction report
# ---------------------------------------------------------------------------------------------------------------


def iso_utc(at_ns: int) -> str:
    return datetime.fromtimestamp(at_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def str_report(
    *,
    report_id: str,
    case: Case,
    alerts: Sequence[Alert],
    events: Sequence[MonitoredEvent],
    history: Sequence[CaseEvent],
    subject: Mapping[str, Any],
    institution: Mapping[str, str],
    reporter: str,
    now_ns: int,
    freezes: Sequence[FreezeRequest] = (),
) -> dict[str, Any]:
    """The structured STR (JSON-ready). `subject` describes the customer or wallet (no clear document numbers)."""
    reporter = _actor(reporter)
    notes = [e for e in history if e.action is CaseAction.NOTED]
    grounds = [
        {
            "alert_id": a.alert_id,
            "rule": a.rule.value,
            "severity": a.severity.value,
            "summary": a.summary,
            "facts": dict(a.facts),
            "event_ids": list(a.event_ids),
            "first_at": iso_utc(a.first_at_ns),
            "last_at": iso_utc(a.last_at_ns),
        }
        for a in alerts
    ]
    transactions = [
        {
            "event_id": e.event_id,
            "kind": e.kind.value,
            "at": iso_utc(e.at_ns),
            "amount_hkd_minor": e.amount_hkd_minor,
            "customer_id": e.customer_id,
            "from_address": e.from_address,
            "to_address": e.to_address,
            "counterparty": e.counterparty,
        }
        for e in sorted(events, key=lambda e: (e.at_ns, e.event_id))
    ]
    return {
        "$schema": STR_SCHEMA_ID,
        "format": STR_VERSION,
        "report_id": report_id,
        "created_at": iso_utc(now_ns),
        "reporting_institution": dict(institution),
        "reporter": reporter,
        "case": {
            "case_id": case.case_id,
            "state": case.state.value,
            "severity": case.severity.value,
            "opened_at": iso_utc(case.opened_at_ns),
            "opened_by": case.opened_by,
            "assignee": case.assignee,
            "escalated_to": case.escalated_to,
        },
        "subject": dict(subject),
        "grounds": grounds,
        "transactions": transactions,
        "total_hkd_minor": sum(e.amount_hkd_minor for e in events),
        "narrative": [{"at": iso_utc(n.at_ns), "by": n.actor, "note": n.details_dict().get("note", "")}
                      for n in notes],
        "actions_taken": [
            {"request_id": f.request_id, "action": "freeze", "addresses": list(f.addresses), "state": f.state.value,
             "requested_by": f.requested_by, "approved_by": f.decided_by, "chain_tx_hash": f.chain_tx_hash}
            for f in freezes
        ],
        "history": [
            {"seq": h.seq, "at": iso_utc(h.at_ns), "actor": h.actor, "action": h.action.value,
             "details": h.details_dict()}
            for h in history
        ],
    }
