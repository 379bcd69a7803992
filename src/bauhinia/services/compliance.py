"""Compliance use cases: onboard (CDD + screening), re-screen on list changes, review false positives, screen a
payment counterparty, run monitoring over a batch of events, and handle cases (assign, note, escalate, close,
export an STR, request / approve a wallet freeze).

Every function takes what it needs explicitly (the store, the screener, the chain, `now_ns`, `today`) so the
bootstrap and the entry points wire them. The second-person rule for freezes is enforced in domain.cases, so it
holds whether or not the maker-checker approvals service is wired in front of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import monitoring as mon
from bauhinia.domain.compliance import (
    PartySchema,
    ReviewedFalsePositive,
    ScreeningDecision,
    ScreeningHit,
    ScreeningOutcome,
    WalletAssessment,
    WalletDecision,
    best_hits,
    decide_screening,
    is_strong_hit,
)
from bauhinia.domain.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from bauhinia.ports import ChainFreezer, ComplianceStore, Screener

LIST_VERSION_KEY = "screened_list_version"
SIGNOFF_KEY = "cdd_senior_signoff:"  # + customer id -> who signed the acceptance of a high-risk or PEP customer
SIGNOFF_PENDING = "high-risk or PEP customer: acceptance awaits a senior officer's sign-off"
hits_per_party_max = 10
customers_per_rescreen_max = 1_000_000


# ---------------------------------------------------------------------------------------------------------------
# Screening a party
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyScreening:
    party_id: str
    outcome: ScreeningOutcome


def screen_party(
    screener: Screener, customer_id: str, party: cdd.Party, reviewed: Sequence[ReviewedFalsePositive] = ()
) -> ScreeningOutcome:
    """Every name of the party, with date of birth and nationality as evidence; reviewed false positives of this
    customer suppress their entity while its listed record is unchanged."""
    hits: list[ScreeningHit] = []
    for name in party.names:
        if isinstance(party, cdd.NaturalPerson):
            dob = party.date_of_birth.isoformat() if party.date_of_birth else ""
            hits.extend(screener.screen_name(name, PartySchema.PERSON, dob, party.nationality))
        else:
            hits.extend(screener.screen_name(name, PartySchema.COMPANY, "", party.incorporation_country))
    return decide_screening(customer_id, best_hits(hits, hits_per_party_max) if hits else (), reviewed)


@dataclass(frozen=True, slots=True)
class ScreeningRecordData:
    """What the store records for one screening (same fields as the repository's ScreeningRecord)."""

    subject_id: str
    party_id: str
    context: str
    list_version: str
    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]
    suppressed: tuple[ScreeningHit, ...]
    screened_at_ns: int


def _screen_all_parties(
    store: ComplianceStore, screener: Screener, customer: cdd.Customer, context: str, now_ns: int
) -> list[PartyScreening]:
    reviewed = store.false_positives(customer.customer_id)
    results: list[PartyScreening] = []
    for party in customer.parties:
        outcome = screen_party(screener, customer.customer_id, party, reviewed)
        results.append(PartyScreening(party.party_id, outcome))
        store.add_screening(ScreeningRecordData(
            customer.customer_id, party.party_id, context, screener.list_version, outcome.decision,
            outcome.hits, outcome.suppressed, now_ns,
        ))
    return results


def _worst(results: Iterable[PartyScreening]) -> tuple[cdd.OnboardingDecision, str]:
    results = list(results)
    decision, reason = cdd.decide_onboarding(r.outcome.decision for r in results)
    named = [
        f"{r.party_id} ~ {h.entity_id} '{h.matched_name}' ({h.score:.2f})"
        for r in results for h in r.outcome.hits[:1]
    ]
    if named:
        reason += ": " + "; ".join(named)
    return decision, reason


# ---------------------------------------------------------------------------------------------------------------
# Onboarding
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnboardingResult:
    customer_id: str
    decision: cdd.OnboardingDecision
    reason: str
    assessment: cdd.RiskAssessment
    owners: tuple[cdd.BeneficialOwner, ...]
    screening: tuple[PartyScreening, ...]


