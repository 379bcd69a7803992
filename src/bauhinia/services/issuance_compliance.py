"""Compliance inside the issuance flow: the gate the issuance commands call when it is wired.

`ComplianceGate` sits in `IssuanceContext.compliance` (bootstrap wires it; None keeps issuance unscreened). It
holds the Screener port, the compliance store and the travel-rule builder, and answers the issuance commands:

- onboarding through CDD + screening (`onboard_with_due_diligence`): refused, held for an officer, or cleared;
- payment counterparties: the debtor name of each incoming credit is screened before the file is booked; a listed
  debtor's credit goes to suspense and, once the booking is committed, an alert and a case are opened;
- wallets: screened (OFAC digital-currency addresses, issuer blacklist) when verified, before minting and before
  redeeming; direct exposure blocks;
- the HK$8,000 occasional-transaction rule (identity verified) and an IVMS101 travel-rule payload, validated, for
  each mint and each redemption (stored in the flow's own commit, as the audit entry `travel_rule.recorded`);
- re-screening on list changes: status changes reach the issuance customer record; a newly sanctioned customer is
  suspended, a case is opened and a freeze of its wallets is submitted to the approvals service, whose "freeze"
  executor (`freeze_executor`) sends it to every coin's blacklist after a second person approves.

Services only: domain + ports (+ the sibling services), never an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bauhinia.domain import banking as bnk
from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import issuance as iss
from bauhinia.domain import monitoring as mon
from bauhinia.domain.chain import ChainTx
from bauhinia.domain.compliance import (
    ScreeningDecision,
    ScreeningHit,
    WalletDecision,
    best_hits,
    decide_screening,
    is_strong_hit,
)
from bauhinia.domain.errors import ForbiddenError, NotFoundError, RefusedError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.ports import Chain, ComplianceStore, Screener
from bauhinia.services import compliance as cmp_svc
from bauhinia.services.fx import hkd_per_cnh_fallback_micro

# (originator, beneficiary, amount in HKD minor units, issuer as VASP, issuer side) -> validated IVMS101 payload
TravelRuleBuilder = Callable[[Mapping[str, Any], Mapping[str, Any], int, Mapping[str, Any], str], dict[str, Any]]

SIGNOFF_KIND = "cdd_high_risk_acceptance"
DISMISSAL_KIND = "screening_dismissal"
debtors_per_file_max = 100_000
wallets_per_freeze_max = 100
SYSTEM_ACTOR = "system:compliance"

_STATUS_FOR = {
    cdd.OnboardingDecision.ACCEPTED: iss.CustomerStatus.CLEARED,
    cdd.OnboardingDecision.HELD: iss.CustomerStatus.ONBOARDING,
    cdd.OnboardingDecision.REFUSED: iss.CustomerStatus.SUSPENDED,
}


@dataclass(frozen=True, slots=True)
class DebtorBlock:
    """A credit whose debtor matched a list entry: booked to suspense instead of a subscription."""

    entry_key: str
    debtor_name: str
    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]
    amount_minor: int
    fiat: Currency
    customer_id: str  # the customer whose deposit reference it quoted, or ""

    @property
    def reason(self) -> str:
        top = self.hits[0] if self.hits else None
        what = f"{top.entity_id} '{top.matched_name}' ({top.score:.2f})" if top else "a list entry"
        return f"sanctions screening: debtor '{self.debtor_name}' {self.decision.value} on {what}"


@dataclass
class ComplianceGate:
    store: ComplianceStore
    screener: Screener
    travel_rule: TravelRuleBuilder
    approvals: Any = None  # services.approvals.ApprovalService (freeze requests go through it)
    institution: Mapping[str, str] = field(default_factory=lambda: {"name": "Bauhinia Issuer Ltd", "country": "HK"})
    # services.fx.FxSource: the HKD value of a CNH amount for the HK$8,000 thresholds (the loaded published rate
    # plus a margin, or a fallback above any recent rate); None: the fallback rate alone.
    fx: Any = None
    actor: str = SYSTEM_ACTOR

    # --- amounts -----------------------------------------------------------------------------------------------

    def hkd_minor(self, amount_minor: int, fiat: Currency) -> int:
        if fiat is Currency.HKD:
            return amount_minor
        if self.fx is not None:
            return int(self.fx.hkd_minor_for_threshold(amount_minor, fiat))
        return -(-amount_minor * hkd_per_cnh_fallback_micro // 1_000_000)

    # --- wallets -----------------------------------------------------------------------------------------------

    def check_wallet(self, address: str) -> None:
        """Refuse a wallet the lists or the issuer's blacklist name (direct exposure)."""
        assessment = self.screener.screen_wallet(address)
        if assessment.decision is WalletDecision.BLOCK:
            raise RefusedError(f"wallet {assessment.address} is blocked: {'; '.join(assessment.reasons)}",
                               code="wallet_blocked")

    # --- counterparties of incoming credits ------------------------------------------------------------------

    def screen_debtors(self, message: bnk.BankMessage, fiat_of: Mapping[str, Currency],
                       customer_of: Callable[[bnk.BankEntry], str | None]) -> dict[str, DebtorBlock]:
        """Screen the debtor name of every booked credit (each name once); no writes, so it can run before the
        issuance unit of work. Returns the entries to keep out of minting."""
        blocked: dict[str, DebtorBlock] = {}
        seen: dict[str, tuple[ScreeningDecision, tuple[ScreeningHit, ...]]] = {}
        count = 0
        for rep in message.reports:
            fiat = fiat_of.get(rep.account.value)
            if fiat is None:
                continue
            for e in rep.entries:
                if e.credit_debit is not bnk.CreditDebit.CREDIT or e.status != "BOOK" or e.reversal:
                    continue
                name = next((tx.debtor_name for tx in e.transactions if tx.debtor_name), None)
                if not name or not name.strip():
                    continue
                count += 1
                if count > debtors_per_file_max:
                    raise ValidationError(f"more than {debtors_per_file_max} credits to screen in one file")
                key = name.strip()
                if key not in seen:
                    hits = self.screener.screen_name(key)
                    outcome = decide_screening(f"counterparty:{key}", best_hits(hits, 5) if hits else (),
                                               self.store.false_positives(f"counterparty:{key}"))
                    seen[key] = (outcome.decision, outcome.hits)
                decision, hits = seen[key]
                if decision is ScreeningDecision.CLEAR:
                    continue
                blocked[e.entry_key] = DebtorBlock(e.entry_key, key, decision, hits, e.amount_minor, fiat,
                                                   customer_of(e) or "")
        return blocked

    def record_debtor_blocks(self, blocks: Sequence[DebtorBlock], now_ns: int) -> list[str]:
        """After the booking committed: record each screening, raise an alert and open (or join) a case.
        Idempotent: an alert already stored (same entry) opens nothing again. Returns the cases touched."""
        touched: list[str] = []
        for b in blocks:
            subject = b.customer_id or f"payer:{b.debtor_name[:100]}"
            event = mon.MonitoredEvent(event_id=f"bank:{b.entry_key}", kind=mon.EventKind.FIAT_IN, at_ns=now_ns,
                                       amount_hkd_minor=self.hkd_minor(b.amount_minor, b.fiat),
                                       customer_id=subject, counterparty=b.debtor_name[:256])
            severity = mon.Severity.HIGH if b.decision is ScreeningDecision.HIT else mon.Severity.MEDIUM
            alert = _alert(subject, severity, b.reason + f"; credit {b.amount_minor} {b.fiat.value} minor units "
                           "held in suspense", (event.event_id,), now_ns, event.amount_hkd_minor,
                           (("debtor", b.debtor_name), ("entry", b.entry_key), ("decision", b.decision.value)))
            with self.store.transaction() as tx:
                tx.add_screening(cmp_svc.ScreeningRecordData(
                    f"payment:{b.entry_key}", "counterparty", "counterparty", self.screener.list_version,
                    b.decision, b.hits, (), now_ns))
                tx.put_events([event])
                new = tx.put_alerts([alert], now_ns)
            if new:
                touched.append(_open_or_join(self.store, new, now_ns, self.actor))
        return touched

    def record_payer_holds(self, holds: Sequence[Any], now_ns: int) -> list[str]:
        """After the booking committed: each subscription held because its payer is not the customer's verified
        bank account (bank_booking.PayerHold) raises an alert and opens (or joins) the customer's case.
        Idempotent by entry. Returns the cases touched."""
        touched: list[str] = []
        for h in holds:
            event = mon.MonitoredEvent(event_id=f"bank:{h.entry_key}", kind=mon.EventKind.FIAT_IN, at_ns=now_ns,
                                       amount_hkd_minor=self.hkd_minor(h.amount_minor, h.fiat),
                                       customer_id=h.customer_id, counterparty=(h.payer_name or "unknown")[:256])
            rule = mon.RuleName.THIRD_PARTY_PAYER
            alert = mon.Alert(mon.alert_id_for(rule, h.customer_id, (event.event_id,)), rule, h.customer_id,
                              mon.Severity.HIGH, f"subscription {h.subscription_seq} held: {h.reason}"[:500],
                              (event.event_id,), (("payer", h.payer_name[:200]), ("account_tail", h.payer_account[-4:]),
                                                  ("subscription", str(h.subscription_seq))),
                              now_ns, now_ns, event.amount_hkd_minor)
            with self.store.transaction() as tx:
                tx.put_events([event])
                new = tx.put_alerts([alert], now_ns)
            if new:
                touched.append(_open_or_join(self.store, new, now_ns, self.actor))
        return touched

    # --- CDD status, occasional transactions, travel rule ------------------------------------------------------

    def _cdd(self, customer_id: str) -> Any | None:
        try:
            return self.store.get_customer(customer_id)
        except NotFoundError:
            return None

    def _party(self, ctx_customer: iss.Customer, stored: Any | None, account: str) -> dict[str, Any]:
        if stored is None:
            return {"name": ctx_customer.name, "account": account, "customer_id": ctx_customer.id,
                    "legal_person": False}
        subject = stored.customer.subject
        latin = next((n for n in subject.names if not _is_han(n)), subject.names[0])
        local = next((n for n in subject.names if _is_han(n)), "")
        party: dict[str, Any] = {"name": latin, "local_name": local, "account": account,
                                 "customer_id": ctx_customer.id,
                                 "legal_person": isinstance(subject, cdd.LegalPerson)}
        if isinstance(subject, cdd.NaturalPerson) and subject.date_of_birth is not None:
            party["date_of_birth"] = subject.date_of_birth.isoformat()
        return party

    def _check_customer(self, customer: iss.Customer, amount_hkd_minor: int) -> Any:
        stored = self._cdd(customer.id)
        if stored is None:
            raise RefusedError(f"customer {customer.id} has no due diligence record", code="cdd_missing")
        if stored.status is not cdd.OnboardingDecision.ACCEPTED:
            raise RefusedError(f"customer {customer.id} due diligence is {stored.status.value}: "
                               f"{stored.status_reason}", code="cdd_not_accepted")
        cdd.check_occasional_transaction(amount_hkd_minor, stored.customer.identity_verified)
        return stored

    def subject_names(self, customer_id: str) -> tuple[str, ...]:
        """Every name of the customer's CDD subject (none without a CDD record)."""
        stored = self._cdd(customer_id)
        return tuple(stored.customer.subject.names) if stored is not None else ()

    def clearance_problem(self, customer_id: str) -> str:
        """Why this customer may not be cleared for issuance ("" when it may): cleared only through an accepted
        CDD record whose parties' latest screening is clean (a dismissed hit counts as clean) and, for a
        high-risk or PEP customer, a senior officer's sign-off."""
        stored = self._cdd(customer_id)
        if stored is None:
            return f"customer {customer_id} has no due diligence record"
        if stored.status is not cdd.OnboardingDecision.ACCEPTED:
            return f"customer {customer_id} due diligence is {stored.status.value}: {stored.status_reason}"
        if not cmp_svc.screening_is_clean(self.store, stored.customer):
            return f"customer {customer_id} has a screening hit no officer dismissed"
        if cmp_svc.signoff_missing(self.store, customer_id):
            return f"customer {customer_id}: {cmp_svc.SIGNOFF_PENDING}"
        return ""

    def mint_problem(self, customer: iss.Customer, wallet: str, seq: int, amount_minor: int, fiat: Currency,
                     travel: dict[int, dict[str, Any]]) -> str:
        """Why this subscription may not be minted now ("" when it may); on success `travel[seq]` holds the
        validated IVMS101 payload for the mint (the issuer sends coins to the customer's wallet)."""
        amount_hkd = self.hkd_minor(amount_minor, fiat)
        try:
            stored = self._check_customer(customer, amount_hkd)
            self.check_wallet(wallet)
            origin = self._party(customer, stored, f"deposit {customer.deposit_reference}")
            travel[seq] = self.travel_rule(origin, self._party(customer, stored, wallet), amount_hkd,
                                           self.institution, "originating")
        except (RefusedError, ValidationError) as exc:
            return f"compliance: {exc.detail}"
        return ""

    def redemption_payload(self, customer: iss.Customer, req: iss.RedemptionRequest) -> dict[str, Any]:
        """Refuse a redemption from a blocked wallet or one the CDD status forbids; the validated IVMS101 payload
        of the coins the customer sends to the issuer."""
        amount_hkd = self.hkd_minor(req.amount_minor, req.coin.fiat)
        stored = self._check_customer(customer, amount_hkd)
        self.check_wallet(req.wallet)
        return self.travel_rule(self._party(customer, stored, req.wallet.lower()),
                                self._party(customer, stored, req.bank_account), amount_hkd, self.institution,
                                "beneficiary")


