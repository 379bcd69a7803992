"""No money leaves before the chain is final, and reorganisations heal without an operator (issue 14, item 4), on
SQLite and PostgreSQL with the in-process revm chain and its `reorg` control.

On the code before: the payout file was written as soon as the burn was mined; after a reorganisation that left
the holder's transfer out, the re-sent burn reverted, the journal still said `mined, succeeded`, and the holder
kept the coins and was paid; the indexer then undid orphaned transfers oldest first and stopped on
`negative_balance`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.adapters.chain.indexer import holder_balances_of
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Holder, Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Issuer:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def _node(issuer: Issuer) -> Any:
    return issuer.chain().w3.provider.node


def _depth(issuer: Issuer, *, chain: int, indexer: int) -> None:
    """Confirmations the coin's chain adapter requires before money moves, and those its indexer waits for."""
    issuer.chain().confirmations = chain
    issuer.container.indexers[CNH].confirmations = indexer


def _posted(issuer: Issuer, book: Book) -> int:
    return int(issuer.ctx.ledger.account(iss.book_account_id(CNH, book)).posted)


def _books_match_chain(issuer: Issuer) -> None:
    assert issuer.chain().total_supply() == minor_to_base_units(_posted(issuer, Book.COINS_OUTSTANDING))
    assert issuer.ctx.ledger.check_invariants().ok


def _holder_with_coins(issuer: Issuer, amount_minor: int, cid: str = "exp") -> Holder:
    holder = issuer.add_holder(cid, f"Huaxin Electronics {cid.upper()} (HK) Ltd", f"004-555-1002{len(cid):02d}-838")
    issuer.fund_gas(holder)
    issuer.drop_notification([issuer.deposit(holder, amount_minor, f"IN-{cid}")], NOW)
    assert svc.ingest_bank_files(issuer.ctx).subscriptions == 1
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 1
    return holder


def _redeem(issuer: Issuer, holder: Holder, amount_minor: int, key: str) -> tuple[Any, str]:
    """Ask to redeem and send the coins in; returns the redemption and the hash of the holder's transfer."""
    red = svc.request_redemption(issuer.ctx, iss.RedemptionRequest(holder.customer_id, Currency.BCNH, amount_minor,
                                                                   holder.wallet, holder.bank_account, key))
    chain = issuer.chain()
    sent = chain.transfer_as(holder.key, chain.redemption_address, minor_to_base_units(amount_minor),
                             idempotency_key=f"in:{key}")
    return red, sent.tx_hash


def _payout_references(issuer: Issuer) -> list[str]:
    outbox = issuer.settings.bank_dir() / "outbox"
    found: list[str] = []
    for f in sorted(outbox.glob("*.xml")):
        found += re.findall(r"<(?:\w+:)?EndToEndId>(RDM-CNH-\d+)<", f.read_text())  # one per instruction
    return found


def test_a_payout_waits_until_the_burn_is_deep_enough(issuer: Issuer) -> None:
    _depth(issuer, chain=3, indexer=3)
    holder = _holder_with_coins(issuer, 5_000_00)
    red, _ = _redeem(issuer, holder, 2_000_00, "r-depth")
    node = _node(issuer)
    # the holder's transfer is not yet 3 blocks deep: not indexed, nothing burned
    assert svc.run_redemptions(issuer.ctx, CNH).burned == 0
    node.mine(3)
    first = svc.run_redemptions(issuer.ctx, CNH)
    assert first.burned == 1 and first.payout_files == []  # burned, but the burn is 1 block deep
    assert issuer.ctx.store.redemption(red.seq).status == "burned"
    node.mine(1)
    assert svc.run_redemptions(issuer.ctx, CNH).payout_files == []  # 2 deep: still waiting
    node.mine(1)
    assert svc.run_redemptions(issuer.ctx, CNH).payout_files == []  # 3 deep: a 3-block reorg could still undo it
    node.mine(1)
    paid = svc.run_redemptions(issuer.ctx, CNH)
    assert len(paid.payout_files) == 1
    assert issuer.ctx.store.redemption(red.seq).status == "payout_instructed"
    assert _payout_references(issuer) == [svc.payout_reference(CNH, red.seq)]
    _books_match_chain(issuer)


