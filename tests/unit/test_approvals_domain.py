"""Maker-checker rules: policies, the state machine, the maker never approves its own request."""

from __future__ import annotations

import pytest

from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import ConflictError, ForbiddenError, InvariantViolation, ValidationError

POLICIES = {p.kind: p for p in apv.DEFAULT_POLICIES}
S = apv.NS_PER_S


def test_mint_threshold() -> None:
    mint = POLICIES["mint"]
    assert not mint.applies({"amount_minor": 100_000_000})
    assert mint.applies({"amount_minor": 100_000_001})
    assert mint.applies({})  # no amount: cannot prove it is small
    assert mint.applies({"amount_minor": "1"})
    assert POLICIES["freeze"].applies({})


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        apv.Policy("x", frozenset())
    with pytest.raises(ValidationError):
        apv.Policy("x", frozenset({"admin"}), approvals_required=0)
    with pytest.raises(ValidationError):
        apv.Policy("x", frozenset({"admin"}), threshold_param="a")


@pytest.mark.requirement("OPS-SECOND-APPROVER")
def test_lifecycle_and_maker_cannot_approve() -> None:
    p = POLICIES["breaker_reset"]
    r = apv.new_request("r1", p, {"coin": "BHKD"}, "alice", 0)
    assert r.status == "requested" and r.expires_at_ns == p.ttl_s * S
    with pytest.raises(ForbiddenError) as e:
        apv.approve(r, p, "alice", frozenset({"admin", "treasury"}), 1)
    assert e.value.code == "maker_cannot_approve"
    with pytest.raises(ForbiddenError):
        apv.approve(r, p, "bob", frozenset({"operator"}), 1)
    ok = apv.approve(r, p, "bob", frozenset({"treasury"}), 1)
    assert ok.status == "approved" and ok.approvers == ("bob",)
    with pytest.raises(ConflictError):
        apv.approve(ok, p, "carol", frozenset({"admin"}), 2)
    claimed = apv.start_execution(ok, 3)
    with pytest.raises(ConflictError):
        apv.start_execution(claimed, 4)  # exactly once
    done = apv.finish_execution(claimed, 5, {"ok": True})
    assert done.status == "executed"
    with pytest.raises(ConflictError):
        apv.start_execution(done, 6)


@pytest.mark.requirement("OPS-SECOND-APPROVER")
def test_two_approvers_counted_once_each() -> None:
    p = POLICIES["contract_upgrade"]
    r = apv.new_request("r", p, {}, "alice", 0)
    r = apv.approve(r, p, "bob", frozenset({"admin"}), 1)
    assert r.status == "requested"
    with pytest.raises(ConflictError):
        apv.approve(r, p, "bob", frozenset({"admin"}), 2)
    r = apv.approve(r, p, "carol", frozenset({"admin"}), 3)
    assert r.status == "approved"


def test_reject_and_expire() -> None:
    p = POLICIES["freeze"]
    r = apv.new_request("r", p, {}, "alice", 0)
    with pytest.raises(ConflictError):
        apv.approve(r, p, "bob", frozenset({"compliance"}), p.ttl_s * S)  # too late
    with pytest.raises(ConflictError):
        apv.expire(r, 1)
    assert apv.expire(r, p.ttl_s * S).status == "expired"
    rej = apv.reject(r, p, "bob", frozenset({"compliance"}), 1, "no")
    assert rej.status == "rejected"
    with pytest.raises(ConflictError):
        apv.start_execution(rej, 2)


def test_invariants_catch_self_approval() -> None:
    p = POLICIES["freeze"]
    r = apv.new_request("r", p, {}, "alice", 0)
    from dataclasses import replace

    forged = replace(r, decisions=(apv.Decision("alice", True, 1),), status=apv.ApprovalStatus.APPROVED)
    with pytest.raises(InvariantViolation):
        forged.check_invariants()


def test_failed_execution_releases_claim() -> None:
    p = POLICIES["freeze"]
    r = apv.approve(apv.new_request("r", p, {}, "a", 0), p, "b", frozenset({"admin"}), 1)
    failed = apv.fail_execution(apv.start_execution(r, 2), "down")
    assert failed.status == "approved" and failed.execution_started_at_ns is None and failed.last_error == "down"
    assert apv.execution_key(failed) == "approval:r"
