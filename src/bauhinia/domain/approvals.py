"""Maker-checker approvals: policies and the approval request state machine.

A service submits an operation (a `kind` and its JSON parameters). When a policy covers it (for a mint, only
above a threshold), the operation becomes an approval request that other people must approve before it runs:

    requested -> approved -> executed
              -> rejected
              -> expired      (nobody decided before `expires_at_ns`)

The maker can never approve (or count towards) its own request; each checker counts once; a checker needs one of
the policy's approver roles. Once approved, the operation's executor runs exactly once (the service claims the
request before running it). Pure: the caller passes ids and the time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bauhinia.domain.errors import ConflictError, ForbiddenError, InvariantViolation, ValidationError

NS_PER_S = 1_000_000_000
KIND_LENGTH_MAX = 64
PARAMS_BYTES_MAX = 16 * 1024
COMMENT_LENGTH_MAX = 500
TTL_S_MAX = 30 * 24 * 3600
APPROVALS_REQUIRED_MAX = 5


class ApprovalStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTED = "executed"


TERMINAL = frozenset({ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED, ApprovalStatus.EXECUTED})


@dataclass(frozen=True, slots=True)
class Policy:
    """Which operations of `kind` need approval, by whom, and for how long a request stays open.

    With `threshold_param`, only operations whose integer parameter exceeds `threshold` need approval
    (e.g. a mint's `amount_minor` above 100,000,000 = HK$1,000,000)."""

    kind: str
    approver_roles: frozenset[str]
    approvals_required: int = 1
    ttl_s: int = 24 * 3600
    threshold_param: str | None = None
    threshold: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.kind or len(self.kind) > KIND_LENGTH_MAX:
            raise ValidationError(f"policy kind must be 1..{KIND_LENGTH_MAX} characters")
        if not 1 <= self.approvals_required <= APPROVALS_REQUIRED_MAX:
            raise ValidationError(f"approvals_required must be 1..{APPROVALS_REQUIRED_MAX}")
        if not 1 <= self.ttl_s <= TTL_S_MAX:
            raise ValidationError(f"ttl_s must be 1..{TTL_S_MAX}")
        if not self.approver_roles:
            raise ValidationError("a policy needs at least one approver role")
        if (self.threshold_param is None) != (self.threshold is None):
            raise ValidationError("threshold_param and threshold go together")

    def applies(self, params: Mapping[str, Any]) -> bool:
        """True when this operation needs approval."""
        if self.threshold_param is None or self.threshold is None:
            return True
        value = params.get(self.threshold_param)
        if isinstance(value, bool) or not isinstance(value, int):
            # A missing or non-integer amount cannot prove it is small: approval needed.
            return True
        return value > self.threshold


# Mint above HK$1,000,000 (100,000,000 minor units); freezes, role grants, breaker resets and contract upgrades
# always need a second person.
DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("mint", frozenset({"treasury", "admin"}), threshold_param="amount_minor", threshold=100_000_000,
           description="a mint above HK$1,000,000"),
    Policy("freeze", frozenset({"compliance", "admin"}), description="freeze an address or account"),
    Policy("role_grant", frozenset({"admin"}), description="grant a role to a client"),
    Policy("breaker_reset", frozenset({"treasury", "admin"}), description="reset a minting circuit breaker"),
    Policy("contract_upgrade", frozenset({"admin"}), approvals_required=2, description="upgrade a contract"),
    # The adjustments service decides which adjustments need a second person (domain/adjustments.py).
    Policy("bank_file_release", frozenset({"treasury", "admin"}),
           description="book a bank file a person uploaded (the bank's host-to-host channel needs none)"),
    Policy("ledger_adjustment", frozenset({"treasury", "admin"}),
           description="a manual ledger adjustment touching the issuer's books or a customer, or above the threshold"),
    Policy("cdd_high_risk_acceptance", frozenset({"compliance", "admin"}),
           description="accept a high-risk or PEP customer (senior sign-off)"),
    Policy("screening_dismissal", frozenset({"compliance", "admin"}),
           description="dismiss a strong screening hit as a false positive (a second compliance officer)"),
    Policy("bank_account_override", frozenset({"compliance", "admin"}),
           description="accept a bank account whose holder name is not the customer's legal name"),
    Policy("payer_hold_release", frozenset({"compliance", "admin"}),
           description="mint a deposit the payer check held, after its case review (a second compliance officer)"),
    Policy("suspense_assignment", frozenset({"treasury", "compliance", "admin"}),
           description="credit a bank receipt held in suspense to a customer (it is then minted to them)"),
    Policy("refund", frozenset({"treasury", "compliance", "admin"}),
           description="send a suspense credit or a held subscription back to the account that paid it"),
    Policy("payout_retry", frozenset({"treasury", "admin"}),
           description="pay a redemption again whose payout the payee's bank returned, to a verified account"),
    Policy("policy_change", frozenset({"admin"}), approvals_required=2,
           description="change an approval policy: who approves, how many, above what amount, for how long"),
)