def _is_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _alert(subject: str, severity: mon.Severity, summary: str, event_ids: tuple[str, ...], now_ns: int,
           total_hkd_minor: int, facts: tuple[tuple[str, str], ...]) -> mon.Alert:
    rule = mon.RuleName.LISTED_EXPOSURE
    return mon.Alert(mon.alert_id_for(rule, subject, event_ids), rule, subject, severity, summary, event_ids,
                     facts, now_ns, now_ns, total_hkd_minor)


def _open_or_join(store: ComplianceStore, alerts: Sequence[mon.Alert], now_ns: int, actor: str) -> str:
    """The subject's open case gets the alerts; else a new case is opened from them."""
    subject = alerts[0].subject
    with store.transaction() as tx:
        case = next((c for c in tx.list_cases() if c.is_open and c.subject == subject), None)
        if case is not None:
            for alert in alerts:
                case, event = cs.link_alert(case, alert, actor, now_ns)
                tx.save_case(case, event)
            return case.case_id
    return cmp_svc.open_case_from_alerts(store, [a.alert_id for a in alerts], actor=actor, now_ns=now_ns).case_id


# ---------------------------------------------------------------------------------------------------------------
# Onboarding and status
# ---------------------------------------------------------------------------------------------------------------


def _gate(ctx: Any) -> ComplianceGate:
    if ctx.compliance is None:
        raise ValidationError("compliance screening is not wired into issuance", code="compliance_not_wired")
    gate: ComplianceGate = ctx.compliance
    return gate


