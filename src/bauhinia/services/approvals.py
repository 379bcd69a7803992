"""Maker-checker use cases: submit an operation, approve, reject, expire, execute.

Other services register one executor per operation kind (`register_executor("breaker_reset", fn)`), and
submit operations instead of running them. An operation no policy covers (or below its threshold) runs at once;
otherwise it waits as an approval request until enough distinct checkers approve, then its executor runs exactly
once: the request is claimed in one transaction, the executor runs with the idempotency key
`approval:<id>`, and the outcome is recorded in another. Every step writes an audit entry and an outbox event in
the same transaction as the state change.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import BauhiniaError, ConflictError, ForbiddenError, NotFoundError, ValidationError
from bauhinia.ports import ApprovalsStore, ApprovalsUnit, Clock

log = logging.getLogger(__name__)

# An executor gets the operation's parameters and an idempotency key; it returns a JSON-able result.
Executor = Callable[[Mapping[str, Any], str], Mapping[str, Any] | None]
EXPIRE_BATCH_MAX = 1_000
POLICY_REFRESH_S = 5.0  # how stale a process's view of changed policies may be


@dataclass(frozen=True, slots=True)
class Submission:
    """What submitting an operation did: queued for approval (`request`) or ran at once (`result`)."""

    request: apv.ApprovalRequest | None
    result: Mapping[str, Any] | None

    @property
    def pending_approval(self) -> bool:
        return self.request is not None and self.request.status == apv.ApprovalStatus.REQUESTED


class ApprovalService:
    def __init__(
        self,
        store: ApprovalsStore,
        clock: Clock,
        policies: Iterable[apv.Policy] = apv.DEFAULT_POLICIES,
        new_id: Callable[[int], str] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.base_policies: dict[str, apv.Policy] = {p.kind: p for p in policies}
        self.executors: dict[str, Executor] = {}
        self._new_id = new_id or (lambda now_ns: f"apr_{now_ns:020d}_{uuid.uuid4().hex[:10]}")
        self._effective: dict[str, apv.Policy] = dict(self.base_policies)
        self._read_at = float("-inf")
        self.register_executor(apv.POLICY_CHANGE, self._change_policy)

    @property
    def policies(self) -> dict[str, apv.Policy]:
        """The policies in force: the code's, with the changes approved policy changes made (read from the store
        at most every POLICY_REFRESH_S, so every process follows a change within seconds)."""
        return self._refresh_policies()

    def _refresh_policies(self) -> dict[str, apv.Policy]:
        """Read the changed policies when the view is older than POLICY_REFRESH_S. Called at the start of a public
        call, never inside a unit of work (on SQLite a second connection would wait on the writer's lock)."""
        now = time.monotonic()
        if now - self._read_at >= POLICY_REFRESH_S:
            read = getattr(self.store, "policy_overrides", None)
            overrides = read() if read is not None else {}
            effective = dict(self.base_policies)
            for kind, fields in overrides.items():
                if kind in effective:
                    effective[kind] = apv.changed_policy(effective[kind], fields)
            self._effective, self._read_at = effective, now
        return self._effective

    def request_policy_change(self, kind: str, changes: Mapping[str, Any], reason: str, *,
                              maker: str) -> Submission:
        """Open a `policy_change` (two admins by default) to change who approves `kind`, how many must, above
        what amount or for how long a request stays open. Refused at once when the change would let one person
        through (domain.approvals.changed_policy)."""
        base = self.base_policies.get(kind)
        if base is None:
            raise NotFoundError(f"no approval policy {kind!r}", code="policy_not_found")
        if apv.POLICY_CHANGE not in self.base_policies:  # never run a policy change without its own approval
            raise ConflictError("no policy_change policy is configured", code="policy_missing")
        fields = dict(changes)
        if "approver_roles" in fields:
            fields["approver_roles"] = sorted(str(r) for r in fields["approver_roles"])
        apv.changed_policy(self.policies[kind], fields)  # refuse a bad change before anyone is asked
        if len(reason.strip()) < 3:
            raise ValidationError("a policy change needs a reason", code="reason_required")
        current = self.policies[kind]
        return self.submit(apv.POLICY_CHANGE, {
            "policy": kind, "changes": fields, "reason": reason.strip()[:500],
            "before": {"approver_roles": sorted(current.approver_roles),
                       "approvals_required": current.approvals_required, "ttl_s": current.ttl_s,
                       "threshold": current.threshold}}, maker=maker)

    def _change_policy(self, params: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The executor of an approved `policy_change`: the policy's changed fields are stored (on top of any earlier
        change of it) and in force in every process within POLICY_REFRESH_S."""
        kind = str(params["policy"])
        put = getattr(self.store, "put_policy_override", None)
        if put is None:
            raise ConflictError("this approvals store cannot keep policy changes", code="policy_store_missing")
        read = getattr(self.store, "policy_overrides", None)
        earlier = dict((read() if read is not None else {}).get(kind, {}))
        fields = {**earlier, **dict(params["changes"])}
        changed = apv.changed_policy(self.base_policies[kind], fields)
        put(kind, fields, key, self.clock.now_ns(), actor=f"policy-change:{key}"[:128])
        self._read_at = float("-inf")
        return {"policy": kind, "approver_roles": sorted(changed.approver_roles),
                "approvals_required": changed.approvals_required, "ttl_s": changed.ttl_s,
                "threshold": changed.threshold}

    def register_executor(self, kind: str, executor: Executor) -> None:
        if kind in self.executors:
            raise ConflictError(f"an executor for {kind!r} is already registered")
        self.executors[kind] = executor

    def policy(self, kind: str) -> apv.Policy | None:
        return self.policies.get(kind)

    def _executor(self, kind: str) -> Executor:
        try:
            return self.executors[kind]
        except KeyError:
            raise ValidationError(f"no executor registered for operation {kind!r}", code="unknown_operation") from None

    # ------------------------------------------------------------------ commands
    def submit(self, kind: str, params: Mapping[str, Any], *, maker: str) -> Submission:
        """Run the operation now when no policy covers it, else open an approval request."""
        executor = self._executor(kind)
        apv.canonical_params(params)  # refuse non-JSON parameters before anything happens
        policy = self.policies.get(kind)
        now_ns = self.clock.now_ns()
        if policy is None or not policy.applies(params):
            result = dict(executor(params, f"direct:{kind}:{now_ns}:{maker}") or {})
            with self.store.transaction() as uow:
                uow.audit(actor=maker, action=f"{kind}.executed", subject=kind,
                          details={"params": dict(params), "result": result, "approval": None}, now_ns=now_ns)
            return Submission(None, result)
        request = apv.new_request(self._new_id(now_ns), policy, params, maker, now_ns)
        with self.store.transaction() as uow:
            uow.add(request)
            self._record(uow, request, maker, "requested", now_ns)
        return Submission(request, None)

    def approve(
        self, request_id: str, *, actor: str, roles: Iterable[str], comment: str = ""
    ) -> apv.ApprovalRequest:
        """One checker approves; when that makes the request approved, its executor runs (once)."""
        self._refresh_policies()
        now_ns = self.clock.now_ns()
        self._expire_one(request_id, now_ns)
        with self.store.transaction() as uow:
            request = self._load(uow, request_id, for_update=True)
            request = apv.approve(request, self._policy(request.kind), actor, frozenset(roles), now_ns, comment)
            uow.save(request)
            self._record(uow, request, actor, "approved" if request.status == "approved" else "approval_added",
                         now_ns)
        if request.status == apv.ApprovalStatus.APPROVED:
            return self.execute(request_id, actor=actor)
        return request

    def reject(self, request_id: str, *, actor: str, roles: Iterable[str], reason: str) -> apv.ApprovalRequest:
        self._refresh_policies()
        now_ns = self.clock.now_ns()
        self._expire_one(request_id, now_ns)
        with self.store.transaction() as uow:
            request = self._load(uow, request_id, for_update=True)
            request = apv.reject(request, self._policy(request.kind), actor, frozenset(roles), now_ns, reason)
            uow.save(request)
            self._record(uow, request, actor, "rejected", now_ns)
        self._rejected(request, actor, reason)
        return request

    def _rejected(self, request: apv.ApprovalRequest, actor: str, reason: str) -> None:
        """Tell the operation's owner its request was rejected (an executor's `on_reject(params, actor, reason)`,
        e.g. a freeze request then becomes rejected instead of staying pending). The rejection stands even if
        that fails; the failure is logged."""
        on_reject = getattr(self.executors.get(request.kind), "on_reject", None)
        if on_reject is None:
            return
        try:
            on_reject(request.params, actor, reason)
        except BauhiniaError:
            log.warning("approval %s rejected, but its %s could not be closed", request.id, request.kind,
                        exc_info=True)

    def execute(self, request_id: str, *, actor: str, retry: bool = False) -> apv.ApprovalRequest:
        """Run an approved request's executor exactly once (claim, run, record)."""
        now_ns = self.clock.now_ns()
        with self.store.transaction() as uow:
            request = apv.start_execution(self._load(uow, request_id, for_update=True), now_ns, retry=retry)
            uow.save(request)
        executor = self._executor(request.kind)
        try:
            result = dict(executor(request.params, apv.execution_key(request)) or {})
        except BauhiniaError as exc:
            with self.store.transaction() as uow:
                failed = apv.fail_execution(self._load(uow, request_id, for_update=True), str(exc))
                uow.save(failed)
                self._record(uow, failed, actor, "execution_failed", self.clock.now_ns())
            raise
        done_ns = self.clock.now_ns()
        with self.store.transaction() as uow:
            done = apv.finish_execution(self._load(uow, request_id, for_update=True), done_ns, result)
            uow.save(done)
            self._record(uow, done, actor, "executed", done_ns)
        return done

    def resubmit(self, request_id: str, *, maker: str, roles: Iterable[str]) -> apv.ApprovalRequest:
        """Open the same operation again after its request expired undecided (a high-risk customer's sign-off or a
        dismissal nobody reached in time): a new request with the same parameters whose maker is the person who
        asks again, so that person cannot approve it. Only someone holding one of the policy's approver roles may
        ask; only an expired request is resubmitted (a rejected one was decided), and only when no request for the
        same operation is still open."""
        self._refresh_policies()
        now_ns = self.clock.now_ns()
        self._expire_one(request_id, now_ns)
        old = self.get(request_id)
        policy = self._policy(old.kind)
        if not set(roles) & policy.approver_roles:
            raise ForbiddenError(f"resubmitting {old.kind} needs one of the roles "
                                 f"{', '.join(sorted(policy.approver_roles))}", code="role_not_allowed")
        if old.status != apv.ApprovalStatus.EXPIRED:
            raise ConflictError(f"approval {request_id} is {old.status.value}: only an expired request is "
                                "resubmitted", code="not_expired")
        params = dict(old.params)
        if "maker" in params:
            params["maker"] = maker  # the executor's own record of who asked (e.g. a sign-off's maker)
        same = {k: v for k, v in params.items() if k != "maker"}
        for open_ in self.list(status="requested", limit=EXPIRE_BATCH_MAX):
            if open_.kind == old.kind and {k: v for k, v in open_.params.items() if k != "maker"} == same:
                raise ConflictError(f"approval {open_.id} for the same {old.kind} is still open",
                                    code="already_open")
        request = apv.new_request(self._new_id(now_ns), policy, params, maker, now_ns)
        with self.store.transaction() as uow:
            uow.add(request)
            self._record(uow, request, maker, "requested", now_ns)
            uow.audit(actor=maker, action="approval.resubmitted", subject=f"approval:{request.id}",
                      details={"kind": old.kind, "expired": old.id}, now_ns=now_ns)
        return request

    def expire_due(self, limit: int = 100) -> int:
        """Close requests nobody decided in time (bounded); returns how many."""
        now_ns = self.clock.now_ns()
        n = 0
        with self.store.transaction() as uow:
            for request_id in uow.due_to_expire(now_ns, max(1, min(limit, EXPIRE_BATCH_MAX))):
                request = self._load(uow, request_id, for_update=True)
                self._expire_if_due(uow, request, now_ns)
                n += 1
        return n

    # ------------------------------------------------------------------ queries
    def get(self, request_id: str) -> apv.ApprovalRequest:
        with self.store.transaction() as uow:
            return self._load(uow, request_id)

    def list(self, *, status: str | None = None, after_id: str | None = None, limit: int = 100) -> list[
        apv.ApprovalRequest
    ]:
        if status is not None and status not in {s.value for s in apv.ApprovalStatus}:
            raise ValidationError(f"unknown approval status {status!r}")
        with self.store.transaction() as uow:
            return uow.list(status=status, after_id=after_id, limit=limit)

    # ------------------------------------------------------------------ helpers
    def _policy(self, kind: str) -> apv.Policy:
        # the view read at the start of the public call: never a read of the store inside a unit of work (on
        # SQLite every transaction takes the writer's lock, so a second connection would wait on the first)
        policy = self._effective.get(kind)
        if policy is None:
            raise ConflictError(f"no policy for {kind!r} any more", code="policy_missing")
        return policy

    @staticmethod
    def _load(uow: ApprovalsUnit, request_id: str, *, for_update: bool = False) -> apv.ApprovalRequest:
        request = uow.get(request_id, for_update=for_update)
        if request is None:
            raise NotFoundError(f"approval request {request_id} not found", code="approval_not_found")
        return request

    def _expire_one(self, request_id: str, now_ns: int) -> None:
        """Commit the expiry of a request past its time (so a late decision finds it expired and fails)."""
        with self.store.transaction() as uow:
            self._expire_if_due(uow, self._load(uow, request_id, for_update=True), now_ns)

    def _expire_if_due(self, uow: ApprovalsUnit, request: apv.ApprovalRequest, now_ns: int) -> apv.ApprovalRequest:
        if request.status == apv.ApprovalStatus.REQUESTED and now_ns >= request.expires_at_ns:
            request = apv.expire(request, now_ns)
            uow.save(request)
            self._record(uow, request, "system", "expired", now_ns)
        return request

    @staticmethod
    def _record(uow: ApprovalsUnit, request: apv.ApprovalRequest, actor: str, what: str, now_ns: int) -> None:
        details = {
            "kind": request.kind,
            "status": request.status.value,
            "maker": request.maker,
            "params": dict(request.params),
            "approvers": list(request.approvers),
        }
        if request.last_error:
            details["error"] = request.last_error
        uow.audit(actor=actor, action=f"approval.{what}", subject=f"approval:{request.id}", details=details,
                  now_ns=now_ns)
        uow.emit(f"approvals.{what}", {"id": request.id, **details}, now_ns=now_ns, key=request.id)