def onboard_customer(
    store: ComplianceStore,
    screener: Screener,
    customer: cdd.Customer,
    *,
    actor: str,
    now_ns: int,
    today: date,
    rules: cdd.RiskRules = cdd.DEFAULT_RISK_RULES,
) -> OnboardingResult:
    """CDD (beneficial owners, risk rating, review date) and screening of every party. A sanctioned party is
    refused; a possible match is held for a compliance officer. The record is kept whatever the decision."""
    try:
        store.get_customer(customer.customer_id)
    except NotFoundError:
        pass
    else:
        raise ConflictError(f"customer {customer.customer_id} is already onboarded", code="customer_exists")
    owners = cdd.beneficial_owners(customer)
    assessment = cdd.assess_risk(customer, today, rules)
    with store.transaction() as tx:
        results = _screen_all_parties(tx, screener, customer, "onboarding", now_ns)
        decision, reason = _worst(results)
        if decision is cdd.OnboardingDecision.ACCEPTED and cdd.needs_senior_approval(assessment.rating,
                                                                                      assessment.edd_flags):
            decision, reason = cdd.OnboardingDecision.HELD, f"{SIGNOFF_PENDING} ({reason})"
        tx.put_customer(customer, decision, reason, assessment, owners, screener.list_version, actor, now_ns)
    return OnboardingResult(customer.customer_id, decision, reason, assessment, owners, tuple(results))


# ---------------------------------------------------------------------------------------------------------------
# Re-screening
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChange:
    customer_id: str
    before: cdd.OnboardingDecision
    after: cdd.OnboardingDecision
    reason: str


@dataclass(frozen=True, slots=True)
class RescreenResult:
    list_version: str
    skipped: bool  # lists unchanged since the last re-screen
    screened: int
    changes: tuple[StatusChange, ...] = field(default=())


def _rescreen_one(
    store: ComplianceStore, screener: Screener, stored: Any, actor: str, now_ns: int, context: str,
    lift_refusal: bool = False,
) -> StatusChange | None:
    customer: cdd.Customer = stored.customer
    with store.transaction() as tx:
        results = _screen_all_parties(tx, screener, customer, context, now_ns)
        decision, reason = _worst(results)
        before: cdd.OnboardingDecision = stored.status
        # A refusal stands until a person lifts it (two officers dismissing the hit); otherwise the current
        # screening decides.
        after = before if before is cdd.OnboardingDecision.REFUSED and not lift_refusal else decision
        if after is cdd.OnboardingDecision.ACCEPTED and signoff_missing(tx, customer.customer_id):
            after, reason = cdd.OnboardingDecision.HELD, f"{SIGNOFF_PENDING} ({reason})"
        tx.set_list_version(customer.customer_id, screener.list_version)
        if after is not before:
            tx.set_customer_status(customer.customer_id, after, f"{context}: {reason}", actor, now_ns)
            return StatusChange(customer.customer_id, before, after, reason)
    return None


def signoff_missing(store: ComplianceStore, customer_id: str) -> bool:
    """True when the customer is high-risk or PEP and no senior officer has signed its acceptance yet."""
    try:
        assessment = store.latest_assessment(customer_id)
    except NotFoundError:
        return False
    if not cdd.needs_senior_approval(assessment["rating"], assessment["edd_flags"]):
        return False
    return not store.get_state(SIGNOFF_KEY + customer_id)


def screening_is_clean(store: ComplianceStore, customer: cdd.Customer) -> bool:
    """Each party's latest screening record is clear (hits a reviewed false positive covers do not count)."""
    records = store.screenings(customer.customer_id)
    latest: dict[str, Any] = {}
    for record in records:
        latest[record.party_id] = record
    return all(p.party_id in latest and latest[p.party_id].decision is ScreeningDecision.CLEAR
               for p in customer.parties)


def accept_with_signoff(
    store: ComplianceStore, screener: Screener, customer_id: str, *, maker: str, approver: str, approval: str,
    now_ns: int,
) -> StatusChange | None:
    """A senior officer (not the one who onboarded) signs the acceptance of a high-risk or PEP customer held for
    it; the customer is screened again and accepted only when every party is clear."""
    stored = store.get_customer(customer_id)
    if not approver or approver == maker:
        raise ForbiddenError("a high-risk customer's acceptance needs a second person's sign-off",
                             code="four_eyes")
    if stored.status is not cdd.OnboardingDecision.HELD:
        raise ConflictError(f"customer {customer_id} is {stored.status.value}, not held for sign-off",
                            code="invalid_transition")
    store.set_state(SIGNOFF_KEY + customer_id, f"{approver} via {approval}"[:300])
    return _rescreen_one(store, screener, stored, approver, now_ns, "senior sign-off")