POLICY_CHANGE = "policy_change"
APPROVER_ROLES_ALLOWED = frozenset({"operator", "treasury", "compliance", "admin"})
POLICY_TTL_S_MIN = 3600  # a request open for less than an hour is one nobody can reach in time
CHANGEABLE = ("approver_roles", "approvals_required", "ttl_s", "threshold")


def changed_policy(base: Policy, changes: Mapping[str, Any]) -> Policy:
    """`base` with `changes` applied (approver_roles, approvals_required, ttl_s, threshold), refusing any change
    that would let one person through: no policy loses its approval (at least one approver, never the maker),
    approvers are staff who decide (never a customer or an auditor), a request stays open at least an hour, a
    threshold is set only on a policy that has one, and the policy of policy changes itself is not changed here.
    ValidationError (one line) naming what is refused."""
    if base.kind == POLICY_CHANGE:
        raise ValidationError("the policy of policy changes is not changed through itself", code="policy_locked")
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ValidationError(f"unknown policy field(s) {', '.join(unknown)}; changeable: {', '.join(CHANGEABLE)}",
                              code="bad_policy_change")
    if not changes:
        raise ValidationError("a policy change changes something", code="bad_policy_change")
    fields: dict[str, Any] = {}
    if "approver_roles" in changes:
        roles = frozenset(str(r) for r in changes["approver_roles"])
        if not roles or not roles <= APPROVER_ROLES_ALLOWED:
            raise ValidationError(f"approver roles are one or more of {', '.join(sorted(APPROVER_ROLES_ALLOWED))}",
                                  code="bad_policy_change")
        fields["approver_roles"] = roles
    for name, low, high in (("approvals_required", 1, APPROVALS_REQUIRED_MAX), ("ttl_s", POLICY_TTL_S_MIN, TTL_S_MAX)):
        if name in changes:
            value = changes[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"{name} must be an integer {low}..{high}", code="bad_policy_change")
            fields[name] = value
    if "threshold" in changes:
        value = changes["threshold"]
        if base.threshold_param is None:
            raise ValidationError(f"{base.kind} always needs approval: it has no threshold to change",
                                  code="bad_policy_change")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**15:
            raise ValidationError("threshold must be an integer 0..10^15 (minor units)", code="bad_policy_change")
        fields["threshold"] = value
    return replace(base, **fields)


@dataclass(frozen=True, slots=True)
class Decision:
    actor: str
    approve: bool
    at_ns: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: str
    kind: str
    params: Mapping[str, Any]
    maker: str
    status: ApprovalStatus
    created_at_ns: int
    expires_at_ns: int
    approvals_required: int
    decisions: tuple[Decision, ...] = ()
    execution_started_at_ns: int | None = None
    executed_at_ns: int | None = None
    result: Mapping[str, Any] | None = None
    last_error: str | None = None
    reason: str = field(default="")

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(d.actor for d in self.decisions if d.approve)

    def check_invariants(self) -> None:
        if self.maker in self.approvers:
            raise InvariantViolation(f"approval {self.id}: the maker approved its own request")
        if len(set(self.approvers)) != len(self.approvers):
            raise InvariantViolation(f"approval {self.id}: a checker counted twice")
        if self.status in (ApprovalStatus.APPROVED, ApprovalStatus.EXECUTED) and (
            len(self.approvers) < self.approvals_required
        ):
            raise InvariantViolation(f"approval {self.id}: {self.status} without enough approvals")
        if self.status == ApprovalStatus.EXECUTED and self.executed_at_ns is None:
            raise InvariantViolation(f"approval {self.id}: executed without a time")


def canonical_params(params: Mapping[str, Any]) -> str:
    try:
        text = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"operation parameters are not JSON: {exc}") from exc
    if len(text.encode()) > PARAMS_BYTES_MAX:
        raise ValidationError(f"operation parameters larger than {PARAMS_BYTES_MAX} bytes")
    return text


def new_request(
    request_id: str, policy: Policy, params: Mapping[str, Any], maker: str, now_ns: int
) -> ApprovalRequest:
    if not request_id:
        raise ValidationError("approval request id is empty")
    if not maker:
        raise ValidationError("the maker is unknown")
    frozen = json.loads(canonical_params(params))
    return ApprovalRequest(
        id=request_id,
        kind=policy.kind,
        params=frozen,
        maker=maker,
        status=ApprovalStatus.REQUESTED,
        created_at_ns=now_ns,
        expires_at_ns=now_ns + policy.ttl_s * NS_PER_S,
        approvals_required=policy.approvals_required,
    )


