"""Compliance: customers' due diligence (CDD records, risk ratings, screening results, false-positive reviews),
re-screening, monitoring runs over submitted events, alerts, cases (assign, note, escalate, close, STR export)
and wallet freezes, which go through the approvals service (a second compliance officer or admin approves; only
then the freeze reaches every coin's blacklist).

Compliance officers act; auditors read; a customer sees only its own CDD status."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field

from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import monitoring as mon
from bauhinia.domain.errors import NotFoundError
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, CUSTOMER, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.entrypoints.api.schemas import Name, Text
from bauhinia.services import compliance as svc
from bauhinia.services import controls
from bauhinia.services import issuance_compliance as gate_svc

router = APIRouter(prefix="/compliance", route_class=IdempotentRoute, tags=["compliance"])

READERS = (COMPLIANCE, AUDITOR, ADMIN)
ACTORS = (COMPLIANCE, ADMIN)
Read = Annotated[Principal, Depends(require(*READERS, scope="compliance:read"))]
Write = Annotated[Principal, Depends(require(*ACTORS, scope="compliance:write"))]
CustomerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
RequestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
events_per_run_max = 10_000
approvals_scanned_max = 500


def _gate_ctx(container: Any) -> Any:
    """The issuance context with the compliance gate, whether or not issuance screening is switched on."""
    ctx = container.issuance
    if ctx.compliance is None:
        ctx = dataclasses.replace(ctx, compliance=container.compliance_gate, events=[])
    return ctx


# --- customers ------------------------------------------------------------------------------------------------


class CustomerCdd(BaseModel):
    customer_id: str
    display_name: str
    kind: str
    status: str  # accepted | held | refused
    status_reason: str
    risk_rating: str
    edd_flags: list[str]
    next_review_on: str
    identity_verified: bool
    retention_until: str | None
    list_version: str


def _cdd_public(stored: Any) -> CustomerCdd:
    c: cdd.Customer = stored.customer
    return CustomerCdd(customer_id=c.customer_id, display_name=c.display_name, kind=c.kind.value,
                       status=stored.status.value, status_reason=stored.status_reason,
                       risk_rating=stored.risk_rating.value, edd_flags=list(stored.edd_flags),
                       next_review_on=stored.next_review_on.isoformat(), identity_verified=c.identity_verified,
                       retention_until=stored.retention_until.isoformat() if stored.retention_until else None,
                       list_version=stored.list_version)


class OnboardingPublic(BaseModel):
    customer_id: str
    decision: str
    reason: str
    risk_rating: str
    risk_points: int
    risk_reasons: list[dict[str, Any]]
    edd_flags: list[str]
    next_review_on: str
    beneficial_owners: list[dict[str, Any]]
    issuance_status: str | None  # the issuance customer record (none when refused)


class OnboardingCreate(BaseModel):
    """The customer's onboarding file (domain.cdd.customer_from_mapping): parties, ownership, directors..."""

    customer: dict[str, Any] = Field(description="customer_id, parties [...], ownership, directors, volumes")


@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=OnboardingPublic)
def onboard(body: OnboardingCreate, container: ContainerDep, principal: Write) -> OnboardingPublic:
    """Due diligence and screening of every party: a sanctioned party is refused (its CDD record is kept), a
    possible match is held for an officer's review, a clean customer is cleared for issuance."""
    customer = cdd.customer_from_mapping(body.customer, container.settings.resolved_cdd_pepper())
    ctx = _gate_ctx(container)
    today = _today(container)
    result, record = gate_svc.onboard_with_due_diligence(ctx, customer, today=today, actor=principal.subject)
    a = result.assessment
    return OnboardingPublic(
        customer_id=result.customer_id, decision=result.decision.value, reason=result.reason,
        risk_rating=a.rating.value, risk_points=a.points,
        risk_reasons=[{"rule": r.rule, "points": r.points, "detail": r.detail} for r in a.reasons],
        edd_flags=[f.value for f in a.edd_flags], next_review_on=a.next_review_on.isoformat(),
        beneficial_owners=[{"party_id": o.party_id, "effective_share_bps": o.effective_share_bps,
                            "basis": o.basis} for o in result.owners],
        issuance_status=record.status.value if record is not None else None)


def _today(container: Any) -> date:
    return datetime.fromtimestamp(container.clock.now_ns() // 1_000_000_000, UTC).date()


@router.get("/customers", response_model=Page[CustomerCdd])
def list_customers(container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)], principal: Read,
                   status_: Annotated[str | None, Query(alias="status", pattern=r"^(accepted|held|refused)$")] = None
                   ) -> dict[str, Any]:
    wanted = cdd.OnboardingDecision(status_) if status_ else None
    after = str(pg.after or "")
    rows = [c for c in container.compliance.list_customers(wanted) if c.customer.customer_id > after]
    out = page(rows[: pg.limit + 1], pg.limit, key=lambda c: c.customer.customer_id)
    out["items"] = [_cdd_public(c) for c in out["items"]]
    return out


