"""Due diligence that cannot be skipped (issue 20 item 2), on SQLite and PostgreSQL with compliance wired into
issuance: "cleared" comes only from an accepted CDD record with a clean screening; a high-risk or PEP customer
waits for a senior officer's sign-off; a strong screening hit is dismissed only by two compliance officers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from test_compliance_issuance import person, screener_for

from bauhinia.domain import cdd
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ForbiddenError, RefusedError
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import compliance as cmp_svc
from bauhinia.services import issuance as svc
from bauhinia.services import issuance_compliance as gate_svc

TODAY = date(2026, 11, 26)
WONG = {"id": "p-wong", "schema": "Person",
        "properties": {"name": ["WONG Siu Ming"], "birthDate": ["1970-01-02"]}}


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Iterator[Issuer]:
    issuer = make_issuer(tmp_path / "data", database_url=db_url, screening=True,
                         screener=screener_for(tmp_path, extra=[WONG]))
    yield issuer
    issuer.container.close()


def pending(issuer: Issuer, kind: str) -> list:
    return [r for r in issuer.container.approvals.list(status="requested") if r.kind == kind]


def test_the_cleared_flag_is_refused_without_an_accepted_cdd_record(issuer: Issuer) -> None:
    ctx = issuer.ctx
    with pytest.raises(RefusedError) as exc:  # no CDD record at all
        svc.onboard_customer(ctx, "flag", "Flag Trading Ltd", cleared=True)
    assert exc.value.code == "cdd_not_cleared"
    # the OFAC-listed person an operator tried to clear: onboarding, then "cleared" by hand
    svc.onboard_customer(ctx, "chan", "CHAN Tai Man", cleared=False)
    result, _ = gate_svc.onboard_with_due_diligence(ctx, person("chan-cdd", "CHAN Tai Man"), today=TODAY,
                                                    actor="officer")
    assert result.decision is cdd.OnboardingDecision.REFUSED
    with pytest.raises(RefusedError, match="no due diligence record"):
        svc.set_customer_status(ctx, "chan", iss.CustomerStatus.CLEARED, "looked fine to me")
    assert ctx.store.customer("chan").status is iss.CustomerStatus.ONBOARDING
    # held for review (a possible match): still not clearable by hand
    held, record = gate_svc.onboard_with_due_diligence(ctx, person("mang", "WONG Siu Mang"), today=TODAY,
                                                       actor="officer")
    assert held.decision is cdd.OnboardingDecision.HELD and record is not None
    with pytest.raises(RefusedError, match="due diligence is held"):
        svc.set_customer_status(ctx, "mang", iss.CustomerStatus.CLEARED, "by hand")
    assert ctx.store.customer("mang").status is iss.CustomerStatus.ONBOARDING
    # a clean customer is cleared through CDD, and may be set back to cleared after a suspension
    ok, rec = gate_svc.onboard_with_due_diligence(ctx, person("lee", "LEE Ka Yan"), today=TODAY, actor="officer")
    assert ok.decision is cdd.OnboardingDecision.ACCEPTED and rec is not None
    assert rec.status is iss.CustomerStatus.CLEARED
    svc.set_customer_status(ctx, "lee", iss.CustomerStatus.SUSPENDED, "query")
    svc.set_customer_status(ctx, "lee", iss.CustomerStatus.CLEARED, "query answered")
    assert ctx.store.customer("lee").status is iss.CustomerStatus.CLEARED


def test_a_pep_customer_is_cleared_only_after_a_senior_officers_sign_off(issuer: Issuer) -> None:
    ctx = issuer.ctx
    pep = cdd.Customer("pep", "p1", (cdd.NaturalPerson("p1", ("HO Ka Wai",), nationality="HK", pep=True,
                                                       pep_role="legislator"),), identity_verified=True)
    result, record = gate_svc.onboard_with_due_diligence(ctx, pep, today=TODAY, actor="officer-a")
    assert result.decision is cdd.OnboardingDecision.HELD and "sign-off" in result.reason
    assert record is not None and record.status is iss.CustomerStatus.ONBOARDING
    with pytest.raises(RefusedError, match="sign-off"):
        svc.set_customer_status(ctx, "pep", iss.CustomerStatus.CLEARED, "by hand")
    # a re-screen with clean lists does not accept it either
    cmp_svc.rescreen_all(issuer.container.compliance, issuer.container.screener, actor="job", now_ns=1, force=True)
    assert issuer.container.compliance.get_customer("pep").status is cdd.OnboardingDecision.HELD
    [request] = pending(issuer, "cdd_high_risk_acceptance")
    approvals = issuer.container.approvals
    with pytest.raises(ForbiddenError):  # the maker cannot sign its own customer off
        approvals.approve(request.id, actor="officer-a", roles=["compliance"])
    with pytest.raises(ForbiddenError):  # nor can someone without the compliance or admin role
        approvals.approve(request.id, actor="dealer", roles=["operator"])
    done = approvals.approve(request.id, actor="senior-b", roles=["compliance"])
    assert done.status == "executed" and done.result["signed_by"] == "senior-b"
    assert issuer.container.compliance.get_customer("pep").status is cdd.OnboardingDecision.ACCEPTED
    assert ctx.store.customer("pep").status is iss.CustomerStatus.CLEARED


def test_a_strong_hit_needs_a_second_officer_to_dismiss_a_weak_one_does_not(issuer: Issuer) -> None:
    ctx, store = issuer.ctx, issuer.container.compliance
    # exact name and the same date of birth: refused
    strong, _ = gate_svc.onboard_with_due_diligence(
        ctx, person("wong", "WONG Siu Ming", dob=date(1970, 1, 2)), today=TODAY, actor="officer-a")
    assert strong.decision is cdd.OnboardingDecision.REFUSED
    with pytest.raises(ForbiddenError) as exc:  # one officer alone, straight through the compliance service
        cmp_svc.review_false_positive(store, issuer.container.screener, "wong", "ftm-p-wong", reviewer="officer-a",
                                      reason="different person", now_ns=1)
    assert exc.value.code == "second_officer_required"
    assert gate_svc.review_false_positive(ctx, "wong", "ftm-p-wong", reviewer="officer-a",
                                          reason="different person: passport seen") is None
    assert store.false_positives("wong") == []  # nothing dismissed yet: a request waits for a second officer
    [request] = pending(issuer, "screening_dismissal")
    with pytest.raises(ForbiddenError):
        issuer.container.approvals.approve(request.id, actor="officer-a", roles=["compliance"])
    issuer.container.approvals.approve(request.id, actor="officer-b", roles=["compliance"])
    [fp] = store.false_positives("wong")
    assert fp.reviewed_by == "officer-a + officer-b"
    assert store.get_customer("wong").status is cdd.OnboardingDecision.ACCEPTED
    # a weak hit (a possible match): one officer dismisses it and the customer is cleared
    weak, record = gate_svc.onboard_with_due_diligence(ctx, person("mang", "WONG Siu Mang"), today=TODAY,
                                                       actor="officer-a")
    assert weak.decision is cdd.OnboardingDecision.HELD and record is not None
    assert gate_svc.review_false_positive(ctx, "mang", "ftm-p-wong", reviewer="officer-a",
                                          reason="different given name") is iss.CustomerStatus.CLEARED
    assert pending(issuer, "screening_dismissal") == []
