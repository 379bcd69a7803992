"""Processes that share a signing key (replicas of `bauhinia run`, two API workers) never sign two transactions with
one nonce, and a burn whose nonce another transaction took anyway is reversed and burned again, paid once (issue
15: three replicas did not drain; issue 14: claims, not reads), on SQLite and PostgreSQL with the revm chain.

On the code before: each process kept its own next nonce after its first send, so the second process's next
transaction reused a nonce the first had taken, was dropped, and a dropped burn held its redemption for good.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia import faults
from bauhinia.adapters.chain.journal import NonceTaken, TxJournal
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.domain import issuance as iss
from bauhinia.domain.chain import ChainOp, ChainTxState
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
    faults.disarm()


def _second_process(issuer: Issuer) -> TxSender:
    """Another process's sender: the same node and journal database, its own memory of nonces."""
    first = issuer.chain().sender
    return TxSender(first.w3, TxJournal(first.journal.engine), poll_interval_s=0.0)


def _self_transfer(sender: TxSender, account: Any, key: str) -> Any:
    return sender.send(account=account, op=ChainOp.TRANSFER, idempotency_key=key, to=account.address, data="0x",
                       gas=21_000, preflight=False)


def test_two_processes_with_one_key_take_turns_without_dropping(issuer: Issuer) -> None:
    chain = issuer.chain()
    a, b = chain.sender, _second_process(issuer)
    minter = chain.keys.minter
    sent = [_self_transfer(a, minter, "a-1"), _self_transfer(b, minter, "b-1"), _self_transfer(a, minter, "a-2"),
            _self_transfer(b, minter, "b-2"), _self_transfer(a, minter, "a-3")]
    assert all(t.succeeded for t in sent)
    rows = [a.journal.get(t.idempotency_key) for t in sent]
    assert [r.state for r in rows if r is not None] == ["mined"] * 5  # none dropped
    nonces = [r.nonce for r in rows if r is not None]
    assert nonces == list(range(nonces[0], nonces[0] + 5))  # one nonce each, in the order sent


def test_a_nonce_journaled_by_a_process_that_died_is_not_signed_again(issuer: Issuer) -> None:
    chain = issuer.chain()
    a, b = chain.sender, _second_process(issuer)
    minter = chain.keys.minter
    _self_transfer(a, minter, "warm")  # a's memory of the next nonce is now set
    faults.arm("chain.after_journal", 1)
    with pytest.raises(faults.SimulatedCrash):
        _self_transfer(b, minter, "b-died")  # journaled, never broadcast
    died = a.journal.get("b-died")
    assert died is not None and died.state == "submitted"
    with pytest.raises(NonceTaken):  # the journal refuses a second live row with that nonce
        from dataclasses import replace

        a.journal.insert(replace(died, idempotency_key="twin", tx_hash="0x" + "ab" * 32), 1)
    after = _self_transfer(a, minter, "a-after")  # the next nonce; the node's gap is filled with the journaled one
    assert after.succeeded
    assert a.journal.get("a-after").nonce == died.nonce + 1
    assert a.refresh("b-died", 0).succeeded is True  # mined once, from its journaled bytes


def _holder_with_coins(issuer: Issuer, amount_minor: int) -> Holder:
    holder = issuer.add_holder("drop", "Huaxin Electronics DROP (HK) Ltd", "004-555-100299-838")
    issuer.fund_gas(holder)
    issuer.drop_notification([issuer.deposit(holder, amount_minor, "IN-drop")], NOW)
    assert svc.ingest_bank_files(issuer.ctx).subscriptions == 1
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 1
    return holder


def test_a_dropped_burn_is_reversed_burned_again_and_paid_once(issuer: Issuer) -> None:
    holder = _holder_with_coins(issuer, 5_000_00)
    red = svc.request_redemption(issuer.ctx, iss.RedemptionRequest(holder.customer_id, Currency.BCNH, 2_000_00,
                                                                   holder.wallet, holder.bank_account, "r-drop"))
    chain = issuer.chain()
    chain.transfer_as(holder.key, chain.redemption_address, minor_to_base_units(2_000_00), idempotency_key="in:drop")
    faults.arm("chain.after_journal", 1)  # the burn is journaled; the process dies before broadcasting it
    with pytest.raises(faults.SimulatedCrash):
        svc.run_redemptions(issuer.ctx, CNH)
    burned = issuer.ctx.store.redemption(red.seq)
    assert burned.status == "burned"
    row = chain.sender.journal.get(burned.burn_key)
    # meanwhile someone uses the minter key outside the platform and takes the burn's nonce
    minter = chain.keys.minter
    signed = minter.sign_transaction({"to": minter.address, "value": 0, "gas": 21_000, "nonce": row.nonce,
                                      "chainId": chain.sender.chain_id, "maxFeePerGas": 10**11,
                                      "maxPriorityFeePerGas": 10**9, "type": 2})
    chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    out = svc.run_redemptions(issuer.ctx, CNH)  # the gate offers the burn again: dropped, so reversed
    assert out.payout_files == []
    assert chain.sender.journal.get(burned.burn_key).state == ChainTxState.DROPPED.value
    again = issuer.ctx.store.redemption(red.seq)
    assert again.status == "awaiting_coins" and again.burn_key is None
    second = svc.run_redemptions(issuer.ctx, CNH)  # matched again, burned under the next attempt's key
    assert second.burned == 1
    paid = svc.run_redemptions(issuer.ctx, CNH)
    assert issuer.ctx.store.redemption(red.seq).status == "payout_instructed"
    assert len(second.payout_files) + len(paid.payout_files) == 1
    hist = [t.to_status for t in issuer.ctx.store.transitions("redemption", red.seq)]
    assert hist == ["awaiting_coins", "burned", "awaiting_coins", "burned", "payout_instructed"]
    posted = issuer.ctx.ledger.account(iss.book_account_id(CNH, Book.COINS_OUTSTANDING)).posted
    assert chain.total_supply() == minor_to_base_units(int(posted)) == minor_to_base_units(3_000_00)
    assert issuer.ctx.ledger.check_invariants().ok