def test_a_reorg_that_drops_the_holders_transfer_reverses_the_burn_and_pays_once(issuer: Issuer) -> None:
    # The indexer trusts the head (0) while payouts wait for 2 blocks: a reorganisation deeper than what the
    # indexer waited for removes the holder's transfer after it was matched and burned.
    _depth(issuer, chain=2, indexer=0)
    holder = _holder_with_coins(issuer, 5_000_00)
    red, transfer_in = _redeem(issuer, holder, 2_000_00, "r-reorg")
    out = svc.run_redemptions(issuer.ctx, CNH)
    assert out.burned == 1 and out.payout_files == []
    node = _node(issuer)
    lost = node.reorg(2, drop={transfer_in})  # the transfer in and the burn after it are orphaned
    assert lost and lost[0] == transfer_in
    node.mine(2)
    again = svc.run_redemptions(issuer.ctx, CNH)
    assert again.payout_files == []
    back = issuer.ctx.store.redemption(red.seq)
    assert back.status == "awaiting_coins" and back.burn_key is None
    assert issuer.chain().balance_of(holder.wallet) == minor_to_base_units(5_000_00)  # kept the coins, unpaid
    _books_match_chain(issuer)
    assert _payout_references(issuer) == []
    # the holder's wallet offers its transfer again (the same signed bytes): a new burn attempt, booked again,
    # paid once
    chain = issuer.chain()
    assert chain.refresh("in:r-reorg").succeeded is True
    assert svc.run_redemptions(issuer.ctx, CNH).burned == 1
    node.mine(2)
    assert len(svc.run_redemptions(issuer.ctx, CNH).payout_files) == 1
    assert _payout_references(issuer) == [svc.payout_reference(CNH, red.seq)]
    hist = [t.to_status for t in issuer.ctx.store.transitions("redemption", red.seq)]
    assert hist == ["awaiting_coins", "burned", "awaiting_coins", "burned", "payout_instructed"]
    _books_match_chain(issuer)
    assert svc.recover(issuer.ctx)["paid_burns_lost"] == 0
    # the bank pays it: the hold of the second burn attempt is posted out (the first was released)
    ref = svc.payout_reference(CNH, red.seq)
    issuer.drop_statement([SimEntry(red.amount_minor - back.fee_minor, False, "OUT-R", f"/ROC/{ref}",
                                    end_to_end_id=ref)], NOW)
    assert svc.ingest_bank_files(issuer.ctx).payouts_settled == 1
    assert issuer.ctx.store.redemption(red.seq).status == "paid"
    cash = issuer.ctx.ledger.account(iss.book_account_id(CNH, Book.RESERVE_CASH))
    assert cash.posted == cash.available  # nothing left held
    assert issuer.ctx.ledger.check_invariants().ok


def test_a_paid_burn_lost_to_a_deep_reorg_opens_an_incident(issuer: Issuer) -> None:
    _depth(issuer, chain=1, indexer=0)
    holder = _holder_with_coins(issuer, 5_000_00)
    red, transfer_in = _redeem(issuer, holder, 1_000_00, "r-deep")
    assert svc.run_redemptions(issuer.ctx, CNH).payout_files == []  # burned, 1 block deep
    _node(issuer).mine(1)
    assert len(svc.run_redemptions(issuer.ctx, CNH).payout_files) == 1  # one block on top of it: paid
    _node(issuer).reorg(4, drop={transfer_in})  # deeper than the depth the payout waited for
    done = svc.recover(issuer.ctx)
    assert done["paid_burns_lost"] == 1
    incidents = [i for i in issuer.ctx.reserves.list_incidents() if i.kind == "paid_burn_lost"]
    assert [i.incident_id for i in incidents] == [f"paid-burn-lost-cnh-{red.seq}"]
    svc.recover(issuer.ctx)  # idempotent: one incident per redemption
    assert len([i for i in issuer.ctx.reserves.list_incidents() if i.kind == "paid_burn_lost"]) == 1