def onboard_with_due_diligence(
    ctx: Any, customer: cdd.Customer, *, today: date, actor: str, rules: cdd.RiskRules = cdd.DEFAULT_RISK_RULES
) -> tuple[cmp_svc.OnboardingResult, iss.Customer | None]:
    """CDD and screening of every party, then the issuance customer record: cleared when accepted, onboarding
    while a possible match waits for an officer, none at all when refused (the CDD record is kept)."""
    from bauhinia.services import issuance as issuance_svc

    gate = _gate(ctx)
    result = cmp_svc.onboard_customer(gate.store, gate.screener, customer, actor=actor, now_ns=ctx.clock.now_ns(),
                                      today=today, rules=rules)
    if result.decision is cdd.OnboardingDecision.REFUSED:
        return result, None
    record = issuance_svc.onboard_customer(ctx, customer.customer_id, customer.display_name[:200],
                                           cleared=result.decision is cdd.OnboardingDecision.ACCEPTED)
    if result.reason.startswith(cmp_svc.SIGNOFF_PENDING) and gate.approvals is not None:
        gate.approvals.submit(SIGNOFF_KIND, {"customer_id": customer.customer_id, "maker": actor,
                                             "risk_rating": result.assessment.rating.value,
                                             "edd_flags": [f.value for f in result.assessment.edd_flags]},
                              maker=actor)
    return result, record