def rescreen_all(
    store: ComplianceStore, screener: Screener, *, actor: str, now_ns: int, force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RescreenResult:
    """Screen every customer again when the lists changed since the last run (or always, with `force`).
    A customer listed after onboarding moves to refused (hit) or held (possible match). `progress(done, total)`,
    when given, is told after each customer (a progress bar)."""
    version = screener.list_version
    if not force and store.get_state(LIST_VERSION_KEY) == version:
        return RescreenResult(version, True, 0)
    changes: list[StatusChange] = []
    customers = store.list_customers()
    if len(customers) > customers_per_rescreen_max:
        raise ValidationError(f"more than {customers_per_rescreen_max} customers in one re-screen")
    for done, stored in enumerate(customers, start=1):
        if progress is not None:
            progress(done, len(customers))
        if stored.customer.relationship_ended_on is not None:
            continue
        change = _rescreen_one(store, screener, stored, actor, now_ns, "rescreen")
        if change is not None:
            changes.append(change)
    store.set_state(LIST_VERSION_KEY, version)
    return RescreenResult(version, False, len(customers), tuple(changes))


@dataclass(frozen=True, slots=True)
class DeltaRescreenResult:
    list_version: str
    customers_screened: int
    names_screened: int  # subjects known only by name (e.g. issuance customers without a CDD record)
    wallets_screened: int
    changes: tuple[StatusChange, ...]
    alerts: tuple[mon.Alert, ...]  # new alerts only
    cases_opened: tuple[str, ...]
    cases_updated: tuple[str, ...]
    # what enforcement acts on: (customer or named subject, strong hit) now a hit, (address, customer) now blocked
    hits: tuple[tuple[str, bool], ...] = ()
    blocked_wallets: tuple[tuple[str, str], ...] = ()


_RANK = {cdd.OnboardingDecision.ACCEPTED: 0, cdd.OnboardingDecision.HELD: 1, cdd.OnboardingDecision.REFUSED: 2}
delta_subjects_max = 1_000_000


def _list_alert(subject: str, severity: mon.Severity, summary: str, version: str, now_ns: int,
                facts: tuple[tuple[str, str], ...]) -> mon.Alert:
    rule = mon.RuleName.LISTED_EXPOSURE
    event_ids = (f"list-update:{version}:{subject}",)
    return mon.Alert(mon.alert_id_for(rule, subject, event_ids), rule, subject, severity, summary[:500], event_ids,
                     (("list_version", version), *facts), now_ns, now_ns, 0)


def rescreen_delta(
    store: ComplianceStore,
    delta: Screener,
    *,
    wallets: Sequence[tuple[str, str]] = (),
    names: Sequence[tuple[str, str]] = (),
    actor: str,
    now_ns: int,
) -> DeltaRescreenResult:
    """After a list update: screen every active customer (each party, recorded with the new list version),
    every `(subject, name)` known only by name and every `(address, customer id)` wallet against `delta`, a
    screener over the entities and addresses the update added or changed. A match only ever tightens a
    customer's status (accepted -> held -> refused; nothing is cleared here) and raises a listed-exposure alert
    that opens, or joins, the subject's case."""
    version = delta.list_version
    customers = store.list_customers()
    if len(customers) + len(names) + len(wallets) > delta_subjects_max:
        raise ValidationError(f"more than {delta_subjects_max} subjects in one list-update re-screen")
    changes: list[StatusChange] = []
    alerts: list[mon.Alert] = []
    now_hits: list[tuple[str, bool]] = []
    blocked: list[tuple[str, str]] = []
    screened = 0
    for stored in customers:
        customer: cdd.Customer = stored.customer
        if customer.relationship_ended_on is not None:
            continue
        screened += 1
        with store.transaction() as tx:
            results = _screen_all_parties(tx, delta, customer, "list-update", now_ns)
            tx.set_list_version(customer.customer_id, version)
            decision, reason = _worst(results)
            before: cdd.OnboardingDecision = stored.status
            if decision is cdd.OnboardingDecision.ACCEPTED:
                continue
            if _RANK[decision] > _RANK[before]:
                tx.set_customer_status(customer.customer_id, decision, f"list update {version}: {reason}", actor,
                                       now_ns)
                changes.append(StatusChange(customer.customer_id, before, decision, reason))
            if decision is cdd.OnboardingDecision.REFUSED:
                now_hits.append((customer.customer_id,
                             any(is_strong_hit(h) for r in results for h in r.outcome.hits)))
        severity = mon.Severity.HIGH if decision is cdd.OnboardingDecision.REFUSED else mon.Severity.MEDIUM
        alerts.append(_list_alert(customer.customer_id, severity, f"list update {version}: {reason}", version,
                                  now_ns, (("before", before.value), ("after", decision.value))))
    for subject, name in names:
        hits = delta.screen_name(name)
        outcome = decide_screening(subject, best_hits(hits, hits_per_party_max) if hits else (),
                                   store.false_positives(subject))
        store.add_screening(ScreeningRecordData(subject, subject, "list-update", version, outcome.decision,
                                                outcome.hits, outcome.suppressed, now_ns))
        if outcome.decision is ScreeningDecision.CLEAR:
            continue
        best = outcome.hits[0]
        if outcome.decision is ScreeningDecision.HIT:
            now_hits.append((subject, any(is_strong_hit(h) for h in outcome.hits)))
        severity = mon.Severity.HIGH if outcome.decision is ScreeningDecision.HIT else mon.Severity.MEDIUM
        alerts.append(_list_alert(subject, severity, f"list update {version}: {name!r} ~ {best.entity_id} "
                                  f"'{best.matched_name}' ({best.score:.2f})", version, now_ns,
                                  (("decision", outcome.decision.value), ("entity_id", best.entity_id))))
    for address, customer_id in wallets:
        assessment = delta.screen_wallet(address)
        if assessment.decision is WalletDecision.CLEAR:
            continue
        if assessment.decision is WalletDecision.BLOCK:
            blocked.append((assessment.address, customer_id))
        severity = mon.Severity.HIGH if assessment.decision is WalletDecision.BLOCK else mon.Severity.MEDIUM
        alerts.append(_list_alert(assessment.address, severity,
                                  f"list update {version}: wallet of {customer_id or 'unknown'} "
                                  f"{assessment.decision.value}: {'; '.join(assessment.reasons)}", version, now_ns,
                                  (("customer_id", customer_id), ("decision", assessment.decision.value))))
    opened: list[str] = []
    updated: list[str] = []
    with store.transaction() as tx:
        new_alerts = tx.put_alerts(alerts, now_ns)
        open_by_subject = {c.subject: c for c in tx.list_cases() if c.is_open}
        for alert in new_alerts:
            case = open_by_subject.get(alert.subject)
            if case is None:
                customer_id = "" if alert.subject.lower().startswith("0x") else alert.subject
                case, event = cs.open_case(_next_case_id(tx), [alert], actor, now_ns, customer_id)
                tx.save_case(case, event)
                open_by_subject[alert.subject] = case
                opened.append(case.case_id)
                continue
            case, event = cs.link_alert(case, alert, actor, now_ns)
            tx.save_case(case, event)
            open_by_subject[alert.subject] = case
            updated.append(case.case_id)
    store.set_state(LIST_VERSION_KEY, version)
    return DeltaRescreenResult(version, screened, len(names), len(wallets), tuple(changes), tuple(new_alerts),
                               tuple(opened), tuple(dict.fromkeys(c for c in updated if c not in opened)),
                               tuple(now_hits), tuple(blocked))


def review_false_positive(
    store: ComplianceStore,
    screener: Screener,
    customer_id: str,
    entity_id: str,
    *,
    reviewer: str,
    reason: str,
    now_ns: int,
    second_reviewer: str = "",
) -> StatusChange | None:
    """A compliance officer found `entity_id` is not this customer: remember it (for this customer and this
    version of the listed record) and decide the customer's status again. A strong hit (domain
    `is_strong_hit`: an exact name with the same date of birth, or a score at the strong threshold) needs a
    second officer (`second_reviewer`, who approved the `screening_dismissal` request)."""
    stored = store.get_customer(customer_id)
    found = find_open_hit(store, customer_id, entity_id)
    if found is None:
        raise NotFoundError(f"customer {customer_id} has no open screening hit on {entity_id}")
    fingerprint = found.entity_fingerprint
    if is_strong_hit(found) and (not second_reviewer or second_reviewer == reviewer):
        raise ForbiddenError(f"the hit on {entity_id} is strong ({found.score:.2f}): dismissing it needs a second "
                             "compliance officer", code="second_officer_required")
    if second_reviewer:
        reviewer = f"{reviewer} + {second_reviewer}"
    store.add_false_positive(ReviewedFalsePositive(customer_id, entity_id, fingerprint, reviewer, reason, now_ns))
    return _rescreen_one(store, screener, stored, reviewer, now_ns, "review", lift_refusal=bool(second_reviewer))


def find_open_hit(store: ComplianceStore, customer_id: str, entity_id: str) -> ScreeningHit | None:
    """The latest recorded hit of the customer on `entity_id` (None when there is none)."""
    for record in reversed(store.screenings(customer_id)):
        for hit in record.hits:
            if hit.entity_id == entity_id:
                return hit
    return None


# ---------------------------------------------------------------------------------------------------------------
# Payment counterparties and occasional transactions
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterpartyResult:
    payment_id: str
    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]
    wallet: WalletAssessment | None

    @property
    def blocked(self) -> bool:
        return self.decision is ScreeningDecision.HIT or (
            self.wallet is not None and self.wallet.decision is WalletDecision.BLOCK
        )

    @property
    def needs_review(self) -> bool:
        return not self.blocked and (
            self.decision is ScreeningDecision.REVIEW
            or (self.wallet is not None and self.wallet.decision is WalletDecision.ALERT)
        )


