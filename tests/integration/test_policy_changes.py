"""Policy changes have an entrance, and it is maker-checker (issue 20): an admin asks to change who approves an
operation, how many must, above what amount or for how long; two other admins approve; every process then follows
the changed policy. A change that would let one person through is refused before anyone is asked. Both stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from bauhinia.adapters.store.approvals_repo import SqlApprovalsStore
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import ConflictError, ForbiddenError, ValidationError
from bauhinia.services import approvals as approvals_svc
from bauhinia.services import controls
from bauhinia.services.approvals import ApprovalService


class Clock:
    t = 1_800_000_000 * apv.NS_PER_S

    def now_ns(self) -> int:
        return self.t


def _service(url: str) -> ApprovalService:
    engine = make_engine(url)
    migrate(engine)
    service = ApprovalService(SqlApprovalsStore(engine), Clock())
    service.register_executor("mint", lambda params, key: {"minted": params["amount_minor"]})
    return service


def admin(n: int) -> controls.Actor:
    return controls.Actor(f"admin{n}", frozenset({"admin"}))


def test_a_threshold_change_needs_two_other_admins_and_every_process_follows_it(db_url: str,
                                                                                  monkeypatch: pytest.MonkeyPatch
                                                                                  ) -> None:
    monkeypatch.setattr(approvals_svc, "POLICY_REFRESH_S", 0.0)
    service, other_process = _service(db_url), _service(db_url)
    assert service.policies["mint"].threshold == 100_000_000
    with pytest.raises(ForbiddenError):  # only an admin asks
        controls.request_policy_change(service, controls.Actor("t1", frozenset({"treasury"})), "mint",
                                       {"threshold": 50_000_000}, "lower the large-mint line")
    sub = controls.request_policy_change(service, admin(1), "mint", {"threshold": 50_000_000},
                                         "lower the large-mint line to HK$500,000")
    request = sub.request
    assert request is not None and request.kind == "policy_change" and request.approvals_required == 2
    assert request.params["before"]["threshold"] == 100_000_000
    assert not service.policy("mint").applies({"amount_minor": 60_000_000})  # nothing changed yet
    with pytest.raises(ForbiddenError):
        controls.approve(service, request.id, admin(1))  # never the maker
    with pytest.raises(ForbiddenError):
        controls.approve(service, request.id, controls.Actor("t2", frozenset({"treasury"})))
    assert controls.approve(service, request.id, admin(2)).status == "requested"  # one of two
    done = controls.approve(service, request.id, admin(3))
    assert done.status == "executed" and done.result["threshold"] == 50_000_000
    assert service.policy("mint").applies({"amount_minor": 60_000_000})
    assert other_process.policies["mint"].threshold == 50_000_000  # another process reads the change
    # a mint above the new line now opens a request; the first change is kept when another field changes
    assert service.submit("mint", {"amount_minor": 60_000_000}, maker="ops").pending_approval
    second = controls.request_policy_change(service, admin(1), "mint", {"approvals_required": 2}, "two checkers")
    assert second.request is not None
    controls.approve(service, second.request.id, admin(2))
    controls.approve(service, second.request.id, admin(3))
    mint = other_process.policies["mint"]
    assert (mint.threshold, mint.approvals_required) == (50_000_000, 2)


def test_a_change_that_would_let_one_person_through_is_refused(db_url: str) -> None:
    service = _service(db_url)
    for kind, changes in (("mint", {"approver_roles": ["customer"]}), ("mint", {"approver_roles": []}),
                          ("mint", {"approver_roles": ["auditor"]}), ("freeze", {"approvals_required": 0}),
                          ("freeze", {"ttl_s": 60}), ("freeze", {"threshold": 10}), ("mint", {"colour": "red"}),
                          ("policy_change", {"approvals_required": 1}), ("mint", {})):
        with pytest.raises(ValidationError):
            controls.request_policy_change(service, admin(1), kind, changes, "loosen it")
    with pytest.raises(Exception) as exc:
        controls.request_policy_change(service, admin(1), "no_such_kind", {"ttl_s": 7200}, "a reason")
    assert getattr(exc.value, "code", "") == "policy_not_found"
    assert service.list(status="requested") == []  # nothing was asked


def test_without_its_own_policy_a_policy_change_never_runs_directly(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a.sqlite3")
    migrate(engine)
    bare = ApprovalService(SqlApprovalsStore(engine), Clock(),
                           [p for p in apv.DEFAULT_POLICIES if p.kind != apv.POLICY_CHANGE])
    with pytest.raises(ConflictError):
        bare.request_policy_change("mint", {"threshold": 1}, "a reason", maker="admin1")
