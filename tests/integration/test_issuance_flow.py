"""Subscription and redemption at par, end to end on SQLite and PostgreSQL with the in-process EVM."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import BauhiniaError, ConflictError, RefusedError
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Hong Kong


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Issuer:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def posted(issuer: Issuer, book: Book, fiat: Currency = CNH) -> int:
    return issuer.ctx.ledger.account(iss.book_account_id(fiat, book)).posted


def state(issuer: Issuer) -> tuple:
    """Everything a bad file must leave unchanged."""
    ctx = issuer.ctx
    return (
        tuple(posted(issuer, b) for b in Book),
        len(ctx.store.subscriptions()),
        ctx.ledger.check_invariants().transfers_checked,
        issuer.chain().total_supply(),
    )


def test_subscribe_pay_redeem_and_settle(issuer: Issuer) -> None:
    ctx = issuer.ctx
    imp = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    exp = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.fund_gas(imp, exp)
    deposits = [issuer.deposit(imp, 1_000_000_00, "IN-1"), issuer.deposit(exp, 50_000_00, "IN-2"),
                SimEntry(777_00, True, "IN-3", "no reference here", "Stranger Ltd")]
    issuer.drop_notification(deposits, NOW)
    rep = svc.ingest_bank_files(ctx)
    assert (rep.subscriptions, rep.suspense, rep.files) == (2, 1, 1)
    assert posted(issuer, Book.SUSPENSE) == 777_00
    mint = svc.run_subscriptions(ctx, CNH)
    assert mint.minted == 2 and mint.batches == 1
    chain = issuer.chain()
    assert chain.balance_of(imp.wallet) == minor_to_base_units(1_000_000_00)
    assert chain.total_supply() == minor_to_base_units(posted(issuer, Book.COINS_OUTSTANDING))
    # a second run mints nothing more
    assert svc.run_subscriptions(ctx, CNH).minted == 0
    assert chain.total_supply() == minor_to_base_units(1_050_000_00)

    chain.transfer_as(imp.key, exp.wallet, minor_to_base_units(200_000_00), idempotency_key="t:pay")
    req = iss.RedemptionRequest("exp", Currency.BCNH, 150_000_00, exp.wallet, exp.bank_account, "r-1")
    red = svc.request_redemption(ctx, req)
    assert svc.request_redemption(ctx, req).seq == red.seq  # idempotent
    with pytest.raises(ConflictError):
        svc.request_redemption(ctx, iss.RedemptionRequest("exp", Currency.BCNH, 150_001_00, exp.wallet,
                                                          exp.bank_account, "r-1"))
    # nothing happens until the coins arrive
    assert svc.run_redemptions(ctx, CNH).burned == 0
    chain.transfer_as(exp.key, chain.redemption_address, minor_to_base_units(150_000_00), idempotency_key="t:red")
    out = svc.run_redemptions(ctx, CNH)
    assert out.burned == 1 and len(out.payout_files) == 1
    red = ctx.store.redemption(red.seq)
    assert red.status == "payout_instructed"
    assert red.fee_minor == 150_00  # 10 bps, disclosed
    # burn and reserve release in one entry: coins down, the payout held against reserve cash
    assert posted(issuer, Book.COINS_OUTSTANDING) == 900_000_00
    assert chain.total_supply() == minor_to_base_units(900_000_00)
    cash = ctx.ledger.account(iss.book_account_id(CNH, Book.RESERVE_CASH))
    assert cash.posted - cash.available == 149_850_00
    payout_xml = (issuer.settings.bank_dir() / "outbox" / out.payout_files[0]).read_text()
    ref = svc.payout_reference(CNH, red.seq)
    assert ref in payout_xml and "149850.00" in payout_xml and exp.bank_account in payout_xml
    deadline = datetime.fromtimestamp(red.deadline_ns / 1e9, UTC)
    assert deadline > datetime.now(UTC)
    # the statement settles the payout and skips entries booked from the notification
    issuer.drop_statement([*deposits, SimEntry(149_850_00, False, "OUT-1", f"/ROC/{ref}", end_to_end_id=ref)], NOW)
    st = svc.ingest_bank_files(ctx)
    assert st.payouts_settled == 1 and st.duplicate_entries == 3
    assert ctx.store.redemption(red.seq).status == "paid"
    cash = ctx.ledger.account(iss.book_account_id(CNH, Book.RESERVE_CASH))
    assert cash.posted == cash.available == 500_000_00 + 1_050_777_00 - 149_850_00
    assert posted(issuer, Book.FEE_INCOME) == 150_00
    assert ctx.ledger.check_invariants().ok
    hist = [t.to_status for t in ctx.store.transitions("redemption", red.seq)]
    assert hist == ["awaiting_coins", "burned", "payout_instructed", "paid"]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("malformed.xml", b"<Document><BkToCstmrDbtCdtNtfctn>", "bank_file_malformed"),
        ("xxe.xml", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document>&x;'
                    b"</Document>", "bank_file_forbidden_xml"),
        ("bomb.xml", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
                     b"]><Document>&b;</Document>", "bank_file_forbidden_xml"),
    ],
)
def test_bad_files_are_quarantined_and_change_nothing(issuer: Issuer, name: str, content: bytes, code: str) -> None:
    before = state(issuer)
    (issuer.inbox() / name).write_bytes(content)
    rep = svc.ingest_bank_files(issuer.ctx)
    assert [q[1] for q in rep.quarantined] == [code]
    assert (issuer.settings.bank_dir() / "quarantine" / name).exists()
    assert state(issuer) == before


def test_wrong_currency_unknown_account_and_duplicate_statement(issuer: Issuer) -> None:
    ctx = issuer.ctx
    holder = issuer.add_holder("h", "Holder Ltd", "111-1")
    before = state(issuer)
    # an HKD file for the CNH reserve account
    from bauhinia.adapters.bank.simulator import camt054

    (issuer.inbox() / "a-wrong-ccy.xml").write_bytes(
        camt054("W1", NOW, issuer.settings.reserve_account_cnh, "HKD", [issuer.deposit(holder, 100_00, "X1")]))
    (issuer.inbox() / "b-unknown.xml").write_bytes(
        camt054("W2", NOW, "999-999-999", "CNH", [issuer.deposit(holder, 100_00, "X2")]))
    rep = svc.ingest_bank_files(ctx)
    codes = sorted(q[1].removeprefix("bank_file_") for q in rep.quarantined)
    assert codes == ["currency_mismatch", "unknown_account"]
    assert state(issuer) == before
    issuer.drop_notification([issuer.deposit(holder, 100_00, "X3")], NOW, message_id="DUP-1")
    issuer.drop_notification([issuer.deposit(holder, 100_00, "X3")], NOW, message_id="DUP-1")
    rep = svc.ingest_bank_files(ctx)
    assert rep.subscriptions == 1 and [q[1] for q in rep.quarantined] == ["duplicate_statement"]


def test_redemption_to_unverified_account_or_wallet_is_refused(issuer: Issuer) -> None:
    ctx = issuer.ctx
    h = issuer.add_holder("h", "Holder Ltd", "111-1")
    other = issuer.add_holder("o", "Other Ltd", "222-2")
    for bank_account, wallet, code in [("333-3", h.wallet, "bank_account_not_verified"),
                                       ("222-2", h.wallet, "bank_account_not_verified"),
                                       ("111-1", other.wallet, "wallet_not_verified")]:
        with pytest.raises(RefusedError) as exc:
            svc.request_redemption(ctx, iss.RedemptionRequest("h", Currency.BCNH, 100_00, wallet, bank_account,
                                                              f"k-{code}-{bank_account}"))
        assert exc.value.code == code
    assert ctx.store.redemptions() == []


def test_mint_is_held_for_uncleared_customer_and_refused_when_coverage_falls_short(issuer: Issuer) -> None:
    ctx = issuer.ctx
    pending = issuer.add_holder("p", "Pending Ltd", "444-4", cleared=False)
    issuer.drop_notification([issuer.deposit(pending, 100_00, "Y1")], NOW)
    svc.ingest_bank_files(ctx)
    rep = svc.run_subscriptions(ctx, CNH)
    assert rep.minted == 0 and rep.held == 1
    assert ctx.store.subscriptions()[0].reason == "customer not cleared"
    # coverage: with a 50 bps buffer the issuer's capital covers up to 200x; a reserve shortfall is refused
    svc.set_customer_status(ctx, "p", iss.CustomerStatus.CLEARED, "cleared by compliance")
    ctx.buffer_bps = 10**12  # an impossible buffer: every mint must be refused
    rep = svc.run_subscriptions(ctx, CNH)
    assert rep.minted == 0 and "coverage" in rep.refused[0]
    assert issuer.chain().total_supply() == 0
    ctx.buffer_bps = 50
    assert svc.run_subscriptions(ctx, CNH).minted == 1


def test_cnh_coin_without_mainland_approval_refuses_to_mint(tmp_path: Path, sqlite_url: str) -> None:
    issuer = make_issuer(tmp_path / "d", database_url=sqlite_url, approval=None)
    with pytest.raises(RefusedError) as exc:
        svc.run_subscriptions(issuer.ctx, CNH)
    assert exc.value.code == "cnh_coin_without_mainland_approval"
    assert issuer.chain().status().approval_reference == ""
    # the HKD coin needs no such approval
    assert svc.run_subscriptions(issuer.ctx, Currency.HKD).minted == 0
    issuer.container.close()


def test_a_mint_above_the_threshold_waits_for_a_second_approver(issuer: Issuer) -> None:
    ctx = issuer.ctx
    big = issuer.add_holder("big", "Big Trader Ltd", "555-5")
    issuer.drop_notification([issuer.deposit(big, 1_500_000_00, "B1"), issuer.deposit(big, 999_00, "B2")], NOW)
    svc.ingest_bank_files(ctx)
    rep = svc.run_subscriptions(ctx, CNH)
    assert rep.minted == 1 and rep.held == 1  # the small one goes, the large one waits
    held = next(s for s in ctx.store.subscriptions() if s.status == "held")
    assert held.approval_id and "second approver" in held.reason
    assert issuer.chain().balance_of(big.wallet) == minor_to_base_units(999_00)
    # running again opens no second request and still does not mint
    assert svc.run_subscriptions(ctx, CNH).minted == 0
    assert ctx.store.subscription(held.seq).approval_id == held.approval_id
    approvals = issuer.container.approvals
    with pytest.raises(BauhiniaError) as own:
        approvals.approve(held.approval_id, actor=ctx.actor, roles={"treasury"})  # the maker cannot approve
    assert "maker" in str(own.value).lower() or "own" in str(own.value).lower()
    with pytest.raises(BauhiniaError):
        approvals.approve(held.approval_id, actor="ops-1", roles={"operator"})  # not an approver role
    approvals.approve(held.approval_id, actor="treasurer-1", roles={"treasury"})
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    assert issuer.chain().balance_of(big.wallet) == minor_to_base_units(1_500_999_00)
