"""Compliance wired into issuance: CDD at onboarding, debtor and wallet screening, the HK$8,000 rule, travel-rule
payloads with each mint and redemption, re-screening on a list change, and a freeze that reaches the chain only
after a second person approves it (in-process EVM, SQLite; the lists are a small FollowTheMoney file)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from eth_account import Account as EthAccount

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.adapters.screening.screener import ListScreener
from bauhinia.adapters.store import audit
from bauhinia.domain import cdd
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import BauhiniaError, NotFoundError, RefusedError
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc
from bauhinia.services import issuance_compliance as gate_svc

CNH, HKD = Currency.CNH, Currency.HKD
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)
LISTED_WALLET = "0x" + "de" * 20


def write_lists(directory: Path, *, extra: list[dict] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    entities = [
        {"id": "p-chan", "schema": "Person",
         "properties": {"name": ["陳大文"], "alias": ["CHAN Tai Man"], "birthDate": ["1961-03-04"]}},
        {"id": "c-redstar", "schema": "Company",
         "properties": {"name": ["Red Star Maritime Trading Co., Ltd."], "alias": ["红星海运贸易有限公司"]}},
        *(extra or []),
    ]
    (directory / "test.ftm.json").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in entities),
                                             encoding="utf-8")
    return directory


def screener_for(tmp_path: Path, extra: list[dict] | None = None) -> ListScreener:
    tmp_path.mkdir(parents=True, exist_ok=True)
    blacklist = tmp_path / "blacklist.txt"
    blacklist.write_text(f"{LISTED_WALLET},stolen funds\n", encoding="utf-8")
    return ListScreener(write_lists(tmp_path / "lists", extra=extra), blacklist)


@pytest.fixture()
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    issuer = make_issuer(tmp_path / "data", screening=True, screener=screener_for(tmp_path))
    yield issuer
    issuer.container.close()


def person(customer_id: str, *names: str, verified: bool = True, dob: date | None = None) -> cdd.Customer:
    return cdd.Customer(customer_id, "p1", (cdd.NaturalPerson("p1", names, date_of_birth=dob, nationality="HK"),),
                        identity_verified=verified)


def posted(issuer: Issuer, book: Book, fiat: Currency = CNH) -> int:
    return issuer.ctx.ledger.account(iss.book_account_id(fiat, book)).posted


def travel_entries(issuer: Issuer, subject: str) -> list[dict]:
    entries = audit.list_entries(issuer.container.engine, subject=subject, limit=500)
    return [e for e in entries if e["action"] == "travel_rule.recorded"]


def test_onboarding_refuses_a_listed_party_and_clears_a_clean_one(issuer: Issuer) -> None:
    ctx = issuer.ctx
    result, record = gate_svc.onboard_with_due_diligence(ctx, person("bad", "陈大文"), today=TODAY, actor="officer")
    assert result.decision is cdd.OnboardingDecision.REFUSED and record is None  # Simplified vs listed Traditional
    assert issuer.container.compliance.get_customer("bad").status is cdd.OnboardingDecision.REFUSED
    with pytest.raises(NotFoundError):
        ctx.store.customer("bad")  # no issuance record for a refused party
    result, record = gate_svc.onboard_with_due_diligence(ctx, person("ok", "Wong Siu Ming"), today=TODAY,
                                                         actor="officer")
    assert result.decision is cdd.OnboardingDecision.ACCEPTED
    assert record is not None and ctx.store.customer("ok").status is iss.CustomerStatus.CLEARED


def test_a_possible_match_is_held_until_an_officer_reviews_it(issuer: Issuer) -> None:
    ctx = issuer.ctx
    # A similar company name: a possible match (review), not a hit.
    customer = cdd.Customer("maybe", "c1", (cdd.LegalPerson("c1", ("Red Stone Maritime Trading Ltd",), "HK",
                                                            listed_on_exchange=True),), identity_verified=True)
    result, record = gate_svc.onboard_with_due_diligence(ctx, customer, today=TODAY, actor="officer")
    assert result.decision is cdd.OnboardingDecision.HELD, result.reason
    assert record is not None and ctx.store.customer("maybe").status is iss.CustomerStatus.ONBOARDING
    entity = result.screening[0].outcome.hits[0].entity_id
    new = gate_svc.review_false_positive(ctx, "maybe", entity, reviewer="officer2", reason="different person")
    assert new is iss.CustomerStatus.CLEARED and ctx.store.customer("maybe").status is iss.CustomerStatus.CLEARED


def test_a_listed_debtor_credit_goes_to_suspense_with_a_case(issuer: Issuer) -> None:
    ctx = issuer.ctx
    imp = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    deposits = [issuer.deposit(imp, 10_000_00, "IN-1"),
                SimEntry(50_000_00, True, "IN-2", f"SUBSCRIPTION {imp.deposit_reference}",
                         "RED STAR MARITIME TRADING CO LTD", "777-1")]
    issuer.drop_notification(deposits, NOW)
    report = svc.ingest_bank_files(ctx)
    assert (report.subscriptions, report.suspense) == (1, 1)
    assert [b.entry_key for b in report.screened_out] and report.screened_out[0].customer_id == "imp"
    assert posted(issuer, Book.SUSPENSE) == 50_000_00
    assert ctx.store.suspense()[0].amount_minor == 50_000_00
    cases = issuer.container.compliance.list_cases()
    assert len(cases) == 1 and cases[0].subject == "imp" and cases[0].severity.value == "high"
    # a second file with the same credit (the day's statement) changes nothing and opens no second case
    issuer.drop_statement(deposits, NOW)
    svc.ingest_bank_files(ctx)
    assert posted(issuer, Book.SUSPENSE) == 50_000_00 and len(issuer.container.compliance.list_cases()) == 1


def test_mint_and_redemption_carry_travel_rule_payloads_and_screen_wallets(issuer: Issuer) -> None:
    ctx, chain = issuer.ctx, issuer.chain()
    imp = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(imp)
    issuer.drop_notification([issuer.deposit(imp, 20_000_00, "IN-1")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    seq = ctx.store.subscriptions()[0].seq
    (entry,) = travel_entries(issuer, f"subscription:{seq}")
    payload = entry["details"]["ivms101"]
    assert payload["beneficiary"]["accountNumber"] == [imp.wallet.lower()]
    assert payload["originatingVASP"]["originatingVASP"]["legalPerson"]["name"]["nameIdentifier"]
    # redemption: the payload names the wallet the coins come from
    red = svc.request_redemption(ctx, iss.RedemptionRequest("imp", Currency.BCNH, 10_000_00, imp.wallet,
                                                            imp.bank_account, "r-1"))
    (entry,) = travel_entries(issuer, f"redemption:{red.seq}")
    assert entry["details"]["ivms101"]["originator"]["accountNumber"] == [imp.wallet.lower()]
    assert chain.total_supply() == minor_to_base_units(20_000_00)


def test_blacklisted_wallet_refused_at_verification_and_redemption(issuer: Issuer, tmp_path: Path) -> None:
    ctx = issuer.ctx
    key = EthAccount.create()
    (tmp_path / "bl2.txt").write_text(f"{key.address},sanctions evasion\n", encoding="utf-8")
    issuer.container.__dict__["screener"] = ListScreener(tmp_path / "lists", tmp_path / "bl2.txt")
    with pytest.raises(RefusedError) as err:
        issuer.add_holder("thief", "Sai Kung Holdings Ltd", "111-1", key=key)
    assert err.value.code == "wallet_blocked"
    assert ctx.store.wallets("thief") == []


def test_unverified_identity_is_held_from_hk_8000(issuer: Issuer) -> None:
    ctx = issuer.ctx
    small = issuer.add_holder("small", "Lam Ka Yan", "1-1", due_diligence=person("small", "Lam Ka Yan", verified=False))
    big = issuer.add_holder("big", "Ho Wing Sze", "2-2", due_diligence=person("big", "Ho Wing Sze", verified=False))
    # CNH 7,000 is about HK$7,700 (under HK$8,000); CNH 7,400 is over it at the gate's conservative rate
    issuer.drop_notification([issuer.deposit(small, 7_000_00, "IN-1"), issuer.deposit(big, 7_400_00, "IN-2")], NOW)
    svc.ingest_bank_files(ctx)
    report = svc.run_subscriptions(ctx, CNH)
    assert (report.minted, report.held) == (1, 1)
    held = [s for s in ctx.store.subscriptions() if s.status == "held"]
    assert held[0].customer_id == "big" and "identity must be verified" in held[0].reason


def test_rescreen_catches_a_customer_listed_after_onboarding_and_freezes_after_approval(
    issuer: Issuer, tmp_path: Path
) -> None:
    ctx, c = issuer.ctx, issuer.container
    holder = issuer.add_holder("late", "Tsang Chi Keung", "3-3",
                               due_diligence=person("late", "Tsang Chi Keung", "曾志強"))
    issuer.fund_gas(holder)
    issuer.drop_notification([issuer.deposit(holder, 5_000_00, "IN-1")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    chain = issuer.chain()
    supply = chain.total_supply()
    assert gate_svc.rescreen_and_enforce(ctx, actor="officer").cases == ()  # still clean
    # the lists change: the customer is now listed (in Simplified characters)
    c.__dict__["screener"] = screener_for(tmp_path / "v2", extra=[
        {"id": "p-tsang", "schema": "Person", "properties": {"name": ["曾志强"], "alias": ["TSANG Chi Keung"]}}])
    out = gate_svc.rescreen_and_enforce(ctx, actor="officer")
    assert out.rescreen.changes and out.status_changes == (("late", "suspended"),)
    assert ctx.store.customer("late").status is iss.CustomerStatus.SUSPENDED
    assert len(out.cases) == 1 and len(out.freezes) == 1
    freeze_id, approval_id = out.freezes[0]
    assert not chain.is_frozen(holder.wallet)  # nothing on chain before a second person approves
    with pytest.raises(BauhiniaError):
        c.approvals.approve(approval_id, actor="officer", roles={"compliance"})  # the maker cannot approve
    done = c.approvals.approve(approval_id, actor="officer2", roles={"compliance"})
    assert done.status.value == "executed", done.last_error
    assert chain.is_frozen(holder.wallet) and issuer.ctx.chains[HKD].is_frozen(holder.wallet)
    assert chain.total_supply() == supply  # frozen coins stay in supply
    assert svc.supply_check(ctx, CNH)["difference_base_units"] == 0
    assert c.compliance.get_freeze(freeze_id).state.value == "executed"
    # refused customers cannot redeem
    with pytest.raises(RefusedError):
        svc.request_redemption(ctx, iss.RedemptionRequest("late", Currency.BCNH, 1_000_00, holder.wallet,
                                                          holder.bank_account, "r-late"))


def test_demo_scene_screens_monitors_and_handles_one_alert(tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    from bauhinia.entrypoints.compliance_demo import compliance_demo_steps

    listed_li = {"id": "p-li", "schema": "Person", "properties": {"name": ["Fangwei LI"]}}
    issuer = make_issuer(tmp_path / "data", screener=screener_for(tmp_path, extra=[listed_li]))
    try:
        a = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
        b = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
        issuer.drop_notification([issuer.deposit(a, 250_000_00, "I1"), issuer.deposit(b, 100_000_00, "I2")], NOW)
        svc.ingest_bank_files(issuer.ctx)
        assert svc.run_subscriptions(issuer.ctx, CNH).minted == 2
        text = StringIO()
        out = compliance_demo_steps(issuer, Console(file=text, width=160))
    finally:
        issuer.container.close()
    assert out["customers"] == {"szx-hk": "accepted", "kln-imp": "accepted"}
    assert out["probes"]["李方伟"] >= 0.85 and out["probes"]["李方偉"] >= 0.85 and out["probes"]["Li Fang-wei"] >= 0.85
    assert out["prospect"] == "refused"
    assert "structuring" in out["alerts"]
    assert out["case"]["state"] == "closed" and all(Path(f).is_file() for f in out["case"]["files"])
    assert "STR-CASE-" in text.getvalue()
    # the STR is filed on the customer whose planted cash deposits raised the structuring alert, not another one
    assert out["alert"] == {"rule": "structuring", "subject": "kln-imp"}
    assert out["case"]["subject"] == "kln-imp"
    str_json = next(Path(f) for f in out["case"]["files"] if f.endswith(".json"))
    assert "kln-imp" in str_json.read_text(encoding="utf-8")
    assert "szx-hk" not in json.dumps(out["case"]["report"].get("subject", out["case"]["report"]))
    # figures are written for people: no float exponents, rates as percentages with their bps
    printed = text.getvalue()
    assert "e-0" not in printed and not re.search(r"\d bps of it", printed)