class CustomerCddDetail(CustomerCdd):
    assessment: dict[str, Any]
    beneficial_owners: list[dict[str, Any]]


@router.get("/customers/{customer_id}", response_model=CustomerCddDetail)
def get_customer(customer_id: CustomerId, container: ContainerDep, principal: Read) -> CustomerCddDetail:
    store = container.compliance
    stored = store.get_customer(customer_id)
    return CustomerCddDetail(**_cdd_public(stored).model_dump(), assessment=store.latest_assessment(customer_id),
                             beneficial_owners=store.beneficial_owners(customer_id))


class CddStatus(BaseModel):
    customer_id: str
    status: str
    next_review_on: str


@router.get("/customers/{customer_id}/status", response_model=CddStatus)
def cdd_status(customer_id: CustomerId, container: ContainerDep,
               principal: Annotated[Principal, Depends(require(CUSTOMER, *READERS, scope="compliance:read"))]
               ) -> CddStatus:
    """A customer may read its own due diligence status (nothing about screening hits or risk)."""
    if principal.is_customer_only and principal.customer_id != customer_id:
        raise NotFoundError(f"customer {customer_id} not found", code="customer_not_found")
    stored = container.compliance.get_customer(customer_id)
    return CddStatus(customer_id=customer_id, status=stored.status.value,
                     next_review_on=stored.next_review_on.isoformat())


class HitPublic(BaseModel):
    entity_id: str
    matched_name: str
    score: float
    explanation: list[str]


class ScreeningPublic(BaseModel):
    party_id: str
    context: str
    list_version: str
    decision: str
    hits: list[HitPublic]
    suppressed: list[HitPublic]
    screened_at_ns: int


def _hits(hits: Any) -> list[HitPublic]:
    return [HitPublic(entity_id=h.entity_id, matched_name=h.matched_name, score=h.score,
                      explanation=list(h.explanation)) for h in hits]


@router.get("/customers/{customer_id}/screenings", response_model=list[ScreeningPublic])
def screenings(customer_id: CustomerId, container: ContainerDep, principal: Read) -> list[ScreeningPublic]:
    container.compliance.get_customer(customer_id)  # 404 for an unknown customer
    return [ScreeningPublic(party_id=r.party_id, context=r.context, list_version=r.list_version,
                            decision=r.decision.value, hits=_hits(r.hits), suppressed=_hits(r.suppressed),
                            screened_at_ns=r.screened_at_ns)
            for r in container.compliance.screenings(customer_id)[-100:]]


class FalsePositiveCreate(BaseModel):
    entity_id: str = Field(min_length=1, max_length=128)
    reason: Text = Field(min_length=3, max_length=2_000)


@router.post("/customers/{customer_id}/false-positives", response_model=CustomerCdd)
def review_false_positive(customer_id: CustomerId, body: FalsePositiveCreate, container: ContainerDep,
                          principal: Write) -> CustomerCdd:
    """An officer found the listed entity is not this customer: remembered for this customer and this version
    of the listed record; the customer's status (and its issuance record) is decided again."""
    gate_svc.review_false_positive(_gate_ctx(container), customer_id, body.entity_id, reviewer=principal.subject,
                                   reason=body.reason)
    return _cdd_public(container.compliance.get_customer(customer_id))


class RescreenCreate(BaseModel):
    reason: Text = Field(min_length=3, max_length=300, description="why (e.g. 'OFAC update 2026-11-26')")
    force: bool = False


class RescreenPublic(BaseModel):
    list_version: str
    skipped: bool
    screened: int
    changes: list[dict[str, str]]
    cases: list[str]
    freezes: list[dict[str, str]]


@router.post("/rescreens", response_model=RescreenPublic)
def rescreen(body: RescreenCreate, container: ContainerDep, principal: Write) -> RescreenPublic:
    """Screen every customer again (when the lists changed, or always with `force`). A customer now listed is
    refused and suspended, gets a case, and its wallets a freeze request awaiting a second approver."""
    out = gate_svc.rescreen_and_enforce(_gate_ctx(container), actor=principal.subject, force=body.force)
    r = out.rescreen
    return RescreenPublic(
        list_version=r.list_version, skipped=r.skipped, screened=r.screened,
        changes=[{"customer_id": c.customer_id, "before": c.before.value, "after": c.after.value,
                  "reason": c.reason} for c in r.changes],
        cases=list(out.cases), freezes=[{"freeze_request": f, "approval": a} for f, a in out.freezes])


