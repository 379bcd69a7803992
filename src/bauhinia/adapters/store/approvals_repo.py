"""Approval requests on SQLite / PostgreSQL, with the audit entry and outbox event in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.events import outbox
from bauhinia.adapters.store import audit
from bauhinia.adapters.store.approvals_tables import approval_requests as t
from bauhinia.adapters.store.approvals_tables import policy_overrides
from bauhinia.domain import approvals as apv

LIST_LIMIT_MAX = 1_000


def _to_row(r: apv.ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "params": apv.canonical_params(r.params),
        "maker": r.maker,
        "status": r.status.value,
        "created_at_ns": r.created_at_ns,
        "expires_at_ns": r.expires_at_ns,
        "approvals_required": r.approvals_required,
        "decisions": json.dumps([[d.actor, d.approve, d.at_ns, d.comment] for d in r.decisions]),
        "execution_started_at_ns": r.execution_started_at_ns,
        "executed_at_ns": r.executed_at_ns,
        "result": None if r.result is None else apv.canonical_params(r.result),
        "last_error": r.last_error,
        "reason": r.reason,
    }


def _from_row(row: Any) -> apv.ApprovalRequest:
    return apv.ApprovalRequest(
        id=row.id,
        kind=row.kind,
        params=json.loads(row.params),
        maker=row.maker,
        status=apv.ApprovalStatus(row.status),
        created_at_ns=int(row.created_at_ns),
        expires_at_ns=int(row.expires_at_ns),
        approvals_required=int(row.approvals_required),
        decisions=tuple(apv.Decision(a, bool(ok), int(at), c) for a, ok, at, c in json.loads(row.decisions)),
        execution_started_at_ns=row.execution_started_at_ns,
        executed_at_ns=row.executed_at_ns,
        result=None if row.result is None else json.loads(row.result),
        last_error=row.last_error,
        reason=row.reason,
    )


class _Unit:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, request_id: str, *, for_update: bool = False) -> apv.ApprovalRequest | None:
        stmt = sa.select(t).where(t.c.id == request_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).one_or_none()
        return None if row is None else _from_row(row)

    def add(self, request: apv.ApprovalRequest) -> None:
        self.conn.execute(t.insert().values(**_to_row(request)))

    def save(self, request: apv.ApprovalRequest) -> None:
        self.conn.execute(t.update().where(t.c.id == request.id).values(**_to_row(request)))

    def list(
        self, *, status: str | None = None, after_id: str | None = None, limit: int = 100
    ) -> list[apv.ApprovalRequest]:
        stmt = sa.select(t).order_by(t.c.id).limit(max(1, min(limit, LIST_LIMIT_MAX)))
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        if after_id is not None:
            stmt = stmt.where(t.c.id > after_id)
        return [_from_row(r) for r in self.conn.execute(stmt)]

    def due_to_expire(self, now_ns: int, limit: int) -> list[str]:
        stmt = (
            sa.select(t.c.id)
            .where(t.c.status == apv.ApprovalStatus.REQUESTED.value, t.c.expires_at_ns <= now_ns)
            .order_by(t.c.expires_at_ns)
            .limit(limit)
        )
        return [r[0] for r in self.conn.execute(stmt)]

    def audit(self, *, actor: str, action: str, subject: str, details: Mapping[str, Any], now_ns: int) -> str:
        return audit.append(self.conn, actor=actor, action=action, subject=subject, details=dict(details),
                            now_ns=now_ns)

    def emit(self, topic: str, payload: Mapping[str, Any], *, now_ns: int, key: str | None = None) -> int:
        return outbox.enqueue(self.conn, topic, dict(payload), now_ns=now_ns, key=key)


class SqlApprovalsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[_Unit]:
        with self.engine.begin() as conn:
            yield _Unit(conn)

    def policy_overrides(self) -> dict[str, dict[str, Any]]:
        """kind -> the policy fields an approved policy change set (approver_roles as a list)."""
        with self.engine.connect() as conn:
            return {r.kind: json.loads(r.fields) for r in conn.execute(sa.select(policy_overrides))}

    def put_policy_override(self, kind: str, fields: Mapping[str, Any], approval_key: str, now_ns: int, *,
                            actor: str) -> None:
        """Record a policy's changed fields (replacing an earlier change of it) and audit it, in one transaction."""
        body = json.dumps(dict(fields), sort_keys=True)
        with self.engine.begin() as conn:
            updated = conn.execute(sa.update(policy_overrides).where(policy_overrides.c.kind == kind).values(
                fields=body, approval_key=approval_key[:120], changed_at_ns=now_ns)).rowcount
            if not updated:
                conn.execute(sa.insert(policy_overrides).values(kind=kind, fields=body,
                                                                approval_key=approval_key[:120], changed_at_ns=now_ns))
            audit.append(conn, actor=actor[:128], action="approval_policy.changed", subject=f"policy:{kind}",
                         details={"fields": dict(fields), "approval": approval_key}, now_ns=now_ns)