def _open(req: ApprovalRequest, now_ns: int) -> None:
    if req.status != ApprovalStatus.REQUESTED:
        raise ConflictError(f"approval {req.id} is {req.status}, not open", code="approval_not_open")
    if now_ns >= req.expires_at_ns:
        raise ConflictError(f"approval {req.id} has expired", code="approval_expired")


def _checker(req: ApprovalRequest, policy: Policy, actor: str, actor_roles: frozenset[str]) -> None:
    if actor == req.maker:
        raise ForbiddenError(
            f"the maker cannot decide its own request {req.id}", code="maker_cannot_approve"
        )
    excluded = req.params.get("excluded_approvers")
    if isinstance(excluded, list | tuple) and actor in excluded:
        raise ForbiddenError(f"{actor} may not decide {req.id} (it created or is the client concerned)",
                             code="approver_excluded")
    if not actor_roles & policy.approver_roles:
        roles = ", ".join(sorted(policy.approver_roles))
        raise ForbiddenError(f"approving {req.kind} needs one of the roles: {roles}", code="approver_role_missing")
    if any(d.actor == actor for d in req.decisions):
        raise ConflictError(f"{actor} already decided on {req.id}", code="already_decided")


def approve(
    req: ApprovalRequest, policy: Policy, actor: str, actor_roles: frozenset[str], now_ns: int, comment: str = ""
) -> ApprovalRequest:
    """Record one checker's approval; the request becomes approved once enough distinct checkers agreed."""
    _open(req, now_ns)
    _checker(req, policy, actor, actor_roles)
    decisions = (*req.decisions, Decision(actor, True, now_ns, comment[:COMMENT_LENGTH_MAX]))
    approvals = sum(1 for d in decisions if d.approve)
    status = ApprovalStatus.APPROVED if approvals >= req.approvals_required else ApprovalStatus.REQUESTED
    out = replace(req, decisions=decisions, status=status)
    out.check_invariants()
    return out


def reject(
    req: ApprovalRequest, policy: Policy, actor: str, actor_roles: frozenset[str], now_ns: int, reason: str
) -> ApprovalRequest:
    """A checker refuses; the request is closed. (The maker withdrawing its own request is `withdraw`.)"""
    _open(req, now_ns)
    _checker(req, policy, actor, actor_roles)
    decisions = (*req.decisions, Decision(actor, False, now_ns, reason[:COMMENT_LENGTH_MAX]))
    return replace(req, decisions=decisions, status=ApprovalStatus.REJECTED, reason=reason[:COMMENT_LENGTH_MAX])


def expire(req: ApprovalRequest, now_ns: int) -> ApprovalRequest:
    if req.status != ApprovalStatus.REQUESTED or now_ns < req.expires_at_ns:
        raise ConflictError(f"approval {req.id} is not due to expire", code="approval_not_expirable")
    return replace(req, status=ApprovalStatus.EXPIRED, reason="expired before enough approvals")


def start_execution(req: ApprovalRequest, now_ns: int, *, retry: bool = False) -> ApprovalRequest:
    """Claim an approved request for its single execution. A claim left by a crash needs `retry` (the
    executor gets the same idempotency key, so a second run changes nothing already done)."""
    if req.status != ApprovalStatus.APPROVED:
        raise ConflictError(f"approval {req.id} is {req.status}, not approved", code="approval_not_approved")
    if req.execution_started_at_ns is not None and not retry:
        raise ConflictError(f"approval {req.id} is already executing", code="approval_executing")
    return replace(req, execution_started_at_ns=now_ns)


def finish_execution(req: ApprovalRequest, now_ns: int, result: Mapping[str, Any]) -> ApprovalRequest:
    if req.status != ApprovalStatus.APPROVED or req.execution_started_at_ns is None:
        raise InvariantViolation(f"approval {req.id} finished without being claimed")
    out = replace(
        req, status=ApprovalStatus.EXECUTED, executed_at_ns=now_ns,
        result=json.loads(canonical_params(result)), last_error=None,
    )
    out.check_invariants()
    return out


def fail_execution(req: ApprovalRequest, error: str) -> ApprovalRequest:
    """The executor refused or failed: release the claim, keep the request approved so it can be retried."""
    return replace(req, execution_started_at_ns=None, last_error=error[:COMMENT_LENGTH_MAX])


def execution_key(req: ApprovalRequest) -> str:
    """The idempotency key every executor run of this request uses."""
    return f"approval:{req.id}"