def screen_counterparty(
    store: ComplianceStore,
    screener: Screener,
    *,
    payment_id: str,
    name: str,
    schema: PartySchema | None = None,
    date_of_birth: str = "",
    nationality: str = "",
    wallet_address: str = "",
    now_ns: int,
) -> CounterpartyResult:
    """Screen the other side of a payment by name (and wallet, when there is one); the result is recorded."""
    if not payment_id:
        raise ValidationError("a counterparty screening needs the payment id")
    hits = screener.screen_name(name, schema, date_of_birth, nationality)
    outcome = decide_screening(f"payment:{payment_id}", hits, store.false_positives(f"counterparty:{name}"))
    wallet = screener.screen_wallet(wallet_address) if wallet_address else None
    store.add_screening(ScreeningRecordData(
        f"payment:{payment_id}", "counterparty", "counterparty", screener.list_version, outcome.decision,
        outcome.hits, outcome.suppressed, now_ns,
    ))
    return CounterpartyResult(payment_id, outcome.decision, outcome.hits, wallet)


def check_occasional_transaction(
    store: ComplianceStore, customer_id: str, amount_hkd_minor: int, linked_amounts_hkd_minor: Sequence[int] = ()
) -> None:
    """Refuse an occasional transaction of HK$8,000 or more for a customer whose identity is not verified."""
    stored = store.get_customer(customer_id)
    cdd.check_occasional_transaction(amount_hkd_minor, stored.customer.identity_verified, linked_amounts_hkd_minor)


