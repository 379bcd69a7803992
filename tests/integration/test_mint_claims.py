"""Money stays right when runners overlap and mints are refused and retried (issue 14, items 1-3), on SQLite and
PostgreSQL with the in-process EVM. On the code before: two runs that had both read the received credits minted
them twice; a refused mint retried later was minted on chain but never booked (same transfer ids, `exists`); a
pending batch with no credits made every later recovery fail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Issuer:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def _outstanding(issuer: Issuer) -> int:
    return int(issuer.ctx.ledger.account(iss.book_account_id(CNH, Book.COINS_OUTSTANDING)).posted)


def _books_match_chain(issuer: Issuer) -> None:
    assert issuer.chain().total_supply() == minor_to_base_units(_outstanding(issuer))
    assert issuer.ctx.ledger.check_invariants().ok


def _credits(issuer: Issuer) -> list[Any]:
    a = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    b = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.drop_notification([issuer.deposit(a, 10_000_00, "IN-1"), issuer.deposit(b, 20_000_00, "IN-2")], NOW)
    assert svc.ingest_bank_files(issuer.ctx).subscriptions == 2
    return [a, b]


def test_two_runners_that_read_the_same_credits_mint_them_once(issuer: Issuer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    holders = _credits(issuer)
    ctx = issuer.ctx
    gate = svc._gate_mint
    overlapped: list[Any] = []
    started: list[bool] = []

    def second_runner_in_between(*args: Any, **kwargs: Any) -> None:
        # Runner A has read the received credits and passed its checks; runner B now runs a whole mint run.
        gate(*args, **kwargs)
        if not started:
            started.append(True)
            overlapped.append(svc.run_subscriptions(ctx, CNH))

    monkeypatch.setattr(svc, "_gate_mint", second_runner_in_between)
    first = svc.run_subscriptions(ctx, CNH)
    assert overlapped[0].minted == 2 and first.minted == 0 and first.batches == 0
    chain = issuer.chain()
    assert [chain.balance_of(h.wallet) for h in holders] == [minor_to_base_units(10_000_00),
                                                              minor_to_base_units(20_000_00)]
    assert _outstanding(issuer) == 30_000_00
    _books_match_chain(issuer)
    assert [s.status for s in ctx.store.subscriptions()] == ["minted", "minted"]


def test_a_refused_mint_retried_later_is_booked_again(issuer: Issuer) -> None:
    _credits(issuer)
    ctx = issuer.ctx
    chain = issuer.chain()
    chain.pause(idempotency_key="pause-1")
    refused = svc.run_subscriptions(ctx, CNH)
    assert refused.minted == 0
    assert _outstanding(issuer) == 0 and chain.total_supply() == 0
    assert {s.status for s in ctx.store.subscriptions()} == {"held"}
    chain.unpause(idempotency_key="unpause-1")
    again = svc.run_subscriptions(ctx, CNH)
    assert again.minted == 2
    assert _outstanding(issuer) == 30_000_00  # booked again under the second attempt's transfer ids
    _books_match_chain(issuer)
    # A third round: refused, retried, still one coin per fiat.
    assert svc.run_subscriptions(ctx, CNH).minted == 0
    _books_match_chain(issuer)


def test_recovery_sets_an_empty_batch_aside_and_goes_on(issuer: Issuer) -> None:
    _credits(issuer)
    ctx = issuer.ctx
    with ctx.store.unit_of_work(1) as uow:  # what a runner that lost the race used to leave behind
        uow.add_mint_batch(CNH, "mint:CNH:orphan", 0, 0)
    done = svc.recover(ctx)
    assert done["set_aside"] == 1
    assert [b.status for b in ctx.store.mint_batches("pending")] == []
    assert svc.run_subscriptions(ctx, CNH).minted == 2
    assert svc.recover(ctx)["set_aside"] == 0
    _books_match_chain(issuer)


def test_exists_is_a_conflict_when_the_flow_was_just_claimed() -> None:
    from bauhinia.domain.errors import RefusedError

    iss.require_ok(["ok", "exists"], "payout")
    with pytest.raises(RefusedError):
        iss.require_ok(["ok", "exists"], "mint", new=True)
    legs = [t.id for t in iss.mint_entry(7, CNH, 100_00, 1_00, 3, "sub:7", attempt=0)]
    retry = [t.id for t in iss.mint_entry(7, CNH, 100_00, 1_00, 3, "sub:7", attempt=1)]
    assert not set(legs) & set(retry)
    with pytest.raises(RefusedError):
        iss.mint_entry(7, CNH, 100_00, 0, 3, "sub:7", attempt=iss.mint_attempts_max)


def test_two_redemption_runners_that_read_the_same_transfers_burn_and_pay_once(
        issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _credits(issuer)
    ctx = issuer.ctx
    issuer.fund_gas(a, b)
    assert svc.run_subscriptions(ctx, CNH).minted == 2
    chain = issuer.chain()
    req = iss.RedemptionRequest("exp", Currency.BCNH, 5_000_00, b.wallet, b.bank_account, "r-1")
    svc.request_redemption(ctx, req)
    chain.transfer_as(b.key, chain.redemption_address, minor_to_base_units(5_000_00), idempotency_key="t:red")
    deadline = svc.payout_deadline_ns
    started: list[bool] = []
    inner: list[Any] = []

    def second_runner_in_between(*args: Any) -> int:
        # Runner A has read the waiting requests and the coins received and matched them; runner B now runs a
        # whole redemption run before A books its burn.
        if not started:
            started.append(True)
            inner.append(svc.run_redemptions(ctx, CNH))
        return int(deadline(*args))

    monkeypatch.setattr(svc, "payout_deadline_ns", second_runner_in_between)
    outer = svc.run_redemptions(ctx, CNH)
    assert inner[0].burned == 1 and outer.burned == 0
    assert chain.total_supply() == minor_to_base_units(30_000_00 - 5_000_00)
    _books_match_chain(issuer)
    files = list((issuer.settings.bank_dir() / "outbox").glob("*.xml"))
    assert len(files) == 1  # one payment instruction


def test_two_recoveries_of_one_pending_batch_settle_it_once(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    _credits(issuer)
    ctx = issuer.ctx
    with monkeypatch.context() as m:  # a runner that died right after journaling its batch
        m.setattr(svc, "send_mint_batch", lambda ctx, batch: 0)
        svc.run_subscriptions(ctx, CNH)
    stale = ctx.store.mint_batches("pending")[0]  # what both recovering runners read
    assert svc.send_mint_batch(ctx, stale) == 2
    assert svc.send_mint_batch(ctx, stale) == 0  # the batch is no longer pending: nothing settled twice
    for s in ctx.store.subscriptions():
        assert [t.to_status for t in ctx.store.transitions("subscription", s.seq)].count("minted") == 1
    _books_match_chain(issuer)


def test_a_mint_whose_nonce_another_process_took_is_reversed_and_minted_again(issuer: Issuer,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two API workers with the same minter key: one's transaction is dropped (its nonce used by the other's).
    Before: the run answered 409 and left its batch pending until a recovery; now it is reversed at once (nothing
    can be minted by a dropped transaction) and the next run mints it under a new attempt."""
    from bauhinia.domain.errors import ConflictError

    holders = _credits(issuer)
    ctx = issuer.ctx
    chain = issuer.chain()
    real = chain.batch_mint

    def dropped(credits: Any, *, idempotency_key: str) -> Any:
        raise ConflictError("transaction 0xabc was dropped (its nonce was used by another transaction)",
                            code="chain_tx_dropped")

    monkeypatch.setattr(chain, "batch_mint", dropped)
    first = svc.run_subscriptions(ctx, CNH)
    assert first.minted == 0 and {s.status for s in ctx.store.subscriptions()} == {"held"}
    _books_match_chain(issuer)
    monkeypatch.setattr(chain, "batch_mint", real)
    assert svc.run_subscriptions(ctx, CNH).minted == 2
    assert [chain.balance_of(h.wallet) for h in holders] == [minor_to_base_units(10_000_00),
                                                              minor_to_base_units(20_000_00)]
    _books_match_chain(issuer)
