"""Refunds to the payer (issue 21 item 1): a suspense credit nobody claims and a subscription held because the
payer is not the customer's verified account both go back to the account that paid them. An operator asks, a
second person approves; the credit is claimed once (status-checked), the reserve cash held against the liability
it sat in, a pain.001 written to the payer's account; the bank's debit quoting the refund posts the cash out.
Both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import pytest
from test_compliance_issuance import screener_for

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, ForbiddenError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc
from bauhinia.services import refunds

CNH = Currency.CNH


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


@pytest.fixture()
def screened(tmp_path: Path, db_url: str) -> Any:
    """Compliance wired into issuance: the payer check holds a credit paid from an account not the customer's."""
    issuer = make_issuer(tmp_path / "data", database_url=db_url, screening=True, screener=screener_for(tmp_path))
    yield issuer
    issuer.container.close()


def _account(issuer: Issuer, account_id: int) -> Any:
    return issuer.ctx.ledger.account(account_id)


def _book(issuer: Issuer, book: iss.Book) -> Any:
    return _account(issuer, iss.book_account_id(CNH, book))


def _refund_files(issuer: Issuer) -> list[Path]:
    return sorted(p for p in issuer.ctx.bank.outbox.iterdir() if "BH-RF-" in p.name)


def test_a_suspense_credit_goes_back_to_its_payer_once_with_a_second_person(issuer: Issuer) -> None:
    ctx, approvals = issuer.ctx, issuer.container.approvals
    issuer.drop_notification([SimEntry(1_234_56, True, "IN-STRAY", "GIFT FOR AUNTIE", "Chan Tai Man",
                                       "012-345-678901-001")], datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).suspense == 1
    [credit] = ctx.store.suspense()
    cash_before = _book(issuer, iss.Book.RESERVE_CASH).posted

    approval = refunds.request_refund(ctx, "suspense", int(credit.seq), "the payer is no customer of ours",
                                      maker="ops-a")
    assert _book(issuer, iss.Book.SUSPENSE).posted == 1_234_56 and _refund_files(issuer) == []
    with pytest.raises(ForbiddenError):
        approvals.approve(approval, actor="ops-a", roles=["treasury"])  # never the maker
    assert approvals.approve(approval, actor="treasurer-b", roles=["treasury"]).status == "executed"

    [refund] = ctx.store.refunds()
    assert (refund.source, int(refund.source_seq), int(refund.amount_minor), refund.status) == (
        "suspense", int(credit.seq), 1_234_56, "written")
    # the liability is held out, the reserve cash held for the payment: nothing posted out before the bank pays
    suspense, cash = _book(issuer, iss.Book.SUSPENSE), _book(issuer, iss.Book.RESERVE_CASH)
    assert (suspense.balance.debits_pending, suspense.posted) == (1_234_56, 1_234_56)
    assert (cash.balance.credits_pending, cash.posted) == (1_234_56, cash_before)
    assert ctx.store.suspense() == [] and ctx.store.suspense("refunded")[0].seq == credit.seq

    # the payment file pays the payer's own account, in ISO 4217 CNY, with the refund's end-to-end id
    [file] = _refund_files(issuer)
    root = ET.fromstring(file.read_bytes())
    text = file.read_text()
    reference = refunds.refund_reference(CNH, int(refund.seq))
    assert f">{reference}<" in text and "012-345-678901-001" in text and "Chan Tai Man" in text
    assert {el.get("Ccy") for el in root.iter() if el.get("Ccy")} == {"CNY"}
    assert 'Ccy="CNH"' not in text

    with pytest.raises(ConflictError):  # refunded once
        refunds.request_refund(ctx, "suspense", int(credit.seq), "again", maker="ops-a")
    with pytest.raises(ConflictError):  # an executor run twice claims nothing the second time
        refunds.execute_refund(ctx, {"source": "suspense", "seq": int(credit.seq), "creditor_name": "x",
                                     "creditor_account": "y"}, "approval:again")
    assert len(ctx.store.refunds()) == 1

    # the bank's statement shows the refund leaving: the held cash is posted out
    issuer.drop_notification([SimEntry(1_234_56, False, "OUT-RF1", reference, end_to_end_id=reference)],
                             datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert (rep.refunds_settled, rep.unexplained_movements) == (1, 0)
    assert ctx.store.refund(int(refund.seq)).status == "paid"
    suspense, cash = _book(issuer, iss.Book.SUSPENSE), _book(issuer, iss.Book.RESERVE_CASH)
    assert (suspense.balance.debits_pending, suspense.posted) == (0, 0)
    assert (cash.balance.credits_pending, cash.posted) == (0, cash_before - 1_234_56)
    # the same debit again (the day's statement repeats it under another file) books nothing more
    issuer.drop_notification([SimEntry(1_234_56, False, "OUT-RF1-DUP", reference, end_to_end_id=reference)],
                             datetime.now(UTC))
    again = svc.ingest_bank_files(ctx)
    assert (again.refunds_settled, again.unexplained_movements) == (0, 1)
    assert _book(issuer, iss.Book.RESERVE_CASH).posted == cash_before - 1_234_56


def test_a_subscription_held_on_its_payer_is_refunded_and_never_minted(screened: Issuer) -> None:
    issuer = screened
    ctx, approvals = issuer.ctx, issuer.container.approvals
    h = issuer.add_holder("kln", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(h)
    # paid by a third party: held by the payer check
    issuer.drop_notification([SimEntry(5_000_00, True, "IN-3RD", h.deposit_reference, "Some Other Trading Co",
                                       "999-111-222333-444")], datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    [sub] = ctx.store.subscriptions()
    assert sub.status == "held" and rep.payer_holds
    customer_account = iss.customer_account_id(ctx.store.customer("kln").seq, CNH)

    approval = refunds.request_refund(ctx, "subscription", int(sub.seq), "third-party payment: back to source",
                                      maker="compliance-a")
    approvals.approve(approval, actor="compliance-b", roles=["compliance"])
    [refund] = ctx.store.refunds()
    assert ctx.store.subscription(int(sub.seq)).status == "refunded"
    # the refund goes to the account that paid, not to the customer's verified one
    assert (refund.creditor_name, refund.creditor_account) == ("Some Other Trading Co", "999-111-222333-444")
    funds = _account(issuer, customer_account)
    assert (funds.balance.credits_posted, funds.balance.debits_pending) == (5_000_00, 5_000_00)
    assert svc.run_subscriptions(ctx, CNH).minted == 0  # a refunded subscription is never minted
    assert _book(issuer, iss.Book.COINS_OUTSTANDING).posted == 0
    assert [t.to_status for t in ctx.store.transitions("subscription", int(sub.seq))][-1] == "refunded"

    reference = refunds.refund_reference(CNH, int(refund.seq))
    issuer.drop_notification([SimEntry(5_000_00, False, "OUT-RF2", reference, end_to_end_id=reference)],
                             datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).refunds_settled == 1
    funds = _account(issuer, customer_account)
    assert (funds.balance.debits_posted, funds.balance.debits_pending, funds.posted) == (5_000_00, 0, 0)


def test_a_minted_subscription_or_a_wrong_amount_is_never_refunded(issuer: Issuer) -> None:
    ctx = issuer.ctx
    h = issuer.add_holder("tsw", "Tsuen Wan Metals Ltd", "024-888-300400-202")
    issuer.fund_gas(h)
    issuer.drop_notification([issuer.deposit(h, 800_00, "IN-OK")], datetime.now(UTC))
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    [sub] = ctx.store.subscriptions()
    with pytest.raises(ConflictError) as exc:
        refunds.request_refund(ctx, "subscription", int(sub.seq), "changed their mind", maker="ops-a")
    assert exc.value.code == "subscription_not_refundable"
    with pytest.raises(ValidationError):
        refunds.request_refund(ctx, "invoice", 1, "no such source", maker="ops-a")

    # a suspense credit whose file named no payer account needs the operator to give it
    issuer.drop_notification([SimEntry(300_00, True, "IN-ANON", "NO NAME")], datetime.now(UTC))
    svc.ingest_bank_files(ctx)
    [credit] = ctx.store.suspense()
    with pytest.raises(ValidationError) as missing:
        refunds.request_refund(ctx, "suspense", int(credit.seq), "unknown payer", maker="ops-a")
    assert missing.value.code == "payer_unknown"
    approval = refunds.request_refund(ctx, "suspense", int(credit.seq), "payer called, gave the account",
                                      maker="ops-a", creditor=bnk.Party("Lee Siu Ming",
                                                                        bnk.AccountId("004-555-666777-888", "OTHR")))
    issuer.container.approvals.approve(approval, actor="treasurer-b", roles=["treasury"])
    [refund] = ctx.store.refunds()
    # a debit quoting the refund for another amount is not taken as its settlement: an incident instead
    reference = refunds.refund_reference(CNH, int(refund.seq))
    issuer.drop_notification([SimEntry(299_00, False, "OUT-BAD", reference, end_to_end_id=reference)],
                             datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert (rep.refunds_settled, rep.unexplained_movements) == (0, 1) and rep.incidents
    assert ctx.store.refund(int(refund.seq)).status == "written"


def test_a_refund_whose_file_was_not_written_is_written_by_recovery(issuer: Issuer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = issuer.ctx
    issuer.drop_notification([SimEntry(700_00, True, "IN-CRASH", "??", "Wong Ka Yan", "012-000-111222-333")],
                             datetime.now(UTC))
    svc.ingest_bank_files(ctx)
    [credit] = ctx.store.suspense()
    approval = refunds.request_refund(ctx, "suspense", int(credit.seq), "not ours", maker="ops-a")

    real = type(ctx.bank).write_payment_file

    def crash(self: Any, *a: Any, **k: Any) -> Any:
        raise OSError("disk gone")  # the process dies after the claim committed, before the file

    monkeypatch.setattr(type(ctx.bank), "write_payment_file", crash)
    with pytest.raises(OSError):
        issuer.container.approvals.approve(approval, actor="treasurer-b", roles=["treasury"])
    [refund] = ctx.store.refunds()
    assert refund.status == "instructed" and _refund_files(issuer) == []
    monkeypatch.setattr(type(ctx.bank), "write_payment_file", real)
    assert svc.recover(ctx)["refund_files"] == 1
    assert ctx.store.refund(int(refund.seq)).status == "written" and len(_refund_files(issuer)) == 1
    assert svc.recover(ctx)["refund_files"] == 0
    assert re.search(r"BH-RF-CNH-\d{8}", _refund_files(issuer)[0].name)
