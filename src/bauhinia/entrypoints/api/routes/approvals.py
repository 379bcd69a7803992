"""Maker-checker approvals: list, get, approve, reject. Approving runs the operation (once) when enough
distinct checkers agreed; the maker can never approve its own request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from bauhinia.domain import approvals as apv
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, TREASURY, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.schemas import Text
from bauhinia.services import controls

router = APIRouter(prefix="/approvals", route_class=IdempotentRoute, tags=["approvals"])

READERS = (OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN)
CHECKERS = (OPERATOR, TREASURY, COMPLIANCE, ADMIN)  # each policy narrows this further
ApprovalId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_:-]{1,64}$")]


class DecisionPublic(BaseModel):
    actor: str
    approve: bool
    at_ns: int
    comment: str


class ApprovalPublic(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    maker: str
    status: str
    created_at_ns: int
    expires_at_ns: int
    approvals_required: int
    decisions: list[DecisionPublic]
    executed_at_ns: int | None
    result: dict[str, Any] | None
    last_error: str | None
    reason: str


def approval_public(r: apv.ApprovalRequest | None) -> ApprovalPublic:
    if r is None:  # pragma: no cover - a route submitted an operation no policy covers
        raise RuntimeError("operation ran without approval")
    return ApprovalPublic(
        id=r.id, kind=r.kind, params=dict(r.params), maker=r.maker, status=r.status.value,
        created_at_ns=r.created_at_ns, expires_at_ns=r.expires_at_ns, approvals_required=r.approvals_required,
        decisions=[DecisionPublic(actor=d.actor, approve=d.approve, at_ns=d.at_ns, comment=d.comment)
                   for d in r.decisions],
        executed_at_ns=r.executed_at_ns, result=None if r.result is None else dict(r.result),
        last_error=r.last_error, reason=r.reason,
    )


@router.get("", response_model=Page[ApprovalPublic])
def list_approvals(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(*READERS, scope="approvals:read"))],
    status: Annotated[apv.ApprovalStatus | None, Query()] = None,
) -> dict:
    after = pg.after if isinstance(pg.after, str) else None
    rows = container.approvals.list(status=status.value if status else None, after_id=after, limit=pg.limit + 1)
    return page([approval_public(r) for r in rows], pg.limit, lambda r: r.id)


@router.get("/{approval_id}", response_model=ApprovalPublic)
def get_approval(
    approval_id: ApprovalId, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*READERS, scope="approvals:read"))],
) -> ApprovalPublic:
    return approval_public(container.approvals.get(approval_id))


class DecisionCreate(BaseModel):
    comment: Text = Field(default="", max_length=500)


class RejectionCreate(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{approval_id}/approve", response_model=ApprovalPublic)
def approve(
    approval_id: ApprovalId, body: DecisionCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*CHECKERS, scope="approvals:decide"))],
) -> ApprovalPublic:
    return approval_public(controls.approve(container.approvals, approval_id, principal.actor, body.comment))


@router.post("/{approval_id}/reject", response_model=ApprovalPublic)
def reject(
    approval_id: ApprovalId, body: RejectionCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*CHECKERS, scope="approvals:decide"))],
) -> ApprovalPublic:
    return approval_public(controls.reject(container.approvals, approval_id, principal.actor, body.reason))


@router.post("/{approval_id}/execute", response_model=ApprovalPublic)
def execute(
    approval_id: ApprovalId, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*CHECKERS, scope="approvals:decide"))],
) -> ApprovalPublic:
    """Run an approved request whose execution failed (e.g. a rule refused it then); it still runs only once."""
    return approval_public(controls.execute(container.approvals, approval_id, principal.actor))


@router.post("/{approval_id}/resubmit", response_model=ApprovalPublic, status_code=201)
def resubmit(
    approval_id: ApprovalId, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(*CHECKERS, scope="approvals:decide"))],
) -> ApprovalPublic:
    """Open again an operation whose request expired undecided; the caller is the new request's maker (409 when
    the request did not expire or the same operation is already open)."""
    return approval_public(controls.resubmit(container.approvals, approval_id, principal.actor))
