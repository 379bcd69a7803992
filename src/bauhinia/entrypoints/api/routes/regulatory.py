"""Regulatory evidence: the requirements register, the daily statement, the monthly return and the incidents
register with its regulator-notification step."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field

from bauhinia.domain import regulatory as reg
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, TREASURY, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.schemas import ApiDate

router = APIRouter(prefix="/regulatory", route_class=IdempotentRoute, tags=["regulatory"])
READERS = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
WRITERS = (OPERATOR, TREASURY, COMPLIANCE, ADMIN)


def _ctx(container: Any, principal: Principal) -> Any:
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context

    return regulatory_context(container, principal.subject)


class RequirementPublic(BaseModel):
    id: str
    requirement: str
    source: str
    controls: list[str]
    configuration: str
    tests: list[str]
    note: str


@router.get("/register", response_model=list[RequirementPublic])
def register(_: Annotated[Principal, Depends(require(*READERS, scope="regulatory:read"))]) -> list[dict[str, Any]]:
    from bauhinia.adapters.reports.evidence import load_register

    return [{"id": r.id, "requirement": r.requirement, "source": r.source, "controls": list(r.controls),
             "configuration": r.configuration, "tests": list(r.tests), "note": r.note}
            for r in load_register().requirements]


@router.get("/daily-statement")
def daily_statement(
    container: ContainerDep, principal: Annotated[Principal, Depends(require(*READERS, scope="regulatory:read"))],
    as_of: Annotated[ApiDate | None, Query(description="Hong Kong date; default today")] = None,
) -> dict[str, Any]:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(container, principal)
    lines = svc.daily_statement(ctx, as_of)
    return svc.statement_dict(lines, generated_at_ns=ctx.clock.now_ns(), licence_number=ctx.licence_number)


@router.get("/returns/monthly/{period}")
def monthly_return(
    container: ContainerDep,
    principal: Annotated[Principal, Depends(require(TREASURY, COMPLIANCE, AUDITOR, ADMIN, scope="regulatory:read"))],
    period: Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{2}$")],
) -> dict[str, Any]:
    """The monthly return in its documented format, validated against its JSON Schema."""
    from bauhinia.adapters.reports.returns import validate_monthly_return
    from bauhinia.services import regulatory as svc

    doc = svc.monthly_return(_ctx(container, principal), *reg.parse_period(period))
    validate_monthly_return(doc)
    return doc


class TimelinePublic(BaseModel):
    at: str
    actor: str
    action: str
    text: str


class IncidentPublic(BaseModel):
    incident_id: str
    kind: str
    severity: str
    coin: str
    summary: str
    state: str
    opened_at: str
    notify_by: str
    notification: str
    notification_ref: str
    notified_at: str | None
    closed_at: str | None
    timeline: list[TimelinePublic]


class IncidentCreate(BaseModel):
    kind: reg.IncidentKind
    coin: str = Field(pattern=r"^(BCNH|BHKD|ALL)$")
    summary: str = Field(min_length=1, max_length=512)
    severity: reg.Severity | None = None


class NotificationCreate(BaseModel):
    reference: str = Field(min_length=1, max_length=120, description="the notification's reference number")


class ClosureCreate(BaseModel):
    resolution: str = Field(min_length=1, max_length=1_000)


@router.get("/incidents", response_model=Page[IncidentPublic])
def incidents(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require(*READERS, scope="regulatory:read"))],
    state: Annotated[reg.IncidentState | None, Query()] = None,
) -> dict[str, Any]:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(container, principal)
    svc.sync_reserve_incidents(ctx)
    now = ctx.clock.now_ns()
    rows = sorted(ctx.store.list_incidents(state.value if state else None), key=lambda i: i.incident_id)
    if isinstance(pg.after, str):
        rows = [i for i in rows if i.incident_id > pg.after]
    items = [IncidentPublic(**reg.incident_to_dict(i, now)) for i in rows[: pg.limit + 1]]
    return page(items, pg.limit, lambda i: i.incident_id)


@router.post("/incidents", status_code=status.HTTP_201_CREATED, response_model=IncidentPublic)
def open_incident(
    body: IncidentCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*WRITERS, scope="regulatory:write"))],
) -> dict[str, Any]:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(container, principal)
    inc = svc.open_incident(ctx, body.kind, body.coin, body.summary, severity=body.severity)
    return reg.incident_to_dict(inc, ctx.clock.now_ns())


@router.post("/incidents/{incident_id}/notify", response_model=IncidentPublic)
def notify(
    incident_id: Annotated[str, Path(max_length=64)], body: NotificationCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(COMPLIANCE, ADMIN, scope="regulatory:write"))],
) -> dict[str, Any]:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(container, principal)
    return reg.incident_to_dict(svc.notify_regulator(ctx, incident_id, body.reference), ctx.clock.now_ns())


@router.post("/incidents/{incident_id}/close", response_model=IncidentPublic)
def close(
    incident_id: Annotated[str, Path(max_length=64)], body: ClosureCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*WRITERS, scope="regulatory:write"))],
) -> dict[str, Any]:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(container, principal)
    return reg.incident_to_dict(svc.close_incident(ctx, incident_id, body.resolution), ctx.clock.now_ns())
