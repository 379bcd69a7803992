"""The daily three-way reconciliation over a real issuer (store, ledger, embedded EVM, bank files): clean when the
three sources agree; a break planted in each source is found and named, trips the breaker (minting refused) and
opens an incident; an operator resets it with a reason. Proof of liabilities over the real holders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import RefusedError, ValidationError
from bauhinia.domain.ledger import Account, AccountKind, Transfer
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.domain.proofs import verify_holder, verify_inclusion
from bauhinia.entrypoints.reserve_context import reserve_context
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc
from bauhinia.services import reconciliation as rec
from bauhinia.services import reserves as reserves_svc
from bauhinia.services.regulatory import hk_today

CNH = Currency.CNH
TODAY = date(2025, 3, 3)


def _issuer(tmp_path: Path, db_url: str = "") -> tuple[Any, Any, dict[str, Any]]:
    """Two customers subscribe (plus a credit to suspense), coins are minted, one pays the other on chain, the
    other redeems; the end-of-day statement shows it all and settles the payout."""
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    ctx = issuer.ctx
    a = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-1")
    b = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-2")
    c = issuer.add_holder("late", "Late Payer Ltd", "004-3")  # paid in, no wallet minted yet: off-chain balance
    issuer.fund_gas(a, b)
    now = datetime.now(UTC)
    deposits = [issuer.deposit(a, 1_000_000_00, "IN-1"), issuer.deposit(b, 250_000_00, "IN-2"),
                SimEntry(12_345_67, True, "IN-3", "INVOICE 8812", "Unknown Trading Co", "999-1")]
    issuer.drop_notification(deposits, now)
    svc.ingest_bank_files(ctx)
    svc.run_subscriptions(ctx, CNH)
    chain = ctx.chains[CNH]
    chain.transfer_as(a.key, b.wallet, minor_to_base_units(300_000_00), idempotency_key="pay-1")
    red = svc.request_redemption(ctx, iss.RedemptionRequest("exp", Currency.BCNH, 400_000_00, b.wallet, "004-2",
                                                            "redeem-1"))
    chain.transfer_as(b.key, chain.redemption_address, minor_to_base_units(400_000_00), idempotency_key="send-1")
    svc.run_redemptions(ctx, CNH)
    red = ctx.store.redemption(red.seq)
    ref = svc.payout_reference(CNH, red.seq)
    svc.set_customer_status(ctx, "late", iss.CustomerStatus.ONBOARDING, "documents pending")
    late = issuer.deposit(c, 5_000_00, "IN-4")
    entries = [*deposits, late, SimEntry(red.amount_minor - red.fee_minor, False, "OUT-1", f"/ROC/{ref}",
                                         end_to_end_id=ref)]
    issuer.drop_statement(entries, now, message_id="STM-1")
    svc.ingest_bank_files(ctx)
    svc.run_subscriptions(ctx, CNH)  # "late" is held: not cleared
    return issuer, reserve_context(issuer.container), {"a": a, "b": b, "c": c, "now": now}


@pytest.fixture
def world(tmp_path: Path) -> Any:
    issuer, rctx, people = _issuer(tmp_path)
    yield issuer, rctx, people
    issuer.container.close()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def _named(result: Any) -> set[tuple[str, str]]:
    return {(b.source.value, b.kind.value) for b in result.outcome.result.breaks}


def test_clean_day_reconciles_and_explains_the_timing_items(world: Any) -> None:
    _, rctx, _ = world
    r = rec.run_daily(rctx, CNH, TODAY)
    assert r.ok, [b.describe() for b in r.outcome.result.breaks]
    assert not r.outcome.breaker.halted and r.outcome.incident is None
    assert r.cash.statement == "STM-1"
    assert r.cash.capital_outside_statement_minor == 500_000_00
    assert r.cash.suspense_minor == 12_345_67
    assert r.cash.customer_funds_minor == 5_000_00  # received from "late", not minted
    assert r.cash.bank_closing_minor == r.cash.ledger_expected_bank_minor == r.cash.control_total_minor
    assert r.supply.ledger_supply_base_units == r.supply.chain_total_supply_base_units == minor_to_base_units(
        850_000_00)
    assert r.outcome.result.holders_checked >= 2
    assert r.coverage.coverage_bps is not None and r.coverage.coverage_bps > 10_000
    assert rctx.reserves.list_recon_runs(Currency.BCNH)[0].ok


def test_notification_after_the_statement_is_a_timing_item_not_a_break(world: Any) -> None:
    issuer, rctx, people = world
    issuer.drop_notification([issuer.deposit(people["a"], 7_00, "IN-9")], people["now"])
    svc.ingest_bank_files(issuer.ctx)
    r = rec.run_daily(rctx, CNH, TODAY)
    assert r.ok, [b.describe() for b in r.outcome.result.breaks]
    assert (r.cash.unstated_entries_minor, r.cash.unstated_entries_count) == (7_00, 1)


def test_a_notification_no_statement_confirms_is_a_break(world: Any) -> None:
    """A credit booked from a camt.054 (a fabricated upload, or a credit the bank later reversed) that the daily
    camt.053 for a later day does not carry is no longer taken out as timing: the cash breaks on it."""
    import sqlalchemy as sa

    from bauhinia.adapters.store.issuance_tables import bank_files

    issuer, rctx, people = world
    path = issuer.drop_notification([issuer.deposit(people["a"], 9_00, "IN-FAKE")], people["now"],
                                    message_id="NTF-FAKE")
    svc.ingest_bank_files(issuer.ctx)
    r = rec.run_daily(rctx, CNH, TODAY)  # received today: the statement of today may not carry it yet
    assert r.ok and (r.cash.unstated_entries_minor, r.cash.unstated_entries_count) == (9_00, 1)
    two_days_ns = 2 * 86_400 * 10**9
    with issuer.container.engine.begin() as conn:  # it had in fact arrived two days before the latest statement
        conn.execute(sa.update(bank_files).where(bank_files.c.name == path.name)
                     .values(received_at_ns=bank_files.c.received_at_ns - two_days_ns))
    r = rec.run_daily(rctx, CNH, TODAY)
    assert ("bank", "cash_balance") in _named(r)
    assert r.cash.unstated_entries_count == 0
    assert any("on no statement" in n and "do" in n for n in r.notes)
    assert r.outcome.breaker.halted


def _assert_halted_then_reset(issuer: Any, rctx: Any, r: Any) -> None:
    assert r.outcome.breaker.halted
    assert r.outcome.incident is not None and r.outcome.incident.kind == "reconciliation_break"
    assert r.outcome.incident.run_id == r.outcome.run.run_id
    with pytest.raises(RefusedError) as exc:
        reserves_svc.gate_mint(rctx.reserves, rctx.ledger, CNH, TODAY, mint_base_units=1)
    assert exc.value.code == "minting_halted"
    with pytest.raises(ValidationError):
        reserves_svc.reset_breaker(rctx.reserves, Currency.BCNH, reason="ok", actor="ops.chan", now_ns=1)
    state = reserves_svc.reset_breaker(rctx.reserves, Currency.BCNH, reason="break investigated and corrected",
                                       actor="ops.chan", now_ns=2)
    assert not state.halted
    reserves_svc.gate_mint(rctx.reserves, rctx.ledger, CNH, TODAY, mint_base_units=1)
    assert [e.action for e in rctx.reserves.breaker_history(Currency.BCNH)] == ["trip", "reset"]


def test_planted_bank_break_is_found_named_and_halts_minting(tmp_path: Path) -> None:
    issuer, rctx, people = _issuer(tmp_path)
    # The bank's next statement shows 150.00 less than the books (an unexplained debit).
    issuer.drop_statement([SimEntry(150_00, False, "FEE-1", "SERVICE CHARGE")], people["now"].replace(hour=23),
                          opening_minor=rctx.reserves.latest_statements()["012-875-001234-002"].closing_minor,
                          message_id="STM-2")
    svc.ingest_bank_files(issuer.ctx)
    r = rec.run_daily(rctx, CNH, TODAY)
    assert _named(r) == {("bank", "cash_balance")}
    brk = r.outcome.result.breaks[0]
    assert brk.key == "012-875-001234-002" and brk.difference == -150_00
    assert "bank" in r.outcome.incident.details_json  # type: ignore[union-attr]
    _assert_halted_then_reset(issuer, rctx, r)
    issuer.container.close()


def test_planted_ledger_break_is_found_named_and_halts_minting(tmp_path: Path) -> None:
    issuer, rctx, _ = _issuer(tmp_path)
    ledger = issuer.ctx.ledger
    # A rogue entry: reserve cash booked up against an account outside the coin's books.
    assert ledger.create_accounts([Account(99_001, "CNH", AccountKind.LIABILITY, 0, code=99)]) == ["ok"]
    cash = iss.book_account_id(CNH, iss.Book.RESERVE_CASH)
    assert ledger.create_transfers([Transfer(99_000_001, cash, 99_001, 999_00, "CNH", code=99)]) == ["ok"]
    r = rec.run_daily(rctx, CNH, TODAY)
    assert _named(r) == {("ledger", "cash_total"), ("ledger", "cash_balance")}
    _assert_halted_then_reset(issuer, rctx, r)
    issuer.container.close()


def test_planted_ledger_supply_break_is_named_ledger(tmp_path: Path) -> None:
    issuer, rctx, _ = _issuer(tmp_path)
    ledger = issuer.ctx.ledger
    # Coins booked as outstanding that were never minted: moved from the held customer's funds.
    late = issuer.ctx.store.customer("late")
    outstanding = iss.book_account_id(CNH, iss.Book.COINS_OUTSTANDING)
    assert ledger.create_transfers([Transfer(99_000_002, iss.customer_account_id(late.seq, CNH), outstanding,
                                             1_000_00, "CNH", code=99)]) == ["ok"]
    r = rec.run_daily(rctx, CNH, TODAY)
    assert _named(r) == {("ledger", "total_supply")}
    assert r.outcome.breaker.halted
    issuer.container.close()


def test_planted_chain_break_is_found_named_and_halts_minting(tmp_path: Path) -> None:
    issuer, rctx, _ = _issuer(tmp_path)
    chain = issuer.ctx.chains[CNH]
    rogue = "0x" + "ab" * 20
    chain.mint(rogue, minor_to_base_units(1_234_00), idempotency_key="rogue-mint")  # never booked
    r = rec.run_daily(rctx, CNH, TODAY)
    assert _named(r) == {("chain", "total_supply"), ("chain", "sum_of_holders"), ("chain", "holder_balance")}
    holder = next(b for b in r.outcome.result.breaks if b.kind.value == "holder_balance")
    assert holder.key == rogue and holder.difference == minor_to_base_units(1_234_00)
    _assert_halted_then_reset(issuer, rctx, r)
    # A subscription arriving while halted is held, not minted.
    issuer.container.close()


def test_minting_is_held_while_the_breaker_is_tripped(world: Any) -> None:
    issuer, rctx, people = world
    reserves_svc.trip_breaker(rctx.reserves, Currency.BCNH, reason="drill", actor="ops", now_ns=1)
    issuer.drop_notification([issuer.deposit(people["a"], 100_00, "IN-10")], people["now"])
    svc.ingest_bank_files(issuer.ctx)
    report = svc.run_subscriptions(issuer.ctx, CNH)
    assert report.minted == 0 and report.refused and "halted" in report.refused[0]


def test_proof_of_liabilities_over_real_holders(world: Any, tmp_path: Path) -> None:
    issuer, rctx, people = world
    snap = rec.snapshot_liabilities(rctx, CNH, TODAY, snapshot_id="BCNH-test-1")
    root = snap.root
    # 850,000.00 on chain (two holders) + 5,000.00 received from "late" not minted.
    assert root.total_base_units == minor_to_base_units(855_000_00)
    assert root.leaf_count == 3
    assert rctx.reserves.latest_liability_root(Currency.BCNH) == root
    proof, published = rec.holder_proof(rctx, Currency.BCNH, people["b"].wallet)
    assert published.snapshot_id == "BCNH-test-1"
    verify_inclusion(proof, bytes.fromhex(root.root_hash_hex), root.total_base_units)
    verify_holder(proof, "chain:" + people["b"].wallet.lower())
    off_chain, _ = rec.holder_proof(rctx, Currency.BCNH, "late")
    assert off_chain.balance == minor_to_base_units(5_000_00)
    with pytest.raises(ValidationError):
        rec.holder_proof(rctx, Currency.BCNH, "nobody")

    # The holder downloads the proof with the CLI and checks it against the published root, needing nothing else.
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(issuer.settings.data_dir)}
    path = tmp_path / "proof.json"
    got = subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", "reserves", "proof", "--holder",
                          people["b"].wallet, "--coin", "BCNH", "--out", str(path)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    check = [sys.executable, "-m", "bauhinia.entrypoints.cli.main", "verify-proof", str(path), "--root",
             root.root_hash_hex, "--total", str(root.total_base_units)]
    ok = subprocess.run(check, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("valid"), ok.stderr
    data = json.loads(path.read_text())
    data["leaf"]["balance_base_units"] = str(int(data["leaf"]["balance_base_units"]) + 1)  # a tampered leaf
    path.write_text(json.dumps(data))
    bad = subprocess.run(check, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode != 0


def test_attestation_for_today_and_a_past_date(world: Any, tmp_path: Path) -> None:
    from bauhinia.adapters.reports.attestation import (
        render_attestation_html,
        render_attestation_pdf,
        weekly_disclosure,
    )
    from bauhinia.entrypoints.reserve_reports import build_attestation

    issuer, rctx, _ = world
    rec.run_daily(rctx, CNH, TODAY)
    # The books' day is Hong Kong's: between 16:00 and 24:00 UTC the UTC date is already yesterday there.
    today = hk_today(issuer.container.clock.now_ns())
    data = build_attestation(issuer.container, today)
    cnh = next(p for p in data.pools if p.coin is Currency.BCNH)
    assert cnh.liabilities_base_units == minor_to_base_units(850_000_00)
    assert cnh.coverage_bps is not None and cnh.coverage_bps > 10_000
    stats = next(r for r in data.redemptions if r.coin is Currency.BCNH)
    assert (stats.count, stats.paid_within_1_business_day, stats.deadline_breaches) == (1, 1, 0)
    assert stats.total_minor == 400_000_00 - 400_00  # less the 10 bps fee
    supply = next(s for s in data.supply if s.coin is Currency.BCNH)
    assert supply.supply_base_units == minor_to_base_units(850_000_00)
    assert "Redemptions" in render_attestation_html(data, with_chart=False)
    assert render_attestation_pdf(data).startswith(b"%PDF")
    assert weekly_disclosure(data)["pools"]
    # A date before anything happened: the books as of then had nothing outstanding.
    past = build_attestation(issuer.container, date(2020, 2, 29))
    assert all(p.liabilities_base_units == 0 for p in past.pools)
    assert all(r.count == 0 for r in past.redemptions)


def test_reconciliation_on_both_stores(tmp_path: Path, db_url: str) -> None:
    issuer, rctx, _ = _issuer(tmp_path, db_url)
    try:
        assert rec.run_daily(rctx, CNH, TODAY).ok
        issuer.ctx.chains[CNH].mint("0x" + "cd" * 20, 1, idempotency_key="rogue-1")
        r = rec.run_daily(rctx, CNH, TODAY)
        assert ("chain", "holder_balance") in _named(r) and r.outcome.breaker.halted
        snap = rec.snapshot_liabilities(rctx, CNH, TODAY, snapshot_id="both-stores")
        assert snap.root.total_base_units == minor_to_base_units(855_000_00) + 1
    finally:
        issuer.container.close()
