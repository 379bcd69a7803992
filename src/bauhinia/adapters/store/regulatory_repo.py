"""The regulatory store: incidents (extending reserve_incidents by id), their timelines, filed returns, and the
period figures the monthly return reads from other areas' tables (read only: issuance mints, compliance alerts
and suspicious transaction reports). Every write is mirrored into the hash-chained audit log in the same
transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store import audit
from bauhinia.adapters.store import compliance_tables as ct
from bauhinia.adapters.store import issuance_tables as it
from bauhinia.adapters.store import regulatory_tables as t
from bauhinia.domain import regulatory as reg
from bauhinia.domain.errors import ConflictError, NotFoundError

rows_read_max = 1_000_000


def _incident(row: Any, events: list[Any]) -> reg.RegIncident:
    return reg.RegIncident(
        incident_id=row.incident_id, kind=reg.IncidentKind(row.kind), severity=reg.Severity(row.severity),
        coin=row.coin, summary=row.summary, opened_at_ns=int(row.opened_at_ns), notify_by_ns=int(row.notify_by_ns),
        state=reg.IncidentState(row.state),
        notified_at_ns=int(row.notified_at_ns) if row.notified_at_ns is not None else None,
        notification_ref=row.notification_ref,
        closed_at_ns=int(row.closed_at_ns) if row.closed_at_ns is not None else None,
        timeline=tuple(reg.TimelineEvent(int(e.at_ns), e.actor, e.action, e.text) for e in events),
    )


class SqlRegulatoryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self._engine.begin() as conn:
            yield conn

    # --- incidents ---------------------------------------------------------------------------------------

    def _values(self, inc: reg.RegIncident) -> dict[str, Any]:
        return dict(kind=inc.kind.value, severity=inc.severity.value, coin=inc.coin, summary=inc.summary[:512],
                    state=inc.state.value, opened_at_ns=inc.opened_at_ns, notify_by_ns=inc.notify_by_ns,
                    notified_at_ns=inc.notified_at_ns, notification_ref=inc.notification_ref,
                    closed_at_ns=inc.closed_at_ns)

    def add_incident(self, inc: reg.RegIncident, *, origin: str, actor: str, now_ns: int) -> bool:
        """Insert; False (nothing written) when an incident with this id is already registered."""
        with self._tx() as conn:
            if conn.execute(sa.select(t.incidents.c.incident_id).where(
                    t.incidents.c.incident_id == inc.incident_id)).first():
                return False
            conn.execute(sa.insert(t.incidents).values(incident_id=inc.incident_id, origin=origin,
                                                       **self._values(inc)))
            self._events(conn, inc, 0)
            audit.append(conn, actor=actor, action="regulatory.incident_opened", subject=f"incident:{inc.incident_id}",
                         details={"kind": inc.kind.value, "severity": inc.severity.value, "coin": inc.coin,
                                  "notify_by_ns": inc.notify_by_ns, "origin": origin}, now_ns=now_ns)
        return True

    def _events(self, conn: sa.Connection, inc: reg.RegIncident, already: int) -> None:
        rows = [dict(incident_id=inc.incident_id, seq=i, at_ns=e.at_ns, actor=e.actor[:120], action=e.action,
                     text=e.text) for i, e in enumerate(inc.timeline) if i >= already]
        if rows:
            conn.execute(sa.insert(t.incident_events), rows)

    def save_incident(self, inc: reg.RegIncident, *, action: str, actor: str, now_ns: int) -> None:
        with self._tx() as conn:
            have = int(conn.execute(sa.select(sa.func.count()).select_from(t.incident_events).where(
                t.incident_events.c.incident_id == inc.incident_id)).scalar_one())
            if have == 0:
                raise NotFoundError(f"no incident {inc.incident_id}", code="incident_not_found")
            if have > len(inc.timeline):
                raise ConflictError(f"incident {inc.incident_id} changed meanwhile", code="incident_changed")
            conn.execute(sa.update(t.incidents).where(t.incidents.c.incident_id == inc.incident_id)
                         .values(**self._values(inc)))
            self._events(conn, inc, have)
            audit.append(conn, actor=actor, action=f"regulatory.incident_{action}",
                         subject=f"incident:{inc.incident_id}",
                         details={"state": inc.state.value, "notification_ref": inc.notification_ref,
                                  "text": inc.timeline[-1].text[:500]}, now_ns=now_ns)

    def get_incident(self, incident_id: str) -> reg.RegIncident:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.incidents).where(t.incidents.c.incident_id == incident_id)).first()
            if row is None:
                raise NotFoundError(f"no incident {incident_id}", code="incident_not_found")
            events = list(conn.execute(sa.select(t.incident_events).where(
                t.incident_events.c.incident_id == incident_id).order_by(t.incident_events.c.seq)))
        return _incident(row, events)

    def list_incidents(self, state: str | None = None, *, opened_from_ns: int | None = None,
                       opened_before_ns: int | None = None, limit: int = 10_000) -> list[reg.RegIncident]:
        q = sa.select(t.incidents).order_by(t.incidents.c.opened_at_ns, t.incidents.c.incident_id).limit(limit)
        if state:
            q = q.where(t.incidents.c.state == state)
        if opened_from_ns is not None:
            q = q.where(t.incidents.c.opened_at_ns >= opened_from_ns)
        if opened_before_ns is not None:
            q = q.where(t.incidents.c.opened_at_ns < opened_before_ns)
        with self._tx() as conn:
            rows = list(conn.execute(q))
            ids = [r.incident_id for r in rows]
            events: dict[str, list[Any]] = {i: [] for i in ids}
            for k in range(0, len(ids), 500):
                for e in conn.execute(sa.select(t.incident_events).where(
                        t.incident_events.c.incident_id.in_(ids[k:k + 500])).order_by(
                        t.incident_events.c.incident_id, t.incident_events.c.seq)):
                    events[e.incident_id].append(e)
        return [_incident(r, events[r.incident_id]) for r in rows]

    def incident_ids(self) -> set[str]:
        with self._tx() as conn:
            return {r[0] for r in conn.execute(sa.select(t.incidents.c.incident_id))}

    # --- returns -----------------------------------------------------------------------------------------

    def put_return(self, return_id: str, kind: str, period: str, body: dict[str, Any], sha256: str, *, actor: str,
                   now_ns: int) -> bool:
        """Record a produced return. The same content again is a no-op (False); different content for a period
        already filed is refused: a correction is filed as a new return id."""
        with self._tx() as conn:
            row = conn.execute(sa.select(t.returns.c.sha256).where(t.returns.c.return_id == return_id)).first()
            if row is not None:
                if row.sha256 == sha256:
                    return False
                raise ConflictError(f"return {return_id} was already filed with different content "
                                    f"(sha256 {row.sha256[:12]}...); file a correction under a new id",
                                    code="return_already_filed")
            conn.execute(sa.insert(t.returns).values(return_id=return_id, kind=kind, period=period, sha256=sha256,
                                                     body=json.dumps(body, sort_keys=True), created_at_ns=now_ns,
                                                     actor=actor[:120]))
            audit.append(conn, actor=actor, action="regulatory.return_filed", subject=f"return:{return_id}",
                         details={"kind": kind, "period": period, "sha256": sha256}, now_ns=now_ns)
        return True

    def list_returns(self, kind: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(t.returns.c.return_id, t.returns.c.kind, t.returns.c.period, t.returns.c.sha256,
                      t.returns.c.created_at_ns, t.returns.c.actor).order_by(t.returns.c.created_at_ns)
        if kind:
            q = q.where(t.returns.c.kind == kind)
        with self._tx() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def get_return(self, return_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            row = conn.execute(sa.select(t.returns).where(t.returns.c.return_id == return_id)).first()
        if row is None:
            raise NotFoundError(f"no return {return_id}", code="return_not_found")
        out = dict(row._mapping)
        out["body"] = json.loads(out["body"])
        return out

    # --- period figures read from other areas (read only) ------------------------------------------------

    def minted(self, fiat: str) -> list[tuple[int, int, int]]:
        """(minted_at_ns, amount_minor, fee_minor) of every minted subscription of `fiat`."""
        s, tr = it.subscriptions, it.transitions
        q = (sa.select(tr.c.at_ns, s.c.amount_minor, s.c.fee_minor)
             .join(tr, sa.and_(tr.c.flow == "subscription", tr.c.flow_seq == s.c.seq, tr.c.to_status == "minted"))
             .where(s.c.fiat == fiat, s.c.status == "minted").limit(rows_read_max))
        with self._tx() as conn:
            return [(int(r.at_ns), int(r.amount_minor), int(r.fee_minor)) for r in conn.execute(q)]

    def compliance_counts(self, start_ns: int, end_ns: int) -> dict[str, int]:
        """Alerts raised, cases opened and STRs filed in [start_ns, end_ns)."""
        def count(table: sa.Table, col: str) -> int:
            c = table.c[col]
            return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(
                c >= start_ns, c < end_ns)).scalar_one())

        with self._tx() as conn:
            return {"alerts_raised": count(ct.alerts, "created_at_ns"),
                    "cases_opened": count(ct.cases, "opened_at_ns"),
                    "strs_filed": count(ct.strs, "created_at_ns")}

    def customers_retention(self) -> list[dict[str, Any]]:
        """Every customer's relationship end and retention date (CDD records are kept until then)."""
        c = ct.customers
        cols = [c.c.customer_id, c.c.status]
        for name in ("relationship_ended_on", "retention_until"):
            if name in c.c:
                cols.append(c.c[name])
        with self._tx() as conn:
            return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r._mapping.items()}
                    for r in conn.execute(sa.select(*cols).order_by(c.c.customer_id).limit(rows_read_max))]