# --- monitoring and alerts ----------------------------------------------------------------------------------


class MonitoringCreate(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=events_per_run_max,
                                         description="event_id, kind, at_ns, amount_hkd_minor, customer_id, "
                                                     "from_address, to_address, counterparty")
    open_cases: bool = True


class AlertPublic(BaseModel):
    alert_id: str
    rule: str
    subject: str
    severity: str
    summary: str
    event_ids: list[str]
    facts: dict[str, str]
    total_hkd_minor: int
    case_id: str | None = None


def _alert_public(a: mon.Alert, case_id: str | None = None) -> AlertPublic:
    return AlertPublic(alert_id=a.alert_id, rule=a.rule.value, subject=a.subject, severity=a.severity.value,
                       summary=a.summary, event_ids=list(a.event_ids), facts=dict(a.facts),
                       total_hkd_minor=a.total_hkd_minor, case_id=case_id)


class MonitoringPublic(BaseModel):
    events_new: int
    alerts: list[AlertPublic]
    cases_opened: list[str]
    cases_updated: list[str]


@router.post("/monitoring-runs", response_model=MonitoringPublic)
def run_monitoring(body: MonitoringCreate, container: ContainerDep, principal: Write) -> MonitoringPublic:
    """Evaluate the monitoring rules over the submitted events (with what is known of earlier activity)."""
    events = [mon.event_from_mapping(e) for e in body.events]
    gate = container.compliance_gate
    run = svc.run_monitoring(gate.store, gate.screener, events, now_ns=container.clock.now_ns(),
                             actor=principal.subject, open_cases=body.open_cases)
    return MonitoringPublic(events_new=run.events_new, alerts=[_alert_public(a) for a in run.alerts],
                            cases_opened=list(run.cases_opened), cases_updated=list(run.cases_updated))


@router.get("/alerts", response_model=list[AlertPublic])
def alerts(container: ContainerDep, principal: Read,
           without_case: Annotated[bool, Query(description="only alerts not in a case")] = False,
           limit: Annotated[int, Query(ge=1, le=1_000)] = 200) -> list[AlertPublic]:
    return [_alert_public(a, case) for a, case in container.compliance.list_alerts(without_case)[-limit:]]


# --- cases ----------------------------------------------------------------------------------------------------


class CasePublic(BaseModel):
    case_id: str
    subject: str
    customer_id: str
    state: str
    severity: str
    alert_ids: list[str]
    assignee: str
    escalated_to: str
    close_reason: str | None
    str_exported: bool
    opened_by: str
    opened_at_ns: int
    updated_at_ns: int


def _case_public(c: cs.Case) -> CasePublic:
    return CasePublic(case_id=c.case_id, subject=c.subject, customer_id=c.customer_id, state=c.state.value,
                      severity=c.severity.value, alert_ids=list(c.alert_ids), assignee=c.assignee,
                      escalated_to=c.escalated_to, close_reason=c.close_reason.value if c.close_reason else None,
                      str_exported=c.str_exported, opened_by=c.opened_by, opened_at_ns=c.opened_at_ns,
                      updated_at_ns=c.updated_at_ns)


@router.get("/cases", response_model=list[CasePublic])
def list_cases(container: ContainerDep, principal: Read,
               state: Annotated[str | None, Query(pattern=r"^(open|assigned|escalated|closed)$")] = None
               ) -> list[CasePublic]:
    wanted = cs.CaseState(state) if state else None
    return [_case_public(c) for c in container.compliance.list_cases(wanted)]


class CaseDetail(CasePublic):
    history: list[dict[str, Any]]
    freezes: list[dict[str, Any]]


def _freeze_public(f: cs.FreezeRequest) -> dict[str, Any]:
    return {"request_id": f.request_id, "case_id": f.case_id, "addresses": list(f.addresses), "reason": f.reason,
            "state": f.state.value, "requested_by": f.requested_by, "decided_by": f.decided_by,
            "chain_tx_hash": f.chain_tx_hash}


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(case_id: CaseId, container: ContainerDep, principal: Read) -> CaseDetail:
    store = container.compliance
    case = store.get_case(case_id)
    history = [{"seq": e.seq, "at_ns": e.at_ns, "actor": e.actor, "action": e.action.value,
                "details": e.details_dict()} for e in store.case_events(case_id)]
    return CaseDetail(**_case_public(case).model_dump(), history=history,
                      freezes=[_freeze_public(f) for f in store.list_freezes(case_id)])


class AssignCreate(BaseModel):
    assignee: Name = Field(min_length=1, max_length=128)