def sync_status(ctx: Any, customer_id: str, reason: str) -> iss.CustomerStatus | None:
    """Carry the CDD decision into the issuance customer record; returns the new status when it changed."""
    from bauhinia.services import issuance as issuance_svc

    gate = _gate(ctx)
    stored = gate.store.get_customer(customer_id)
    try:
        current = ctx.store.customer(customer_id)
    except NotFoundError:
        return None
    wanted = _STATUS_FOR[stored.status]
    if current.status is wanted:
        return None
    issuance_svc.set_customer_status(ctx, customer_id, wanted, reason[:300])
    return wanted


def review_false_positive(ctx: Any, customer_id: str, entity_id: str, *, reviewer: str, reason: str
                          ) -> iss.CustomerStatus | None:
    """An officer clears a possible match; the customer's issuance record follows the new decision. A strong
    hit is not dismissed here: a `screening_dismissal` request waits for a second compliance officer (None is
    returned, nothing else changes until it is approved)."""
    gate = _gate(ctx)
    hit = cmp_svc.find_open_hit(gate.store, customer_id, entity_id)
    if hit is not None and is_strong_hit(hit) and gate.approvals is not None:
        gate.approvals.submit(DISMISSAL_KIND, {"customer_id": customer_id, "entity_id": entity_id,
                                               "reason": reason[:2_000], "maker": reviewer,
                                               "score": f"{hit.score:.4f}"}, maker=reviewer)
        return None
    cmp_svc.review_false_positive(gate.store, gate.screener, customer_id, entity_id, reviewer=reviewer,
                                  reason=reason, now_ns=ctx.clock.now_ns())
    return sync_status(ctx, customer_id, f"{reviewer}: reviewed {entity_id} as a false positive")


