"""Due diligence that cannot be skipped (issue 20 item 2), on SQLite and PostgreSQL with compliance wired into
issuance: "cleared" comes only from an accepted CDD record with a clean screening; a high-risk or PEP customer
waits for a senior officer's sign-off; a strong screening hit is dismissed only by two compliance officers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from test_compliance_issuance import person, screener_for

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.adapters.screening.screener import ListScreener
from bauhinia.domain import cdd
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ForbiddenError, RefusedError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import bank_booking
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


def test_a_list_update_that_makes_a_customer_or_wallet_a_hit_suspends_it_and_requests_a_freeze(
        issuer: Issuer, tmp_path: Path) -> None:
    ctx, gate = issuer.ctx, issuer.container.compliance_gate
    lau = issuer.add_holder("lau", "LAU Wing Kei", "004-555-100200-838",
                            due_diligence=person("lau", "LAU Wing Kei", dob=date(1980, 5, 6)))
    tam = issuer.add_holder("tam", "TAM Chi Fai", "004-555-100200-839",
                            due_diligence=person("tam", "TAM Chi Fai", dob=date(1975, 1, 1)))
    issuer.add_holder("mok", "MOK Wai Lun", "004-555-100200-840",
                            due_diligence=person("mok", "MOK Wai Lun", dob=date(1966, 2, 2)))
    assert {ctx.store.customer(c).status for c in ("lau", "tam", "mok")} == {iss.CustomerStatus.CLEARED}
    # the update lists LAU Wing Kei with the same date of birth (strong), MOK Wai Lun with another date of birth
    # (a hit, not strong), and TAM's wallet itself
    added = tmp_path / "delta"
    added.mkdir()
    (added / "lists").mkdir()
    (added / "lists" / "delta.ftm.json").write_text("\n".join(json.dumps(e) for e in [
        {"id": "p-lau", "schema": "Person", "properties": {"name": ["LAU Wing Kei"], "birthDate": ["1980-05-06"]}},
        {"id": "p-mok", "schema": "Person", "properties": {"name": ["MOK Wai Lun"], "birthDate": ["1990-09-09"]}},
    ]), encoding="utf-8")
    (added / "blacklist.txt").write_text(f"{tam.wallet.lower()},listed after onboarding\n", encoding="utf-8")
    delta = ListScreener(added / "lists", added / "blacklist.txt")
    wallets = [(w.address, w.customer_id) for w in ctx.store.wallets()]
    done = gate_svc.rescreen_delta_and_enforce(gate, ctx, delta, wallets=wallets, actor="olivia",
                                               now_ns=ctx.clock.now_ns())
    assert set(done.suspended) == {"lau", "tam", "mok"}
    assert {ctx.store.customer(c).status for c in ("lau", "tam", "mok")} == {iss.CustomerStatus.SUSPENDED}
    assert {a.subject for a in done.run.alerts} >= {"lau", "mok", tam.wallet.lower()}
    freezes = {gate.store.get_freeze(r).addresses for r, _ in done.freezes}
    assert freezes == {(lau.wallet.lower(),), (tam.wallet.lower(),)}  # not MOK's: a hit, but not a strong one
    # a repeated run requests nothing twice
    again = gate_svc.rescreen_delta_and_enforce(gate, ctx, delta, wallets=wallets, actor="olivia",
                                                now_ns=ctx.clock.now_ns())
    assert again.freezes == () and again.suspended == ()
    # no mint while suspended
    issuer.drop_notification([issuer.deposit(lau, 1_000_00, "IN-LAU")], datetime.now(UTC))
    bank_booking.ingest_bank_files(ctx)
    svc.run_subscriptions(ctx, Currency.CNH)
    [sub] = [s for s in ctx.store.subscriptions() if s.customer_id == "lau"]
    assert sub.status == "held" and sub.reason == "customer not cleared"
    # a second compliance officer approves the freeze: the wallet is frozen on chain
    approval = next(a for r, a in done.freezes if gate.store.get_freeze(r).addresses == (lau.wallet.lower(),))
    issuer.container.approvals.approve(approval, actor="officer-b", roles=["compliance"])
    assert issuer.chain().is_frozen(lau.wallet)


def test_a_bank_account_in_another_partys_name_is_refused_unless_a_second_person_overrides(issuer: Issuer) -> None:
    ctx = issuer.ctx
    issuer.add_holder("li", "LEE Ka Yan", "004-555-100200-900", due_diligence=cdd.Customer(
        "li", "p1", (cdd.NaturalPerson("p1", ("李嘉欣", "LEE Ka Yan"), nationality="HK"),), identity_verified=True))
    other = iss.VerifiedBankAccount("li", "012-875-000111-222", "BBAN", "Other Party Holdings Ltd", Currency.CNH)
    with pytest.raises(RefusedError) as exc:
        svc.add_bank_account(ctx, other)
    assert exc.value.code == "bank_account_holder_mismatch"
    assert [a.account for a in ctx.store.bank_accounts("li")] == ["004-555-100200-900"]  # nothing added
    # the customer's own name, in characters or another romanisation, is the customer's
    svc.add_bank_account(ctx, iss.VerifiedBankAccount("li", "012-875-000111-333", "BBAN", "李嘉欣", Currency.HKD))
    svc.add_bank_account(ctx, iss.VerifiedBankAccount("li", "012-875-000111-444", "BBAN", "Li Jiaxin", Currency.HKD))
    # an override: a second person accepts the other party's account with a reason
    approval = svc.request_bank_account_override(ctx, other, "the customer's sole-proprietor trading account",
                                                 maker="officer-a")
    assert "012-875-000111-222" not in {a.account for a in ctx.store.bank_accounts("li")}
    with pytest.raises(ForbiddenError):
        issuer.container.approvals.approve(approval, actor="officer-a", roles=["compliance"])
    issuer.container.approvals.approve(approval, actor="officer-b", roles=["compliance"])
    assert "012-875-000111-222" in {a.account for a in ctx.store.bank_accounts("li")}


def test_a_deposit_is_minted_only_from_the_customers_verified_account(issuer: Issuer) -> None:
    ctx, gate = issuer.ctx, issuer.container.compliance_gate
    kln = issuer.add_holder("kln", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(kln)
    ref = f"SUBSCRIPTION {kln.deposit_reference}"
    issuer.drop_notification([
        # its own account, the name and number written otherwise
        SimEntry(1_000_00, True, "IN-OWN", ref, "KOWLOON IMPORTERS LIMITED", "024888300400101"),
        SimEntry(2_000_00, True, "IN-3RD", ref, "Other Party Holdings Ltd", "999-000-1"),  # a third party
        SimEntry(3_000_00, True, "IN-ACC", ref, "Kowloon Importers Ltd", "999-000-2"),  # own name, other account
        SimEntry(4_000_00, True, "IN-NAM", ref, "Kowloon Exporters Ltd", "024-888-300400-101"),  # other name
    ], datetime.now(UTC))
    report = bank_booking.ingest_bank_files(ctx)
    assert report.subscriptions == 4 and len(report.payer_holds) == 3
    svc.run_subscriptions(ctx, Currency.CNH)
    svc.run_subscriptions(ctx, Currency.CNH)  # a second run does not mint the held ones either
    subs = {s.amount_minor: s for s in ctx.store.subscriptions()}
    assert subs[1_000_00].status in ("minting", "minted")
    for amount in (2_000_00, 3_000_00, 4_000_00):
        assert subs[amount].status == "held" and subs[amount].reason.startswith("payer check: "), subs[amount]
    assert "not a verified account" in subs[2_000_00].reason and "not a verified account" in subs[3_000_00].reason
    assert "not the holder" in subs[4_000_00].reason
    cases = [c for c in gate.store.list_cases() if c.is_open and c.subject == "kln"]
    assert len(cases) == 1 and len(cases[0].alert_ids) == 3
    # reading the same file again (the statement repeats the entries) opens nothing more
    bank_booking.ingest_bank_files(ctx)
    assert len([a for a, _ in gate.store.list_alerts() if a.subject == "kln"]) == 3


def test_a_payer_held_deposit_is_released_only_by_a_second_officer_and_still_needs_its_mint_approval(
        issuer: Issuer) -> None:
    """Before: a deposit the payer check held could never be minted, whatever its case review found. Now a second
    compliance officer releases it; the release is not a mint approval (a large one still needs treasury's)."""
    from bauhinia.domain.errors import ConflictError

    ctx, approvals = issuer.ctx, issuer.container.approvals
    kln = issuer.add_holder("kln", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(kln)
    ref = f"SUBSCRIPTION {kln.deposit_reference}"
    issuer.drop_notification([
        SimEntry(1_000_00, True, "IN-OWN", ref, "Kowloon Importers Ltd", "024-888-300400-101"),
        SimEntry(3_000_00, True, "IN-ACC", ref, "Kowloon Importers Ltd", "999-000-2"),  # own name, other account
        SimEntry(1_500_000_00, True, "IN-BIG", ref, "Kowloon Importers Ltd", "999-000-2"),  # above the mint policy
    ], datetime.now(UTC))
    bank_booking.ingest_bank_files(ctx)
    subs = {s.amount_minor: s for s in ctx.store.subscriptions()}
    small, big = subs[3_000_00], subs[1_500_000_00]
    assert small.status == big.status == "held"
    with pytest.raises(ConflictError) as exc:  # only a payer hold is released this way
        svc.request_payer_hold_release(ctx, subs[1_000_00].seq, "reviewed", maker="officer-a")
    assert exc.value.code == "not_payer_held"

    release = svc.request_payer_hold_release(ctx, small.seq, "the customer's second account at its bank",
                                             maker="officer-a", case_id="case-1")
    svc.run_subscriptions(ctx, Currency.CNH)
    assert ctx.store.subscription(small.seq).status == "held"  # nothing until a second officer approves
    with pytest.raises(ForbiddenError):
        approvals.approve(release, actor="officer-a", roles=["compliance"])
    with pytest.raises(ForbiddenError):
        approvals.approve(release, actor="treasurer", roles=["treasury"])
    approvals.approve(release, actor="officer-b", roles=["compliance"])
    svc.run_subscriptions(ctx, Currency.CNH)
    assert ctx.store.subscription(small.seq).status in ("minting", "minted")
    with pytest.raises(ConflictError):
        svc.request_payer_hold_release(ctx, small.seq, "again", maker="officer-a")

    big_release = svc.request_payer_hold_release(ctx, big.seq, "same account, reviewed", maker="officer-a")
    approvals.approve(big_release, actor="officer-b", roles=["compliance"])
    svc.run_subscriptions(ctx, Currency.CNH)
    held = ctx.store.subscription(big.seq)
    assert held.status == "held" and held.reason.startswith("awaiting a second approver"), held
    mint = [r for r in pending(issuer, "mint") if r.params["subscription"] == big.seq]
    assert len(mint) == 1
    approvals.approve(mint[0].id, actor="treasurer", roles=["treasury"])
    svc.run_subscriptions(ctx, Currency.CNH)
    assert ctx.store.subscription(big.seq).status in ("minting", "minted")


def test_an_expired_sign_off_is_resubmitted_and_the_asker_cannot_approve_it(issuer: Issuer) -> None:
    """Before: a high-risk customer's sign-off that nobody decided within its day left the customer held for good,
    with no way to ask again. Now an officer resubmits it (and becomes its maker); another officer approves."""
    from bauhinia.domain.errors import ConflictError

    ctx, approvals = issuer.ctx, issuer.container.approvals
    pep = cdd.Customer("pep", "p1", (cdd.NaturalPerson("p1", ("HO Ka Wai",), nationality="HK", pep=True,
                                                       pep_role="legislator"),), identity_verified=True)
    gate_svc.onboard_with_due_diligence(ctx, pep, today=TODAY, actor="officer-a")
    [first] = pending(issuer, "cdd_high_risk_acceptance")
    with pytest.raises(ConflictError) as exc:  # still open: nothing to resubmit
        approvals.resubmit(first.id, maker="officer-c", roles=["compliance"])
    assert exc.value.code == "not_expired"

    real = approvals.clock

    class DayLater:
        def now_ns(self) -> int:
            return int(real.now_ns()) + 25 * 3600 * 1_000_000_000

    approvals.clock = DayLater()
    with pytest.raises(ConflictError):  # too late to approve the first one
        approvals.approve(first.id, actor="senior-b", roles=["compliance"])
    assert approvals.get(first.id).status == "expired"
    assert ctx.store.customer("pep").status is iss.CustomerStatus.ONBOARDING
    with pytest.raises(ForbiddenError):  # only someone who could decide it may ask again
        approvals.resubmit(first.id, maker="dealer", roles=["operator"])
    again = approvals.resubmit(first.id, maker="officer-c", roles=["compliance"])
    assert again.id != first.id and again.maker == "officer-c" and again.params["maker"] == "officer-c"
    assert again.params["customer_id"] == "pep" and again.status == "requested"
    with pytest.raises(ConflictError) as exc:  # one open request per operation
        approvals.resubmit(first.id, maker="officer-d", roles=["compliance"])
    assert exc.value.code == "already_open"
    with pytest.raises(ForbiddenError):  # the one who asked again cannot approve it
        approvals.approve(again.id, actor="officer-c", roles=["compliance"])
    done = approvals.approve(again.id, actor="senior-b", roles=["compliance"])
    assert done.status == "executed" and done.result["signed_by"] == "senior-b"
    assert ctx.store.customer("pep").status is iss.CustomerStatus.CLEARED