class NoteCreate(BaseModel):
    text: Text = Field(min_length=1, max_length=10_000)


class EscalateCreate(BaseModel):
    to: Name = Field(min_length=1, max_length=128)
    reason: Text = Field(min_length=1, max_length=10_000)


class CloseCreate(BaseModel):
    reason: str = Field(pattern=r"^(false_positive|activity_explained|str_filed|relationship_exited|duplicate)$")
    note: Text = Field(min_length=1, max_length=10_000)


def _now(container: Any) -> int:
    return int(container.clock.now_ns())


@router.post("/cases/{case_id}/assign", response_model=CasePublic)
def assign_case(case_id: CaseId, body: AssignCreate, container: ContainerDep, principal: Write) -> CasePublic:
    return _case_public(svc.assign_case(container.compliance, case_id, body.assignee, actor=principal.subject,
                                        now_ns=_now(container)))


@router.post("/cases/{case_id}/notes", response_model=CasePublic)
def note_case(case_id: CaseId, body: NoteCreate, container: ContainerDep, principal: Write) -> CasePublic:
    return _case_public(svc.note_case(container.compliance, case_id, body.text, actor=principal.subject,
                                      now_ns=_now(container)))


@router.post("/cases/{case_id}/escalate", response_model=CasePublic)
def escalate_case(case_id: CaseId, body: EscalateCreate, container: ContainerDep, principal: Write) -> CasePublic:
    return _case_public(svc.escalate_case(container.compliance, case_id, body.to, body.reason,
                                          actor=principal.subject, now_ns=_now(container)))


@router.post("/cases/{case_id}/close", response_model=CasePublic)
def close_case(case_id: CaseId, body: CloseCreate, container: ContainerDep, principal: Write) -> CasePublic:
    return _case_public(svc.close_case(container.compliance, case_id, cs.parse_close_reason(body.reason),
                                       body.note, actor=principal.subject, now_ns=_now(container)))


class StrCreate(BaseModel):
    institution_name: Text = Field(default="", max_length=200)


class StrPublic(BaseModel):
    report_id: str
    sha256: str
    report: dict[str, Any]


@router.post("/cases/{case_id}/strs", status_code=status.HTTP_201_CREATED, response_model=StrPublic)
def export_str(case_id: CaseId, body: StrCreate, container: ContainerDep, principal: Write) -> StrPublic:
    """The case's suspicious transaction report: validated JSON and PDF written under <data_dir>/strs, recorded
    on the case (which may then close with reason str_filed)."""
    from bauhinia.adapters.reports.str_pdf import write_str

    out_dir = container.settings.data_dir / "strs"

    def write(report: dict[str, Any]) -> str:
        return write_str(report, out_dir)[2]

    name = body.institution_name or container.settings.issuer_name
    report, sha256 = svc.export_str(container.compliance, case_id, reporter=principal.subject,
                                    institution={"name": name}, now_ns=_now(container), write=write)
    return StrPublic(report_id=report["report_id"], sha256=sha256, report=report)


# --- freezes (maker-checker through the approvals service) -----------------------------------------------------


class FreezeCreate(BaseModel):
    addresses: list[str] = Field(min_length=1, max_length=100)
    reason: Text = Field(min_length=3, max_length=2_000)


@router.post("/cases/{case_id}/freezes", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def request_freeze(case_id: CaseId, body: FreezeCreate, container: ContainerDep, principal: Write
                   ) -> ApprovalPublic:
    """Request a freeze of wallets: recorded on the case and submitted for approval ("freeze" policy). A second
    compliance officer or admin approves (here or at /approvals); only then every coin freezes them."""
    _request, submission = controls.request_freeze(container.compliance_gate, case_id, body.addresses,
                                                   body.reason, principal.actor, _now(container))
    return approval_public(submission.request)


@router.get("/freezes", response_model=list[dict[str, Any]])
def list_freezes(container: ContainerDep, principal: Read) -> list[dict[str, Any]]:
    return [_freeze_public(f) for f in container.compliance.list_freezes()]


class FreezeApprove(BaseModel):
    comment: Text = Field(default="", max_length=500)


@router.post("/freezes/{request_id}/approve", response_model=ApprovalPublic)
def approve_freeze(request_id: RequestId, body: FreezeApprove, container: ContainerDep, principal: Write
                   ) -> ApprovalPublic:
    """The second person approves the freeze's approval request; the freeze then goes to every coin."""
    container.compliance.get_freeze(request_id)  # 404 for an unknown request
    approval_id = controls.open_approval_for(container.approvals, "freeze", "freeze_request", request_id)
    done = controls.approve(container.approvals, approval_id, principal.actor, body.comment)
    return approval_public(done)