def _approver(gate: ComplianceGate, key: str) -> str:
    """The checker whose approval runs an executor (`approval:<id>` keys only)."""
    if key.startswith("approval:") and gate.approvals is not None:
        approvers = gate.approvals.get(key.removeprefix("approval:")).approvers
        return str(approvers[-1]) if approvers else ""
    return ""


def signoff_executor(ctx_of: Callable[[], Any]) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """The executor of an approved `cdd_high_risk_acceptance`: the approving senior officer signs, the customer
    is screened again and, when clean, accepted and cleared for issuance."""

    def execute(params: Mapping[str, Any], key: str) -> dict[str, Any]:
        ctx = ctx_of()
        gate = _gate(ctx)
        customer_id = str(params["customer_id"])
        approver = _approver(gate, key)
        cmp_svc.accept_with_signoff(gate.store, gate.screener, customer_id, maker=str(params.get("maker", "")),
                                    approver=approver, approval=key, now_ns=ctx.clock.now_ns())
        status = sync_status(ctx, customer_id, f"{approver}: senior sign-off ({key})")
        return {"customer_id": customer_id, "signed_by": approver,
                "cdd_status": gate.store.get_customer(customer_id).status.value,
                "issuance_status": status.value if status is not None else None}

    return execute


def dismissal_executor(ctx_of: Callable[[], Any]) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """The executor of an approved `screening_dismissal`: the maker and the approving officer together record the
    strong hit as a false positive; the customer's status is decided again."""

    def execute(params: Mapping[str, Any], key: str) -> dict[str, Any]:
        ctx = ctx_of()
        gate = _gate(ctx)
        customer_id, entity_id = str(params["customer_id"]), str(params["entity_id"])
        approver = _approver(gate, key)
        cmp_svc.review_false_positive(gate.store, gate.screener, customer_id, entity_id,
                                      reviewer=str(params["maker"]), reason=str(params["reason"]),
                                      now_ns=ctx.clock.now_ns(), second_reviewer=approver)
        status = sync_status(ctx, customer_id, f"{params['maker']} + {approver}: dismissed {entity_id}")
        return {"customer_id": customer_id, "entity_id": entity_id, "second_officer": approver,
                "issuance_status": status.value if status is not None else None}

    return execute


# ---------------------------------------------------------------------------------------------------------------
# Re-screen on list changes: refuse, open a case, submit a freeze of the customer's wallets
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnforcementResult:
    rescreen: cmp_svc.RescreenResult
    status_changes: tuple[tuple[str, str], ...]  # (customer id, new issuance status)
    cases: tuple[str, ...]
    freezes: tuple[tuple[str, str], ...]  # (freeze request id, approval id)


def request_wallet_freeze(gate: ComplianceGate, case_id: str, addresses: Sequence[str], reason: str, *,
                          actor: str, now_ns: int) -> tuple[cs.FreezeRequest, Any]:
    """Record the freeze request on the case and submit it to the approvals service (policy "freeze": a second
    person with the compliance or admin role approves; only then the executor freezes on chain)."""
    if gate.approvals is None:
        raise ValidationError("freezes need the approvals service", code="approvals_not_wired")
    request = cmp_svc.request_freeze(gate.store, case_id, addresses, reason, actor=actor, now_ns=now_ns)
    submission = gate.approvals.submit("freeze", {"freeze_request": request.request_id, "case_id": case_id,
                                                  "addresses": list(request.addresses), "reason": reason},
                                       maker=actor)
    return request, submission


