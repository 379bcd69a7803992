"""Issuance controls of the requirements register, end to end on the embedded EVM and SQLite: mint only to
cleared customers' verified wallets, and the redemption tracker's warning and breach alerts."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.adapters.store.audit import list_entries
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class ShiftedClock:
    """The wall clock, moved forward by `offset_ns` (the chain keeps its own block time)."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ns


@pytest.fixture()
def issuer(tmp_path: Path, sqlite_url: str) -> Any:
    clock = ShiftedClock()
    issuer = make_issuer(tmp_path / "data", database_url=sqlite_url, container_kwargs={"clock": clock})
    issuer.clock = clock
    yield issuer
    issuer.container.close()


@pytest.mark.requirement("ISS-MINT-CLEARED")
def test_mint_held_for_uncleared_customer_and_customer_without_wallet(issuer: Issuer) -> None:
    ctx = issuer.ctx
    pending = issuer.add_holder("p", "Pending Ltd", "444-4", cleared=False)
    no_wallet = svc.onboard_customer(ctx, "nw", "No Wallet Ltd", cleared=True)
    issuer.drop_notification([issuer.deposit(pending, 100_00, "Y1"),
                              SimEntry(200_00, True, "Y2", f"SUBSCRIPTION {no_wallet.deposit_reference}",
                                       "No Wallet Ltd", "555-5")], NOW)
    assert svc.ingest_bank_files(ctx).subscriptions == 2
    rep = svc.run_subscriptions(ctx, CNH)
    assert rep.minted == 0 and rep.held == 2
    reasons = {s.customer_id: s.reason for s in ctx.store.subscriptions()}
    assert reasons == {"p": "customer not cleared", "nw": "customer has no verified wallet"}
    assert issuer.chain().total_supply() == 0
    # once cleared, the customer with a verified wallet is minted; the one without a wallet still waits
    svc.set_customer_status(ctx, "p", iss.CustomerStatus.CLEARED, "cleared by compliance")
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    assert issuer.chain().total_supply() == minor_to_base_units(100_00)
    assert issuer.chain().balance_of(pending.wallet) == minor_to_base_units(100_00)


@pytest.mark.requirement("ISS-PAYOUT-DEADLINE")
def test_redemption_tracker_warns_then_alerts_at_the_deadline(issuer: Any) -> None:
    ctx = issuer.ctx
    h = issuer.add_holder("h", "Holder Ltd", "111-1")
    issuer.fund_gas(h)
    issuer.drop_notification([issuer.deposit(h, 1_000_00, "D1")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    req = svc.request_redemption(ctx, iss.RedemptionRequest("h", Currency.BCNH, 500_00, h.wallet, "111-1", "r-1"))
    chain = issuer.chain()
    chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(500_00), idempotency_key="t:r1")
    assert svc.run_redemptions(ctx, CNH).burned == 1
    r = ctx.store.redemption(req.seq)
    valid_at, deadline = int(r.valid_at_ns), int(r.deadline_ns)
    # the deadline is the end of the next Hong Kong business day: at least a day away, at most a long weekend
    assert 24 * 3_600 <= (deadline - valid_at) // 10**9 <= 6 * 24 * 3_600
    expected = svc.payout_deadline_ns(ctx.calendar, valid_at)
    assert deadline == expected
    [age] = svc.redemption_tracker(ctx)
    assert age.level == "ok" and age.time_left_s > 4 * 3_600

    def alerts() -> list[str]:
        return [e["action"] for e in list_entries(issuer.container.engine, subject=f"redemption:{req.seq}")
                if e["action"].startswith("redemption.deadline")]

    issuer.clock.offset_ns = deadline - time.time_ns() - 3_600 * 10**9  # one hour before the deadline
    [age] = svc.redemption_tracker(ctx)
    assert age.level == "warning" and alerts() == ["redemption.deadline_warning"]
    svc.redemption_tracker(ctx)  # once per level
    assert alerts() == ["redemption.deadline_warning"]
    issuer.clock.offset_ns = deadline - time.time_ns() + 10**9  # one second past it
    [age] = svc.redemption_tracker(ctx)
    assert age.level == "breached" and age.time_left_s <= 0
    assert alerts() == ["redemption.deadline_warning", "redemption.deadline_breached"]