def delete_customer(store: ComplianceStore, customer_id: str, *, actor: str, today: date, now_ns: int) -> None:
    """Delete a customer's records: refused before five years after the relationship ended."""
    stored = store.get_customer(customer_id)
    cdd.check_deletion_allowed(customer_id, stored.customer.relationship_ended_on, today)
    store.delete_customer(customer_id, today, actor, now_ns)


# ---------------------------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitoringRun:
    events_new: int
    alerts: tuple[mon.Alert, ...]  # new alerts (already known ones are not repeated)
    cases_opened: tuple[str, ...]
    cases_updated: tuple[str, ...]


def _listed_in(screener: Screener, events: Sequence[mon.MonitoredEvent]) -> dict[str, str]:
    """Addresses of the window that the wallet screening blocks (OFAC digital currency addresses, blacklist)."""
    listed: dict[str, str] = {}
    for address in {a for e in events for a in (e.from_address, e.to_address) if a}:
        assessment = screener.screen_wallet(address)
        if assessment.decision is WalletDecision.BLOCK:
            listed[assessment.address] = "; ".join(assessment.reasons)
    return listed


def _next_case_id(store: ComplianceStore) -> str:
    return f"CASE-{store.case_count() + 1:06d}"


def run_monitoring(
    store: ComplianceStore,
    screener: Screener,
    events: Sequence[mon.MonitoredEvent],
    *,
    now_ns: int,
    config: mon.MonitoringConfig | None = None,
    actor: str = "monitoring",
    open_cases: bool = True,
) -> MonitoringRun:
    """Evaluate the rules over a batch (with what the store knows of earlier activity); new alerts open a case
    per subject, or join the subject's open case."""
    subjects = {f.subject for e in events for f in mon.flows(e)}
    previous = store.last_seen(subjects)
    result = mon.evaluate(events, config, _listed_in(screener, events), previous)
    opened: list[str] = []
    updated: list[str] = []
    with store.transaction() as tx:
        new_events = tx.put_events(events)
        new_alerts = tx.put_alerts(result.alerts, now_ns)
        tx.set_last_seen({s: v for s, v in result.last_seen_ns.items() if s in subjects})
        if open_cases and new_alerts:
            open_by_subject = {c.subject: c for c in tx.list_cases() if c.is_open}
            grouped: dict[str, list[mon.Alert]] = {}
            for alert in new_alerts:
                grouped.setdefault(alert.subject, []).append(alert)
            for subject, alerts in grouped.items():
                case = open_by_subject.get(subject)
                if case is None:
                    customer_id = "" if subject.lower().startswith("0x") else subject
                    case, event = cs.open_case(_next_case_id(tx), alerts, actor, now_ns, customer_id)
                    tx.save_case(case, event)
                    opened.append(case.case_id)
                    continue
                for alert in alerts:
                    case, event = cs.link_alert(case, alert, actor, now_ns)
                    tx.save_case(case, event)
                updated.append(case.case_id)
    return MonitoringRun(new_events, tuple(new_alerts), tuple(opened), tuple(updated))


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------


