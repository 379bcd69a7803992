"""The approval policies in force, and changes to them: a change is itself a maker-checker operation
(`policy_change`, two other admins by default), refused at once when it would let one person through."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, Field

from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, TREASURY, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.entrypoints.api.schemas import Text
from bauhinia.services import controls

router = APIRouter(prefix="/approval-policies", route_class=IdempotentRoute, tags=["approvals"])

PolicyKind = Annotated[str, Path(pattern=r"^[a-z_]{1,64}$")]
Role = Annotated[str, Field(pattern=r"^(operator|treasury|compliance|admin)$")]


class PolicyPublic(BaseModel):
    kind: str
    approver_roles: list[str]
    approvals_required: int
    ttl_s: int
    threshold_param: str | None
    threshold: int | None
    description: str


class PolicyChange(BaseModel):
    reason: Text = Field(min_length=3, max_length=500)
    approver_roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    approvals_required: int | None = Field(default=None, ge=1, le=5)
    ttl_s: int | None = Field(default=None, ge=3600, le=30 * 24 * 3600)
    threshold: int | None = Field(default=None, ge=0, le=10**15, description="minor units")


@router.get("", response_model=list[PolicyPublic])
def list_policies(container: ContainerDep,
                  principal: Annotated[Principal, Depends(require(OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN,
                                                                  scope="approvals:read"))]) -> list[PolicyPublic]:
    """Every approval policy in force: the defaults with the approved policy changes."""
    return [PolicyPublic(**controls.policy_view(p)) for _, p in sorted(container.approvals.policies.items())]


@router.post("/{kind}", response_model=ApprovalPublic, status_code=status.HTTP_202_ACCEPTED)
def change_policy(kind: PolicyKind, body: PolicyChange, container: ContainerDep,
                  principal: Annotated[Principal, Depends(require(ADMIN, scope="approvals:decide"))]
                  ) -> ApprovalPublic:
    """Ask to change a policy (202, a `policy_change` approval); 422 for a change that would let one person
    through (no approver, a customer or auditor approving, a request open under an hour, the policy of policy
    changes itself)."""
    changes: dict[str, Any] = body.model_dump(exclude_none=True, exclude={"reason"})
    sub = controls.request_policy_change(container.approvals, principal.actor, kind, changes, body.reason)
    return approval_public(sub.request)