def rescreen_and_enforce(ctx: Any, *, actor: str, force: bool = False) -> EnforcementResult:
    """Re-screen every customer (when the lists changed, or always with `force`). Each status change reaches the
    issuance record; a customer now refused is suspended, gets a case, and its wallets a freeze request."""
    gate = _gate(ctx)
    now_ns = ctx.clock.now_ns()
    result = cmp_svc.rescreen_all(gate.store, gate.screener, actor=actor, now_ns=now_ns, force=force)
    changes: list[tuple[str, str]] = []
    cases: list[str] = []
    freezes: list[tuple[str, str]] = []
    for change in result.changes:
        new = sync_status(ctx, change.customer_id, f"re-screen: {change.reason}")
        if new is not None:
            changes.append((change.customer_id, new.value))
        if change.after is not cdd.OnboardingDecision.REFUSED:
            continue
        alert = _alert(change.customer_id, mon.Severity.HIGH,
                       f"re-screen against list version {result.list_version}: {change.reason}",
                       (f"rescreen:{change.customer_id}:{result.list_version}",), now_ns, 0,
                       (("list_version", result.list_version), ("before", change.before.value)))
        with gate.store.transaction() as tx:
            new_alerts = tx.put_alerts([alert], now_ns)
        if not new_alerts:
            continue
        case_id = _open_or_join(gate.store, new_alerts, now_ns, actor)
        cases.append(case_id)
        try:
            wallets = [w.address for w in ctx.store.wallets(change.customer_id)][:wallets_per_freeze_max]
        except NotFoundError:
            wallets = []
        if wallets and gate.approvals is not None:
            request, submission = request_wallet_freeze(
                gate, case_id, wallets, f"customer {change.customer_id} listed: {change.reason}"[:500],
                actor=actor, now_ns=now_ns)
            approval_id = str(submission.request.id) if submission.request is not None else "executed"
            freezes.append((request.request_id, approval_id))
    return EnforcementResult(result, tuple(changes), tuple(cases), tuple(freezes))


@dataclass(frozen=True, slots=True)
class ListUpdateEnforcement:
    run: cmp_svc.DeltaRescreenResult
    suspended: tuple[str, ...]  # issuance customers suspended (no mint while suspended)
    freezes: tuple[tuple[str, str], ...]  # (freeze request id, approval id)


def _open_case_of(gate: ComplianceGate, subject: str) -> str | None:
    return next((c.case_id for c in gate.store.list_cases() if c.is_open and c.subject == subject), None)


def rescreen_delta_and_enforce(
    gate: ComplianceGate, ctx: Any, delta: Screener, *, wallets: Sequence[tuple[str, str]] = (),
    names: Sequence[tuple[str, str]] = (), actor: str, now_ns: int,
) -> ListUpdateEnforcement:
    """`rescreen_delta` (alerts and cases for every new hit), then: a customer (or a customer's wallet) that is
    now a hit is suspended in issuance; for a strong hit (and a wallet listed itself) a freeze of its wallets is
    requested from the approvals service (a second compliance officer approves; the executor freezes on chain)."""
    from bauhinia.services import issuance as issuance_svc

    run = cmp_svc.rescreen_delta(gate.store, delta, wallets=wallets, names=names, actor=actor, now_ns=now_ns)
    suspended: list[str] = []
    freezes: list[tuple[str, str]] = []
    to_freeze: list[tuple[str, list[str], str]] = []  # (case subject, addresses, why)
    for customer_id, strong in run.hits:
        suspended += _suspend(ctx, customer_id, f"list update {run.list_version}: a screening hit", issuance_svc)
        if strong:
            try:
                addresses = [w.address for w in ctx.store.wallets(customer_id)][:wallets_per_freeze_max]
            except NotFoundError:
                addresses = []
            to_freeze.append((customer_id, addresses,
                              f"customer {customer_id} listed in {run.list_version} (strong hit)"))
    for address, customer_id in run.blocked_wallets:
        if customer_id:
            suspended += _suspend(ctx, customer_id, f"list update {run.list_version}: wallet {address} listed",
                                  issuance_svc)
        to_freeze.append((address, [address], f"wallet {address} listed in {run.list_version}"))
    for subject, addresses, why in to_freeze:
        case_id = _open_case_of(gate, subject)
        if not addresses or case_id is None or gate.approvals is None:
            continue
        if any(f.state is cs.FreezeState.PENDING and set(addresses) <= set(f.addresses)
               for f in gate.store.list_freezes(case_id)):
            continue  # already requested (a repeated run)
        request, submission = request_wallet_freeze(gate, case_id, addresses, why[:500], actor=actor,
                                                    now_ns=now_ns)
        freezes.append((request.request_id,
                        str(submission.request.id) if submission.request is not None else "executed"))
    return ListUpdateEnforcement(run, tuple(dict.fromkeys(suspended)), tuple(freezes))