def open_case_from_alerts(
    store: ComplianceStore, alert_ids: Sequence[str], *, actor: str, now_ns: int
) -> cs.Case:
    with store.transaction() as tx:
        alerts = tx.get_alerts(alert_ids)
        subject = alerts[0].subject
        case, event = cs.open_case(_next_case_id(tx), alerts, actor, now_ns,
                                   "" if subject.lower().startswith("0x") else subject)
        tx.save_case(case, event)
    return case


def _apply(
    store: ComplianceStore, case_id: str, change: Callable[[cs.Case], tuple[cs.Case, cs.CaseEvent]]
) -> cs.Case:
    with store.transaction() as tx:
        case, event = change(tx.get_case(case_id))
        tx.save_case(case, event)
    return case


def assign_case(store: ComplianceStore, case_id: str, assignee: str, *, actor: str, now_ns: int) -> cs.Case:
    return _apply(store, case_id, lambda c: cs.assign(c, assignee, actor, now_ns))


def note_case(store: ComplianceStore, case_id: str, text: str, *, actor: str, now_ns: int) -> cs.Case:
    return _apply(store, case_id, lambda c: cs.add_note(c, text, actor, now_ns))


def escalate_case(store: ComplianceStore, case_id: str, to: str, reason: str, *, actor: str, now_ns: int) -> cs.Case:
    return _apply(store, case_id, lambda c: cs.escalate(c, to, reason, actor, now_ns))


def close_case(
    store: ComplianceStore, case_id: str, reason: cs.CloseReason, note: str, *, actor: str, now_ns: int
) -> cs.Case:
    return _apply(store, case_id, lambda c: cs.close(c, reason, note, actor, now_ns))


def _subject_description(store: ComplianceStore, case: cs.Case) -> dict[str, Any]:
    if not case.customer_id:
        return {"kind": "wallet", "address": case.subject}
    try:
        stored = store.get_customer(case.customer_id)
    except NotFoundError:
        return {"kind": "customer", "customer_id": case.customer_id}
    customer: cdd.Customer = stored.customer
    return {
        "kind": "customer",
        "customer_id": customer.customer_id,
        "names": list(customer.subject.names),
        "risk_rating": stored.risk_rating.value,
        "documents": [
            {"type": d.doc_type.value, "number_masked": d.number_masked, "issuing_country": d.issuing_country}
            for d in customer.subject.documents
        ],
        "beneficial_owners": store.beneficial_owners(customer.customer_id),
    }


