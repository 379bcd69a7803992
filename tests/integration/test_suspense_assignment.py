"""Funds in suspense can be assigned to a customer (issue 21 item 1): a bank receipt whose reference matched no
customer waits in suspense; an operator asks to credit it to the customer it belongs to, a second person approves,
and it is then received as the customer's subscription (suspense down, the customer's funds up, in one entry) and
minted through every usual check. The claim is status-checked: it is assigned once. Both stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, ForbiddenError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def _posted(issuer: Issuer, book: iss.Book) -> int:
    return int(issuer.ctx.ledger.account(iss.book_account_id(CNH, book)).posted)


def test_a_suspense_credit_is_assigned_once_with_a_second_person_and_minted(issuer: Issuer) -> None:
    ctx, approvals = issuer.ctx, issuer.container.approvals
    h = issuer.add_holder("kln", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(h)
    # the customer forgot the reference: the bank's remittance names no customer
    issuer.drop_notification([SimEntry(2_500_00, True, "IN-NOREF", "INVOICE 4471 PAYMENT", "Kowloon Importers Ltd",
                                       "024-888-300400-101")], datetime.now(UTC))
    assert svc.ingest_bank_files(ctx).suspense == 1
    [credit] = ctx.store.suspense()
    assert _posted(issuer, iss.Book.SUSPENSE) == 2_500_00 and ctx.store.subscriptions() == []

    approval = svc.request_suspense_assignment(ctx, int(credit.seq), "kln", "payer and account are the customer's",
                                               maker="ops-a")
    assert _posted(issuer, iss.Book.SUSPENSE) == 2_500_00  # nothing moves before the approval
    with pytest.raises(ForbiddenError):
        approvals.approve(approval, actor="ops-a", roles=["treasury"])  # never the maker
    done = approvals.approve(approval, actor="treasurer-b", roles=["treasury"])
    assert done.status == "executed"
    [sub] = ctx.store.subscriptions()
    assert (sub.customer_id, sub.amount_minor, sub.status) == ("kln", 2_500_00, "received")
    assert _posted(issuer, iss.Book.SUSPENSE) == 0
    assert ctx.store.suspense() == [] and ctx.store.suspense("assigned")[0].seq == credit.seq
    with pytest.raises(ConflictError):  # assigned once
        svc.request_suspense_assignment(ctx, int(credit.seq), "kln", "again", maker="ops-a")
    with pytest.raises(ConflictError):  # an executor run twice claims nothing the second time
        svc.assign_suspense(ctx, {"suspense": int(credit.seq), "customer_id": "kln"}, "approval:again")
    assert len(ctx.store.subscriptions()) == 1

    assert svc.run_subscriptions(ctx, CNH).minted == 1
    assert _posted(issuer, iss.Book.COINS_OUTSTANDING) == 2_500_00
