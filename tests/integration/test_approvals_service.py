"""Approval service over SQLite and PostgreSQL: audit + outbox in the same transaction, exactly-once execution."""

from __future__ import annotations

import pytest

from bauhinia.adapters.events import outbox
from bauhinia.adapters.store import audit
from bauhinia.adapters.store.approvals_repo import SqlApprovalsStore
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import ConflictError, ForbiddenError, RefusedError
from bauhinia.services.approvals import ApprovalService


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000 * apv.NS_PER_S

    def now_ns(self) -> int:
        self.t += 1
        return self.t


@pytest.fixture()
def env(db_url: str):
    engine = make_engine(db_url)
    migrate(engine)
    clock = Clock()
    svc = ApprovalService(SqlApprovalsStore(engine), clock)
    calls: list[tuple[dict, str]] = []

    def mint(params, key):
        calls.append((dict(params), key))
        return {"minted": params["amount_minor"]}

    svc.register_executor("mint", mint)
    yield engine, clock, svc, calls
    engine.dispose()


def test_small_mint_runs_at_once_large_waits(env) -> None:
    engine, _clock, svc, calls = env
    small = svc.submit("mint", {"amount_minor": 5_000}, maker="alice")
    assert small.request is None and small.result == {"minted": 5_000} and len(calls) == 1
    big = svc.submit("mint", {"amount_minor": 100_000_001}, maker="alice")
    assert big.pending_approval and len(calls) == 1
    rid = big.request.id
    with pytest.raises(ForbiddenError):
        svc.approve(rid, actor="alice", roles={"treasury"})
    done = svc.approve(rid, actor="bob", roles={"treasury"})
    assert done.status == "executed" and done.result == {"minted": 100_000_001}
    assert calls[-1] == ({"amount_minor": 100_000_001}, f"approval:{rid}")
    with pytest.raises(ConflictError):
        svc.execute(rid, actor="bob")
    assert len(calls) == 2
    assert audit.verify(engine).ok
    actions = [e["action"] for e in audit.list_entries(engine)]
    assert actions == ["mint.executed", "approval.requested", "approval.approved", "approval.executed"]
    topics = [e["topic"] for e in outbox.list_events(engine)]
    assert topics == ["approvals.requested", "approvals.approved", "approvals.executed"]


def test_executor_failure_keeps_it_approved_for_retry(env) -> None:
    _engine, _clock, svc, _calls = env
    state = {"fail": True}

    def reset(params, key):
        if state["fail"]:
            raise RefusedError("coverage still below 100%")
        return {"reset": params["coin"]}

    svc.register_executor("breaker_reset", reset)
    rid = svc.submit("breaker_reset", {"coin": "BHKD"}, maker="alice").request.id
    with pytest.raises(RefusedError):
        svc.approve(rid, actor="bob", roles={"admin"})
    r = svc.get(rid)
    assert r.status == "approved" and "coverage" in r.last_error
    state["fail"] = False
    assert svc.execute(rid, actor="bob").status == "executed"


def test_expiry(env) -> None:
    _engine, clock, svc, calls = env
    rid = svc.submit("mint", {"amount_minor": 10**9}, maker="alice").request.id
    clock.t += 25 * 3600 * apv.NS_PER_S
    with pytest.raises(ConflictError):
        svc.approve(rid, actor="bob", roles={"treasury"})
    assert svc.get(rid).status == "expired"
    assert svc.expire_due() == 0
    assert len(calls) == 0
    rid2 = svc.submit("mint", {"amount_minor": 10**9}, maker="alice").request.id
    clock.t += 25 * 3600 * apv.NS_PER_S
    assert svc.expire_due() == 1 and svc.get(rid2).status == "expired"


def test_reject_and_list(env) -> None:
    _engine, _clock, svc, calls = env
    ids = [svc.submit("mint", {"amount_minor": 10**9 + i}, maker="alice").request.id for i in range(3)]
    svc.reject(ids[0], actor="bob", roles={"treasury"}, reason="wrong amount")
    assert [r.id for r in svc.list(status="requested")] == ids[1:]
    assert [r.id for r in svc.list(after_id=ids[0], limit=1)] == [ids[1]]
    assert not calls
