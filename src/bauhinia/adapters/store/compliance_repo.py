"""The compliance store over SQLAlchemy Core (SQLite and PostgreSQL): implements ports.ComplianceStore.

Each method runs in its own transaction unless called on the repository handed out by `transaction()`, where
every call shares one connection and commits (or rolls back) together. Every case event, onboarding decision,
false-positive review and deletion is also appended to the hash-chained audit log in the same transaction.
A customer's records cannot be deleted before its retention date: the repository checks it itself, whatever
the caller did.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bauhinia.adapters.store import compliance_tables as t
from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import monitoring as mon
from bauhinia.domain.compliance import ReviewedFalsePositive, ScreeningDecision, ScreeningHit
from bauhinia.domain.errors import ConflictError, NotFoundError

list_rows_max = 10_000


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _hit_json(h: ScreeningHit) -> dict[str, Any]:
    return {"entity_id": h.entity_id, "matched_name": h.matched_name, "score": h.score,
            "explanation": list(h.explanation), "entity_fingerprint": h.entity_fingerprint}


def hit_from_json(d: Mapping[str, Any]) -> ScreeningHit:
    return ScreeningHit(str(d["entity_id"]), str(d["matched_name"]), float(d["score"]),
                        tuple(d.get("explanation", ())), str(d.get("entity_fingerprint", "")))


@dataclass(frozen=True, slots=True)
class StoredCustomer:
    customer: cdd.Customer
    status: cdd.OnboardingDecision
    status_reason: str
    risk_rating: cdd.RiskRating
    edd_flags: tuple[str, ...]
    next_review_on: date
    retention_until: date | None
    list_version: str


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    subject_id: str
    party_id: str
    context: str
    list_version: str
    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]
    suppressed: tuple[ScreeningHit, ...]
    screened_at_ns: int


def _audit(conn: sa.Connection, actor: str, action: str, subject: str, details: dict[str, Any], now_ns: int) -> None:
    from bauhinia.adapters.store import audit

    audit.append(conn, actor=actor, action=action, subject=subject, details=details, now_ns=now_ns)


class ComplianceRepository:
    """ports.ComplianceStore backed by the shared database."""

    def __init__(self, engine: Engine, conn: sa.Connection | None = None, pepper: str = "") -> None:
        self._engine = engine
        self._conn = conn
        self._pepper = pepper or "stored-records"

    @contextmanager
    def transaction(self) -> Iterator[ComplianceRepository]:
        if self._conn is not None:
            yield self
            return
        with self._engine.begin() as conn:
            yield ComplianceRepository(self._engine, conn, self._pepper)

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self._engine.begin() as conn:
                yield conn

    # --- customers -------------------------------------------------------------------------------------------

    def put_customer(
        self,
        customer: cdd.Customer,
        decision: cdd.OnboardingDecision,
        decision_reason: str,
        assessment: cdd.RiskAssessment,
        owners: Sequence[cdd.BeneficialOwner],
        list_version: str,
        actor: str,
        now_ns: int,
    ) -> None:
        """Insert or replace the customer's CDD record, its parties, documents and beneficial owners."""
        ended = customer.relationship_ended_on
        values = {
            "kind": customer.kind.value,
            "display_name": customer.display_name[:300],
            "status": decision.value,
            "status_reason": decision_reason,
            "risk_rating": assessment.rating.value,
            "edd_flags": ",".join(f.value for f in assessment.edd_flags),
            "next_review_on": assessment.next_review_on,
            "identity_verified": customer.identity_verified,
            "relationship_started_on": customer.relationship_started_on,
            "relationship_ended_on": ended,
            "retention_until": cdd.retention_until(ended) if ended else None,
            "record_json": _dumps(cdd.customer_to_mapping(customer)),
            "list_version": list_version,
            "updated_at_ns": now_ns,
        }
        cid = customer.customer_id
        with self._tx() as conn:
            exists = conn.execute(sa.select(t.customers.c.customer_id).where(t.customers.c.customer_id == cid)).first()
            for table in (t.parties, t.documents, t.ubos):
                conn.execute(sa.delete(table).where(table.c.customer_id == cid))
            if exists:
                conn.execute(sa.update(t.customers).where(t.customers.c.customer_id == cid).values(**values))
            else:
                conn.execute(sa.insert(t.customers).values(customer_id=cid, created_at_ns=now_ns, **values))
            roles: dict[str, list[str]] = {p.party_id: [] for p in customer.parties}
            roles[customer.subject_id].append("subject")
            for d in customer.directors:
                roles[d].append("director")
            for link in customer.ownership:
                if "owner" not in roles[link.owner_id]:
                    roles[link.owner_id].append("owner")
            for o in owners:
                roles[o.party_id].append("beneficial_owner")
            for p in customer.parties:
                country = p.nationality if isinstance(p, cdd.NaturalPerson) else p.incorporation_country
                conn.execute(sa.insert(t.parties).values(
                    customer_id=cid, party_id=p.party_id, kind=p.kind.value, roles=",".join(roles[p.party_id]),
                    names_json=_dumps(list(p.names)),
                    date_of_birth=p.date_of_birth if isinstance(p, cdd.NaturalPerson) else None,
                    country=country or "", pep=isinstance(p, cdd.NaturalPerson) and p.pep,
                ))
                for doc in p.documents:
                    conn.execute(sa.insert(t.documents).values(
                        customer_id=cid, party_id=p.party_id, doc_type=doc.doc_type.value,
                        number_masked=doc.number_masked, number_sha256=doc.number_sha256,
                        issuing_country=doc.issuing_country, expires_on=doc.expires_on, verified=doc.verified,
                    ))
            for o in owners:
                conn.execute(sa.insert(t.ubos).values(
                    customer_id=cid, party_id=o.party_id, effective_share_bps=o.effective_share_bps, basis=o.basis,
                    paths_json=_dumps([list(p) for p in o.paths]),
                ))
            conn.execute(sa.insert(t.risk_assessments).values(
                customer_id=cid, rating=assessment.rating.value, points=assessment.points,
                reasons_json=_dumps([[r.rule, r.points, r.detail] for r in assessment.reasons]),
                edd_flags=",".join(f.value for f in assessment.edd_flags), assessed_on=assessment.assessed_on,
                next_review_on=assessment.next_review_on, rules_version=assessment.rules_version, at_ns=now_ns,
            ))
            _audit(conn, actor, "compliance.customer_recorded", f"customer:{cid}",
                   {"decision": decision.value, "reason": decision_reason, "rating": assessment.rating.value,
                    "points": assessment.points, "list_version": list_version}, now_ns)

    def _stored(self, r: Any) -> StoredCustomer:
        return StoredCustomer(
            customer=cdd.customer_from_mapping(json.loads(r.record_json), self._pepper),
            status=cdd.OnboardingDecision(r.status),
            status_reason=r.status_reason,
            risk_rating=cdd.RiskRating(r.risk_rating),
            edd_flags=tuple(f for f in r.edd_flags.split(",") if f),
            next_review_on=r.next_review_on,
            retention_until=r.retention_until,
            list_version=r.list_version,
        )

    def get_customer(self, customer_id: str) -> StoredCustomer:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.customers).where(t.customers.c.customer_id == customer_id)).first()
        if r is None:
            raise NotFoundError(f"customer {customer_id} not found")
        return self._stored(r)

    def list_customers(self, status: cdd.OnboardingDecision | None = None) -> list[StoredCustomer]:
        stmt = sa.select(t.customers).order_by(t.customers.c.customer_id).limit(list_rows_max)
        if status is not None:
            stmt = stmt.where(t.customers.c.status == status.value)
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
        return [self._stored(r) for r in rows]

    def set_customer_status(
        self, customer_id: str, status: cdd.OnboardingDecision, reason: str, actor: str, now_ns: int
    ) -> None:
        with self._tx() as conn:
            n = conn.execute(sa.update(t.customers).where(t.customers.c.customer_id == customer_id).values(
                status=status.value, status_reason=reason, updated_at_ns=now_ns)).rowcount
            if not n:
                raise NotFoundError(f"customer {customer_id} not found")
            _audit(conn, actor, "compliance.customer_status", f"customer:{customer_id}",
                   {"status": status.value, "reason": reason}, now_ns)

    def set_list_version(self, customer_id: str, list_version: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.update(t.customers).where(t.customers.c.customer_id == customer_id).values(
                list_version=list_version))

    def end_relationship(self, customer_id: str, ended_on: date, actor: str, now_ns: int) -> date:
        stored = self.get_customer(customer_id)
        customer = stored.customer.ended(ended_on)
        until = cdd.retention_until(ended_on)
        with self._tx() as conn:
            conn.execute(sa.update(t.customers).where(t.customers.c.customer_id == customer_id).values(
                relationship_ended_on=ended_on, retention_until=until,
                record_json=_dumps(cdd.customer_to_mapping(customer)), updated_at_ns=now_ns))
            _audit(conn, actor, "compliance.relationship_ended", f"customer:{customer_id}",
                   {"ended_on": ended_on.isoformat(), "retention_until": until.isoformat()}, now_ns)
        return until

    def delete_customer(self, customer_id: str, today: date, actor: str, now_ns: int) -> None:
        """Delete the CDD records of a customer; refused (RefusedError) before the retention date."""
        with self._tx() as conn:
            r = conn.execute(sa.select(t.customers.c.relationship_ended_on).where(
                t.customers.c.customer_id == customer_id)).first()
            if r is None:
                raise NotFoundError(f"customer {customer_id} not found")
            cdd.check_deletion_allowed(customer_id, r.relationship_ended_on, today)
            for table in (t.parties, t.documents, t.ubos, t.risk_assessments):
                conn.execute(sa.delete(table).where(table.c.customer_id == customer_id))
            conn.execute(sa.delete(t.screening_results).where(t.screening_results.c.subject_id == customer_id))
            conn.execute(sa.delete(t.false_positives).where(t.false_positives.c.customer_id == customer_id))
            conn.execute(sa.delete(t.customers).where(t.customers.c.customer_id == customer_id))
            _audit(conn, actor, "compliance.customer_deleted", f"customer:{customer_id}",
                   {"ended_on": r.relationship_ended_on.isoformat(), "today": today.isoformat()}, now_ns)

    def beneficial_owners(self, customer_id: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.ubos, t.parties.c.names_json).join(
                t.parties, sa.and_(t.parties.c.customer_id == t.ubos.c.customer_id,
                                   t.parties.c.party_id == t.ubos.c.party_id)
            ).where(t.ubos.c.customer_id == customer_id).order_by(t.ubos.c.party_id)).all()
        return [{"party_id": r.party_id, "names": json.loads(r.names_json),
                 "effective_share_bps": r.effective_share_bps, "basis": r.basis} for r in rows]

    def latest_assessment(self, customer_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.risk_assessments).where(t.risk_assessments.c.customer_id == customer_id)
                             .order_by(t.risk_assessments.c.id.desc()).limit(1)).first()
        if r is None:
            raise NotFoundError(f"no risk assessment for customer {customer_id}")
        return {"rating": r.rating, "points": r.points,
                "reasons": [{"rule": a, "points": b, "detail": c} for a, b, c in json.loads(r.reasons_json)],
                "edd_flags": [f for f in r.edd_flags.split(",") if f], "assessed_on": r.assessed_on.isoformat(),
                "next_review_on": r.next_review_on.isoformat(), "rules_version": r.rules_version}

    # --- screening -------------------------------------------------------------------------------------------

    def add_screening(self, record: ScreeningRecord) -> None:
        with self._tx() as conn:
            conn.execute(sa.insert(t.screening_results).values(
                subject_id=record.subject_id, party_id=record.party_id, context=record.context,
                list_version=record.list_version, decision=record.decision.value,
                hits_json=_dumps([_hit_json(h) for h in record.hits]),
                suppressed_json=_dumps([_hit_json(h) for h in record.suppressed]),
                screened_at_ns=record.screened_at_ns,
            ))

    def screenings(self, subject_id: str) -> list[ScreeningRecord]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.screening_results).where(t.screening_results.c.subject_id == subject_id)
                                .order_by(t.screening_results.c.id).limit(list_rows_max)).all()
        return [ScreeningRecord(r.subject_id, r.party_id, r.context, r.list_version, ScreeningDecision(r.decision),
                                tuple(hit_from_json(h) for h in json.loads(r.hits_json)),
                                tuple(hit_from_json(h) for h in json.loads(r.suppressed_json)), r.screened_at_ns)
                for r in rows]

    def add_false_positive(self, review: ReviewedFalsePositive) -> None:
        with self._tx() as conn:
            try:
                conn.execute(sa.insert(t.false_positives).values(
                    customer_id=review.customer_id, entity_id=review.entity_id,
                    entity_fingerprint=review.entity_fingerprint, reviewed_by=review.reviewed_by,
                    reason=review.reason, reviewed_at_ns=review.reviewed_at_ns))
            except IntegrityError:
                raise ConflictError(f"{review.customer_id} / {review.entity_id} is already reviewed") from None
            _audit(conn, review.reviewed_by, "compliance.false_positive", f"customer:{review.customer_id}",
                   {"entity_id": review.entity_id, "fingerprint": review.entity_fingerprint,
                    "reason": review.reason}, review.reviewed_at_ns)

    def false_positives(self, customer_id: str) -> list[ReviewedFalsePositive]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.false_positives).where(
                t.false_positives.c.customer_id == customer_id)).all()
        return [ReviewedFalsePositive(r.customer_id, r.entity_id, r.entity_fingerprint, r.reviewed_by, r.reason,
                                      r.reviewed_at_ns) for r in rows]

    def get_state(self, key: str) -> str | None:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.state.c.value).where(t.state.c.key == key)).first()
        return None if r is None else str(r.value)

    def set_state(self, key: str, value: str) -> None:
        with self._tx() as conn:
            if not conn.execute(sa.update(t.state).where(t.state.c.key == key).values(value=value)).rowcount:
                conn.execute(sa.insert(t.state).values(key=key, value=value))

    # --- monitoring ------------------------------------------------------------------------------------------

    def put_events(self, events: Iterable[mon.MonitoredEvent]) -> int:
        """Insert events not yet stored (same id = same event); returns how many were new."""
        batch = list(events)
        if not batch:
            return 0
        with self._tx() as conn:
            known: set[str] = set()
            ids = [e.event_id for e in batch]
            for i in range(0, len(ids), 500):
                known.update(r.event_id for r in conn.execute(
                    sa.select(t.events.c.event_id).where(t.events.c.event_id.in_(ids[i:i + 500]))))
            rows = [
                {"event_id": e.event_id, "kind": e.kind.value, "at_ns": e.at_ns, "amount_hkd_minor": e.amount_hkd_minor,
                 "customer_id": e.customer_id, "from_address": e.from_address, "to_address": e.to_address,
                 "counterparty": e.counterparty}
                for e in batch if e.event_id not in known
            ]
            if rows:
                conn.execute(sa.insert(t.events), rows)
        return len(rows)

    def get_events(self, event_ids: Sequence[str]) -> list[mon.MonitoredEvent]:
        out: list[mon.MonitoredEvent] = []
        with self._tx() as conn:
            for i in range(0, len(event_ids), 500):
                for r in conn.execute(sa.select(t.events).where(t.events.c.event_id.in_(event_ids[i:i + 500]))):
                    out.append(mon.MonitoredEvent(r.event_id, mon.EventKind(r.kind), r.at_ns, r.amount_hkd_minor,
                                                  r.customer_id, r.from_address, r.to_address, r.counterparty))
        return sorted(out, key=lambda e: (e.at_ns, e.event_id))

    def last_seen(self, subjects: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(subjects))
        found: dict[str, int] = {}
        with self._tx() as conn:
            for i in range(0, len(wanted), 500):
                for r in conn.execute(sa.select(t.last_seen).where(t.last_seen.c.subject.in_(wanted[i:i + 500]))):
                    found[r.subject] = int(r.at_ns)
        return found

    def set_last_seen(self, seen: Mapping[str, int]) -> None:
        with self._tx() as conn:
            for subject, at_ns in seen.items():
                updated = conn.execute(sa.update(t.last_seen).where(
                    t.last_seen.c.subject == subject, t.last_seen.c.at_ns < at_ns).values(at_ns=at_ns)).rowcount
                if not updated and not conn.execute(
                        sa.select(t.last_seen.c.subject).where(t.last_seen.c.subject == subject)).first():
                    conn.execute(sa.insert(t.last_seen).values(subject=subject, at_ns=at_ns))

    def put_alerts(self, alerts: Iterable[mon.Alert], now_ns: int) -> list[mon.Alert]:
        """Store alerts not seen before (ids are deterministic); returns the new ones."""
        new: list[mon.Alert] = []
        with self._tx() as conn:
            for a in alerts:
                if conn.execute(sa.select(t.alerts.c.alert_id).where(t.alerts.c.alert_id == a.alert_id)).first():
                    continue
                conn.execute(sa.insert(t.alerts).values(
                    alert_id=a.alert_id, rule=a.rule.value, subject=a.subject, severity=a.severity.value,
                    summary=a.summary, event_ids_json=_dumps(list(a.event_ids)), facts_json=_dumps(list(a.facts)),
                    first_at_ns=a.first_at_ns, last_at_ns=a.last_at_ns, total_hkd_minor=a.total_hkd_minor,
                    case_id=None, created_at_ns=now_ns))
                new.append(a)
        return new

    @staticmethod
    def _alert(r: Any) -> mon.Alert:
        return mon.Alert(r.alert_id, mon.RuleName(r.rule), r.subject, mon.Severity(r.severity), r.summary,
                         tuple(json.loads(r.event_ids_json)), tuple((k, v) for k, v in json.loads(r.facts_json)),
                         r.first_at_ns, r.last_at_ns, r.total_hkd_minor)

    def get_alerts(self, alert_ids: Sequence[str]) -> list[mon.Alert]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.alerts).where(t.alerts.c.alert_id.in_(list(alert_ids)))).all()
        by_id = {r.alert_id: self._alert(r) for r in rows}
        missing = [a for a in alert_ids if a not in by_id]
        if missing:
            raise NotFoundError(f"alerts not found: {', '.join(missing)}")
        return [by_id[a] for a in alert_ids]

    def list_alerts(self, without_case: bool = False) -> list[tuple[mon.Alert, str | None]]:
        stmt = sa.select(t.alerts).order_by(t.alerts.c.first_at_ns, t.alerts.c.alert_id).limit(list_rows_max)
        if without_case:
            stmt = stmt.where(t.alerts.c.case_id.is_(None))
        with self._tx() as conn:
            rows = conn.execute(stmt).all()
        return [(self._alert(r), r.case_id) for r in rows]

    # --- cases -----------------------------------------------------------------------------------------------

    def save_case(self, case: cs.Case, event: cs.CaseEvent) -> None:
        """Insert or update the case (optimistic: the stored seq must be the one before) and record its event."""
        values = {
            "subject": case.subject, "customer_id": case.customer_id, "state": case.state.value,
            "severity": case.severity.value, "alert_ids_json": _dumps(list(case.alert_ids)),
            "opened_by": case.opened_by, "opened_at_ns": case.opened_at_ns, "updated_at_ns": case.updated_at_ns,
            "seq": case.seq, "assignee": case.assignee, "escalated_to": case.escalated_to,
            "close_reason": case.close_reason.value if case.close_reason else None, "str_exported": case.str_exported,
        }
        with self._tx() as conn:
            if event.seq == 1:
                try:
                    conn.execute(sa.insert(t.cases).values(case_id=case.case_id, **values))
                except IntegrityError:
                    raise ConflictError(f"case {case.case_id} already exists") from None
            else:
                n = conn.execute(sa.update(t.cases).where(
                    t.cases.c.case_id == case.case_id, t.cases.c.seq == case.seq - 1).values(**values)).rowcount
                if n != 1:
                    raise ConflictError(f"case {case.case_id} changed meanwhile; reload and retry")
            conn.execute(sa.insert(t.case_events).values(
                case_id=event.case_id, seq=event.seq, at_ns=event.at_ns, actor=event.actor,
                action=event.action.value, details_json=_dumps(dict(event.details))))
            if event.action in (cs.CaseAction.OPENED, cs.CaseAction.ALERT_LINKED):
                conn.execute(sa.update(t.alerts).where(t.alerts.c.alert_id.in_(list(case.alert_ids)),
                                                       t.alerts.c.case_id.is_(None)).values(case_id=case.case_id))
            _audit(conn, event.actor, f"case.{event.action.value}", f"case:{case.case_id}",
                   {"seq": event.seq, "state": case.state.value, **dict(event.details)}, event.at_ns)

    @staticmethod
    def _case(r: Any) -> cs.Case:
        return cs.Case(
            case_id=r.case_id, subject=r.subject, state=cs.CaseState(r.state), severity=mon.Severity(r.severity),
            alert_ids=tuple(json.loads(r.alert_ids_json)), opened_by=r.opened_by, opened_at_ns=r.opened_at_ns,
            updated_at_ns=r.updated_at_ns, seq=r.seq, assignee=r.assignee, escalated_to=r.escalated_to,
            close_reason=cs.CloseReason(r.close_reason) if r.close_reason else None, customer_id=r.customer_id,
            str_exported=bool(r.str_exported),
        )

    def get_case(self, case_id: str) -> cs.Case:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.cases).where(t.cases.c.case_id == case_id)).first()
        if r is None:
            raise NotFoundError(f"case {case_id} not found")
        return self._case(r)

    def list_cases(self, state: cs.CaseState | None = None) -> list[cs.Case]:
        stmt = sa.select(t.cases).order_by(t.cases.c.opened_at_ns, t.cases.c.case_id).limit(list_rows_max)
        if state is not None:
            stmt = stmt.where(t.cases.c.state == state.value)
        with self._tx() as conn:
            return [self._case(r) for r in conn.execute(stmt).all()]

    def case_events(self, case_id: str) -> list[cs.CaseEvent]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(t.case_events).where(t.case_events.c.case_id == case_id)
                                .order_by(t.case_events.c.seq)).all()
        return [cs.CaseEvent(r.case_id, r.seq, r.at_ns, r.actor, cs.CaseAction(r.action),
                             tuple(json.loads(r.details_json).items())) for r in rows]

    def case_count(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one())

    def save_freeze(self, request: cs.FreezeRequest) -> None:
        values = {
            "case_id": request.case_id, "addresses_json": _dumps(list(request.addresses)), "reason": request.reason,
            "requested_by": request.requested_by, "requested_at_ns": request.requested_at_ns,
            "state": request.state.value, "decided_by": request.decided_by, "decided_at_ns": request.decided_at_ns,
            "decision_note": request.decision_note, "chain_tx_hash": request.chain_tx_hash,
        }
        with self._tx() as conn:
            if not conn.execute(sa.update(t.freeze_requests).where(
                    t.freeze_requests.c.request_id == request.request_id).values(**values)).rowcount:
                conn.execute(sa.insert(t.freeze_requests).values(request_id=request.request_id, **values))

    @staticmethod
    def _freeze(r: Any) -> cs.FreezeRequest:
        return cs.FreezeRequest(r.request_id, r.case_id, tuple(json.loads(r.addresses_json)), r.reason,
                                r.requested_by, r.requested_at_ns, cs.FreezeState(r.state), r.decided_by,
                                r.decided_at_ns, r.decision_note, r.chain_tx_hash)

    def get_freeze(self, request_id: str) -> cs.FreezeRequest:
        with self._tx() as conn:
            r = conn.execute(sa.select(t.freeze_requests).where(
                t.freeze_requests.c.request_id == request_id)).first()
        if r is None:
            raise NotFoundError(f"freeze request {request_id} not found")
        return self._freeze(r)

    def list_freezes(self, case_id: str | None = None) -> list[cs.FreezeRequest]:
        stmt = sa.select(t.freeze_requests).order_by(t.freeze_requests.c.requested_at_ns).limit(list_rows_max)
        if case_id is not None:
            stmt = stmt.where(t.freeze_requests.c.case_id == case_id)
        with self._tx() as conn:
            return [self._freeze(r) for r in conn.execute(stmt).all()]

    def put_str(self, report_id: str, case_id: str, body: Mapping[str, Any], sha256: str, actor: str,
                now_ns: int) -> None:
        with self._tx() as conn:
            if conn.execute(sa.select(t.strs.c.report_id).where(t.strs.c.report_id == report_id)).first():
                raise ConflictError(f"report {report_id} already exists")
            conn.execute(sa.insert(t.strs).values(report_id=report_id, case_id=case_id, created_by=actor,
                                                  created_at_ns=now_ns, sha256=sha256, body_json=_dumps(body)))

    def str_count(self, case_id: str) -> int:
        with self._tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.strs).where(
                t.strs.c.case_id == case_id)).scalar_one())