def _suspend(ctx: Any, customer_id: str, reason: str, issuance_svc: Any) -> list[str]:
    try:
        current = ctx.store.customer(customer_id)
    except NotFoundError:
        return []
    if current.status is iss.CustomerStatus.SUSPENDED:
        return []
    issuance_svc.set_customer_status(ctx, customer_id, iss.CustomerStatus.SUSPENDED, reason[:300])
    return [customer_id]


# ---------------------------------------------------------------------------------------------------------------
# The approvals executor: an approved freeze goes to every coin's blacklist
# ---------------------------------------------------------------------------------------------------------------


class AllCoinsFreezer:
    """ports.ChainFreezer over every coin: one freeze per coin, key `<request key>:<coin>`, so a retry after a
    crash re-sends nothing. Frozen balances stay in the coins' total supply (the contract only blocks them)."""

    def __init__(self, chains: Mapping[Currency, Chain]) -> None:
        self.chains = chains
        self.sent: list[ChainTx] = []

    def freeze(self, addresses: Sequence[str], *, idempotency_key: str) -> ChainTx:
        for fiat in (Currency.CNH, Currency.HKD):
            chain = self.chains.get(fiat)
            if chain is None:
                continue
            tx = chain.freeze(list(addresses), idempotency_key=f"{idempotency_key}:{fiat.coin.value}")
            if tx.succeeded is False:
                raise RefusedError(f"freeze on {fiat.coin.value} reverted ({tx.tx_hash})", code="freeze_reverted")
            self.sent.append(tx)
        if not self.sent:
            raise ValidationError("no coin chain to freeze on", code="no_chain")
        return self.sent[0]


def freeze_executor(gate_of: Callable[[], ComplianceGate], chains_of: Callable[[], Mapping[Currency, Chain]],
                    clock_ns: Callable[[], int]) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """The approvals service's executor for kind "freeze": the approving checker becomes the case's second
    person, then every coin freezes the addresses (idempotent per coin)."""

    def execute(params: Mapping[str, Any], key: str) -> dict[str, Any]:
        gate = gate_of()
        request_id = str(params["freeze_request"])
        request = gate.store.get_freeze(request_id)
        if request.state is cs.FreezeState.PENDING:
            approver = ""
            if key.startswith("approval:") and gate.approvals is not None:
                approvers = gate.approvals.get(key.removeprefix("approval:")).approvers
                approver = approvers[-1] if approvers else ""
            if not approver:
                raise ForbiddenError(f"freeze request {request_id} runs only after a second person approves it",
                                     code="four_eyes")
            cmp_svc.approve_freeze(gate.store, None, request_id, approver=approver, note=f"approved via {key}",
                                   now_ns=clock_ns())
        freezer = AllCoinsFreezer(chains_of())
        done = cmp_svc.execute_freeze(gate.store, freezer, request_id, actor=gate.actor, now_ns=clock_ns())
        return {"freeze_request": request_id, "state": done.state.value, "addresses": list(done.addresses),
                "tx_hashes": [t.tx_hash for t in freezer.sent] or [done.chain_tx_hash]}

    def on_reject(params: Mapping[str, Any], actor: str, reason: str) -> None:
        """The approval was rejected: the freeze request is rejected too (by the same checker), not left pending."""
        gate = gate_of()
        request_id = str(params["freeze_request"])
        if gate.store.get_freeze(request_id).state is cs.FreezeState.PENDING:
            cmp_svc.reject_freeze(gate.store, request_id, approver=actor, note=reason or "approval rejected",
                                  now_ns=clock_ns())

    execute.on_reject = on_reject  # type: ignore[attr-defined]
    return execute