def build_str(
    store: ComplianceStore, case_id: str, *, reporter: str, institution: Mapping[str, str], now_ns: int
) -> dict[str, Any]:
    """The structured suspicious transaction report for a case (validate and render it with adapters.reports)."""
    case = store.get_case(case_id)
    alerts = store.get_alerts(case.alert_ids)
    event_ids = list(dict.fromkeys(e for a in alerts for e in a.event_ids))
    report_id = f"STR-{case.case_id}-{store.str_count(case_id) + 1}"
    return cs.str_report(
        report_id=report_id, case=case, alerts=alerts, events=store.get_events(event_ids),
        history=store.case_events(case_id), subject=_subject_description(store, case), institution=institution,
        reporter=reporter, now_ns=now_ns, freezes=store.list_freezes(case_id),
    )


def export_str(
    store: ComplianceStore,
    case_id: str,
    *,
    reporter: str,
    institution: Mapping[str, str],
    now_ns: int,
    write: Callable[[dict[str, Any]], str],
) -> tuple[dict[str, Any], str]:
    """Build the report, let `write` validate and write it (returns the JSON's SHA-256), record it on the case."""
    report = build_str(store, case_id, reporter=reporter, institution=institution, now_ns=now_ns)
    sha256 = write(report)
    with store.transaction() as tx:
        tx.put_str(report["report_id"], case_id, report, sha256, reporter, now_ns)
        case, event = cs.mark_str_exported(tx.get_case(case_id), report["report_id"], sha256, reporter, now_ns)
        tx.save_case(case, event)
    return report, sha256


# ---------------------------------------------------------------------------------------------------------------
# Freeze: requested by one person, approved by another, then sent to the chain's blacklist
# ---------------------------------------------------------------------------------------------------------------


def request_freeze(
    store: ComplianceStore, case_id: str, addresses: Sequence[str], reason: str, *, actor: str, now_ns: int
) -> cs.FreezeRequest:
    with store.transaction() as tx:
        case = tx.get_case(case_id)
        digest = hashlib.sha256(f"{case_id}|{case.seq}|{','.join(addresses)}".encode()).hexdigest()[:12]
        request, case, event = cs.request_freeze(case, f"FRZ-{digest}", addresses, reason, actor, now_ns)
        tx.save_freeze(request)
        tx.save_case(case, event)
    return request


def approve_freeze(
    store: ComplianceStore,
    chain: ChainFreezer | None,
    request_id: str,
    *,
    approver: str,
    note: str = "",
    now_ns: int,
) -> cs.FreezeRequest:
    """The second person approves; with a chain wired, the freeze is sent at once (idempotent key per request)."""
    with store.transaction() as tx:
        request = tx.get_freeze(request_id)
        approved, case, event = cs.approve_freeze(request, tx.get_case(request.case_id), approver, note, now_ns)
        tx.save_freeze(approved)
        tx.save_case(case, event)
    if chain is None:
        return approved
    return execute_freeze(store, chain, request_id, actor=approver, now_ns=now_ns)


def reject_freeze(
    store: ComplianceStore, request_id: str, *, approver: str, note: str, now_ns: int
) -> cs.FreezeRequest:
    with store.transaction() as tx:
        request = tx.get_freeze(request_id)
        rejected, case, event = cs.reject_freeze(request, tx.get_case(request.case_id), approver, note, now_ns)
        tx.save_freeze(rejected)
        tx.save_case(case, event)
    return rejected


def execute_freeze(
    store: ComplianceStore, chain: ChainFreezer, request_id: str, *, actor: str, now_ns: int
) -> cs.FreezeRequest:
    """Send an approved freeze to the chain (safe to retry: the chain call's idempotency key is the request's)."""
    request = store.get_freeze(request_id)
    if request.state is cs.FreezeState.EXECUTED:
        return request
    cs.check_freeze_executable(request)
    tx_result = chain.freeze(list(request.addresses), idempotency_key=request.idempotency_key)
    with store.transaction() as tx:
        done, case, event = cs.mark_freeze_executed(
            tx.get_freeze(request_id), tx.get_case(request.case_id), tx_result.tx_hash, actor, now_ns
        )
        tx.save_freeze(done)
        tx.save_case(case, event)
    return done
