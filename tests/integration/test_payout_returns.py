"""Returned payouts and bank charges (issue 21 item 1): the payee's bank sends a redemption's payout back; the
money is booked, the redemption reopened (paid -> payout_returned), and a second person agrees to pay it again to a
verified account of the customer, as a new payout attempt that the bank's debit then settles. A return that fits
no paid payout goes to suspense with an incident; the bank's own charges are booked as the issuer's expense.
Both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, ForbiddenError, ValidationError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Holder, Issuer, make_issuer
from bauhinia.services import issuance as svc
from bauhinia.services import payout_returns

CNH = Currency.CNH
FEE = 150_00  # 10 bps of 150,000.00
PAID = 150_000_00 - FEE


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def _book(issuer: Issuer, book: iss.Book) -> Any:
    return issuer.ctx.ledger.account(iss.book_account_id(CNH, book))


def _payout_files(issuer: Issuer) -> list[Path]:
    return sorted(p for p in issuer.ctx.bank.outbox.iterdir() if "BH-PO-" in p.read_text())


def _redeemed_and_paid(issuer: Issuer) -> tuple[Holder, int, str]:
    """A customer subscribes 200,000.00, redeems 150,000.00; the payout file is written and the bank debits it."""
    ctx = issuer.ctx
    exp = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.fund_gas(exp)
    issuer.drop_notification([issuer.deposit(exp, 200_000_00, "IN-1")], datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).subscriptions == 1
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    red = svc.request_redemption(ctx, iss.RedemptionRequest("exp", Currency.BCNH, 150_000_00, exp.wallet,
                                                            exp.bank_account, "r-1"))
    issuer.chain().transfer_as(exp.key, issuer.chain().redemption_address, minor_to_base_units(150_000_00),
                               idempotency_key="t:r")
    assert svc.run_redemptions(ctx, CNH).burned == 1
    ref = svc.payout_reference(CNH, red.seq)
    issuer.drop_notification([SimEntry(PAID, False, "OUT-1", f"/ROC/{ref}", end_to_end_id=ref)], datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).payouts_settled == 1
    assert ctx.store.redemption(red.seq).status == "paid"
    return exp, red.seq, ref


def _return(ref: str, amount: int = PAID, servicer: str = "RET-1", reason: str = "AC04") -> SimEntry:
    return SimEntry(amount, True, servicer, f"/ROC/{ref}", "Huaxin Electronics (HK) Ltd", "004-555-100200-838",
                    end_to_end_id=ref, return_reason=reason)


def test_a_returned_payout_is_booked_reopened_and_paid_again_after_a_second_person(issuer: Issuer) -> None:
    ctx, approvals = issuer.ctx, issuer.container.approvals
    _exp, seq, ref = _redeemed_and_paid(issuer)
    cash_paid = _book(issuer, iss.Book.RESERVE_CASH).posted
    assert _book(issuer, iss.Book.REDEMPTIONS_PAYABLE).posted == 0

    issuer.drop_notification([_return(ref)], datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert (rep.payouts_returned, rep.suspense, rep.subscriptions) == (1, 0, 0)
    r = ctx.store.redemption(seq)
    assert r.status == "payout_returned" and r.paid_at_ns is None
    # the money is back in the reserve and owed to the holder again (no coins, no money: a liability)
    assert _book(issuer, iss.Book.RESERVE_CASH).posted == cash_paid + PAID
    payable = _book(issuer, iss.Book.REDEMPTIONS_PAYABLE)
    assert payable.balance.credits_posted - payable.balance.debits_posted == PAID
    [why] = [t.reason for t in ctx.store.transitions("redemption", seq) if t.to_status == "payout_returned"]
    assert "AC04" in why
    # reading the same return again books nothing twice
    issuer.drop_notification([_return(ref)], datetime.now(UTC))
    again = svc.ingest_bank_files(ctx)
    assert (again.payouts_returned, again.duplicate_entries) == (0, 1)
    assert _book(issuer, iss.Book.RESERVE_CASH).posted == cash_paid + PAID

    # to pay again: only to a verified account of the customer, asked by one person, agreed by another
    with pytest.raises(ValidationError) as unverified:
        payout_returns.request_payout_retry(ctx, seq, "new account from the customer", maker="ops-a",
                                            bank_account="004-999-000000-111")
    assert unverified.value.code == "bank_account_not_verified"
    svc.add_bank_account(ctx, iss.VerifiedBankAccount("exp", "004-555-200300-001", "BBAN",
                                                      "Huaxin Electronics (HK) Ltd", CNH, "HSBCHKHHXXX"))
    approval = payout_returns.request_payout_retry(ctx, seq, "the customer closed the old account",
                                                   maker="ops-a", bank_account="004-555-200300-001")
    assert ctx.store.redemption(seq).status == "payout_returned"  # nothing moves before the second person
    with pytest.raises(ForbiddenError):
        approvals.approve(approval, actor="ops-a", roles=["treasury"])
    with pytest.raises(ForbiddenError):
        approvals.approve(approval, actor="officer-c", roles=["compliance"])  # treasury or admin decides
    assert approvals.approve(approval, actor="treasurer-b", roles=["treasury"]).status == "executed"
    r = ctx.store.redemption(seq)
    assert (r.status, r.bank_account, r.payout_batch) == ("burned", "004-555-200300-001", None)
    cash = _book(issuer, iss.Book.RESERVE_CASH)
    assert cash.balance.credits_pending == PAID  # held for the new attempt

    files_before = _payout_files(issuer)
    assert svc.run_redemptions(ctx, CNH).payout_files
    [new_file] = [p for p in _payout_files(issuer) if p not in files_before]
    text = new_file.read_text()
    assert "004-555-200300-001" in text and ref in text and "004-555-100200-838" not in text
    assert ctx.store.redemption(seq).status == "payout_instructed"

    issuer.drop_notification([SimEntry(PAID, False, "OUT-2", f"/ROC/{ref}", end_to_end_id=ref)], datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).payouts_settled == 1
    assert ctx.store.redemption(seq).status == "paid"
    payable, cash = _book(issuer, iss.Book.REDEMPTIONS_PAYABLE), _book(issuer, iss.Book.RESERVE_CASH)
    assert payable.balance.credits_posted == payable.balance.debits_posted  # owed nothing any more
    assert (cash.posted, cash.balance.credits_pending) == (cash_paid, 0)  # paid once, net
    statuses = [t.to_status for t in ctx.store.transitions("redemption", seq)]
    assert statuses[-4:] == ["payout_returned", "burned", "payout_instructed", "paid"]
    # once paid again, a second retry is refused
    with pytest.raises(ConflictError):
        payout_returns.request_payout_retry(ctx, seq, "again", maker="ops-a")


def test_a_payout_returned_the_day_it_was_debited_is_booked_in_order(issuer: Issuer) -> None:
    ctx = issuer.ctx
    exp = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.fund_gas(exp)
    issuer.drop_notification([issuer.deposit(exp, 200_000_00, "IN-1")], datetime.now(UTC))
    svc.ingest_bank_files(ctx)
    svc.run_subscriptions(ctx, CNH)
    red = svc.request_redemption(ctx, iss.RedemptionRequest("exp", Currency.BCNH, 150_000_00, exp.wallet,
                                                            exp.bank_account, "r-1"))
    issuer.chain().transfer_as(exp.key, issuer.chain().redemption_address, minor_to_base_units(150_000_00),
                               idempotency_key="t:r")
    svc.run_redemptions(ctx, CNH)
    ref = svc.payout_reference(CNH, red.seq)
    # the statement shows the return before the debit: the debit is settled first all the same
    issuer.drop_statement([_return(ref), SimEntry(PAID, False, "OUT-1", f"/ROC/{ref}", end_to_end_id=ref)],
                          datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert (rep.payouts_settled, rep.payouts_returned, rep.suspense) == (1, 1, 0)
    assert ctx.store.redemption(red.seq).status == "payout_returned"


def test_a_return_that_fits_no_paid_payout_goes_to_suspense_with_an_incident(issuer: Issuer) -> None:
    ctx = issuer.ctx
    _exp, seq, ref = _redeemed_and_paid(issuer)
    # the bank took its charge out of the return: not the amount paid, so a person decides
    issuer.drop_notification([_return(ref, amount=PAID - 25_00, servicer="RET-SHORT")], datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert (rep.payouts_returned, rep.suspense) == (0, 1)
    assert ctx.store.redemption(seq).status == "paid"
    [credit] = ctx.store.suspense()
    assert int(credit.amount_minor) == PAID - 25_00
    assert _book(issuer, iss.Book.SUSPENSE).posted == PAID - 25_00
    [incident] = [i for i in ctx.reserves.list_incidents() if i.incident_id in rep.incidents]
    assert "returned payment" in incident.summary
    assert json.loads(incident.details_json)["movement"] == "return_unmatched"
    # a return quoting a redemption that was never paid: suspense too
    issuer.drop_notification([_return(svc.payout_reference(CNH, 999), servicer="RET-GHOST")], datetime.now(UTC))
    ghost = svc.ingest_bank_files(ctx)
    assert (ghost.payouts_returned, ghost.suspense, len(ghost.incidents)) == (0, 1, 1)


def test_bank_charges_are_the_issuers_expense_and_shown_to_a_person(issuer: Issuer) -> None:
    ctx = issuer.ctx
    cash_before = _book(issuer, iss.Book.RESERVE_CASH).posted
    charge = SimEntry(38_00, False, "CHG-NOV", "ACCOUNT MAINTENANCE FEE NOV", bank_code=("ACMT", "MDOP", "CHRG"))
    issuer.drop_notification([charge], datetime.now(UTC))
    rep = svc.ingest_bank_files(ctx)
    assert rep.bank_charges == 1 and len(rep.incidents) == 1
    expense = _book(issuer, iss.Book.BANK_CHARGES)
    assert (expense.balance.debits_posted, expense.balance.credits_posted) == (38_00, 0)
    assert _book(issuer, iss.Book.RESERVE_CASH).posted == cash_before - 38_00  # ledger cash = bank cash
    [incident] = [i for i in ctx.reserves.list_incidents() if i.incident_id in rep.incidents]
    assert incident.severity == "low" and "bank charge" in incident.summary
    issuer.drop_notification([charge], datetime.now(UTC))  # the same entry again: not booked twice
    assert svc.ingest_bank_files(ctx).bank_charges == 0
    assert _book(issuer, iss.Book.BANK_CHARGES).balance.debits_posted == 38_00
    # a debit without the charge code and without a reference is still unexplained, not an expense
    issuer.drop_notification([SimEntry(12_00, False, "DBT-X", "UNKNOWN")], datetime.now(UTC))
    odd = svc.ingest_bank_files(ctx)
    assert (odd.bank_charges, odd.unexplained_movements) == (0, 1)
    assert _book(issuer, iss.Book.BANK_CHARGES).balance.debits_posted == 38_00