def test_a_mint_reorganised_out_is_sent_again_or_reversed_when_it_then_reverts(issuer: Issuer) -> None:
    _depth(issuer, chain=2, indexer=0)
    ctx = issuer.ctx
    holder = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.drop_notification([issuer.deposit(holder, 3_000_00, "IN-A")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    batch = ctx.store.mint_batches("mined")[0]
    node = _node(issuer)
    chain = issuer.chain()
    mint_hash = chain.tx(batch.idempotency_key).tx_hash
    node.reorg(1, drop={mint_hash})
    assert chain.total_supply() == 0
    # the journal offers the same bytes again: mined once more, and final when deep enough
    assert svc.settle_mints(ctx, CNH) == {"final": 0, "waiting": 1, "reversed": 0}
    assert chain.total_supply() == minor_to_base_units(3_000_00)
    node.mine(2)
    assert svc.settle_mints(ctx, CNH)["final"] == 1
    _books_match_chain(issuer)

    # a second credit; its mint is lost in a reorganisation and the coin is paused before it is offered again
    issuer.drop_notification([issuer.deposit(holder, 4_000_00, "IN-B")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    second = ctx.store.mint_batches("mined")[0]
    node.reorg(1, drop={chain.tx(second.idempotency_key).tx_hash})
    chain.pause(idempotency_key="pause-after-reorg")
    svc.settle_mints(ctx, CNH)  # offered again: reverts (paused)
    node.mine(2)
    assert svc.settle_mints(ctx, CNH)["reversed"] == 1
    sub = next(s for s in ctx.store.subscriptions() if s.amount_minor == 4_000_00)
    assert sub.status == "held" and "reverted" in (sub.reason or "")
    _books_match_chain(issuer)
    chain.unpause(idempotency_key="unpause-after-reorg")
    assert svc.run_subscriptions(ctx, CNH).minted == 1  # a new attempt: a new key, booked again
    assert chain.balance_of(holder.wallet) == minor_to_base_units(7_000_00)
    _books_match_chain(issuer)


def test_the_indexer_undoes_orphaned_transfers_newest_first(issuer: Issuer) -> None:
    _depth(issuer, chain=0, indexer=0)
    holder = _holder_with_coins(issuer, 5_000_00)
    chain = issuer.chain()
    node = _node(issuer)
    issuer.ctx.index(CNH)
    # a second mint to the holder, then the holder passes those coins on, both in blocks a reorg orphans
    issuer.drop_notification([issuer.deposit(holder, 2_000_00, "IN-2")], NOW)
    svc.ingest_bank_files(issuer.ctx)
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 1
    friend = Account.create().address
    passed = chain.transfer_as(holder.key, friend, minor_to_base_units(7_000_00), idempotency_key="pass-on")
    issuer.ctx.index(CNH)
    second_mint = chain.tx(issuer.ctx.store.mint_batches()[-1].idempotency_key)
    depth = len(node.blocks) - second_mint.block_number
    node.reorg(depth, drop={second_mint.tx_hash, passed.tx_hash})  # the second mint and the transfer are gone
    issuer.ctx.index(CNH)  # before: negative_balance, and every later run failed
    balances = holder_balances_of(issuer.container.engine, issuer.ctx.coin_cursors[CNH])
    assert balances.get(friend.lower(), 0) == 0
    assert balances[holder.wallet.lower()] == chain.balance_of(holder.wallet) == minor_to_base_units(5_000_00)


def test_byte_identical_transactions_under_two_keys_are_merged_not_a_crash(issuer: Issuer) -> None:
    from dataclasses import replace

    journal = issuer.chain().sender.journal
    holder = _holder_with_coins(issuer, 1_000_00)
    chain = issuer.chain()
    sent = chain.transfer_as(holder.key, Account.create().address, 1, idempotency_key="pay-once")
    row = journal.get("pay-once")
    # a second runner signed the very same call with the same nonce under another key (before content keys)
    twin = journal.insert(replace(row, idempotency_key="pay-once-run-2"), 1)
    assert twin.idempotency_key == "pay-once" and twin.tx_hash == sent.tx_hash
    assert journal.get("pay-once-run-2") is None


def test_mints_work_on_a_chain_whose_blocks_lag_the_wall_clock(tmp_path: Path, db_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle node's latest block is old, and a dry run is checked against it: an attestation dated by the wall
    clock was "in the future" there and every mint failed. Before: `attestation in the future` on each run."""
    import time

    from web3 import Web3

    from bauhinia.adapters.chain import embedded
    from bauhinia.adapters.chain.revm_provider import RevmProvider

    monkeypatch.setattr(embedded, "make_embedded_w3",
                        lambda engine="revm": Web3(RevmProvider(clock_s=lambda: time.time() - 2 * 3600)))
    lagging = make_issuer(tmp_path / "lag", database_url=db_url)
    try:
        holder = lagging.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
        lagging.drop_notification([lagging.deposit(holder, 2_500_00, "IN-LAG")], NOW)
        svc.ingest_bank_files(lagging.ctx)
        report = svc.run_subscriptions(lagging.ctx, CNH)
        assert report.refused == [] and report.minted == 1
        status = lagging.chain().status()
        assert status.attested_at_s <= status.head_time_s < time.time() - 3600
        _books_match_chain(lagging)
    finally:
        lagging.container.close()


def test_a_payout_after_the_banks_cut_off_executes_the_next_business_day(issuer: Issuer) -> None:
    from datetime import date, time

    ctx = issuer.ctx
    ctx.payout_cutoff = {CNH: time(16, 0)}
    friday_evening = int(datetime(2026, 12, 4, 10, 0, tzinfo=UTC).timestamp() * 1e9)  # 18:00 HKT: after
    friday_early = int(datetime(2026, 12, 4, 1, 0, tzinfo=UTC).timestamp() * 1e9)  # 09:00 HKT: before
    assert svc.payout_execution_date(ctx, CNH, friday_early) == date(2026, 12, 4)
    assert svc.payout_execution_date(ctx, CNH, friday_evening) == date(2026, 12, 7)  # Monday
    saturday = int(datetime(2026, 12, 5, 1, 0, tzinfo=UTC).timestamp() * 1e9)
    assert svc.payout_execution_date(ctx, CNH, saturday) == date(2026, 12, 7)
    ctx.payout_cutoff = {}
    assert svc.payout_execution_date(ctx, CNH, friday_evening) == date(2026, 12, 4)
