"""The separate reserve attester (issue 20 item 3): the minting process never feeds the contract's reserve guard;
the attester posts the bank's figure (statement plus notified entries, less payouts held), never more than the
ledger shows, and refuses a stale or missing statement or an open breaker. On both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bauhinia.config import Settings
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import attester
from bauhinia.services import issuance as svc
from bauhinia.services import reserves as reserves_svc

CNH = Currency.CNH


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Iterator[Issuer]:
    issuer = make_issuer(tmp_path / "data", database_url=db_url, reserve_attester="separate", buffer_bps=0)
    try:
        svc.ingest_bank_files(issuer.ctx)
        yield issuer
    finally:
        issuer.container.close()


def _held(issuer: Issuer) -> list[str]:
    return [str(s.reason) for s in issuer.ctx.store.subscriptions(CNH, ["held"])]


def _cnh(results: list[attester.AttestResult]) -> attester.AttestResult:
    return next(r for r in results if r.coin == "BCNH")


def test_mints_wait_for_the_attester_and_the_figure_is_the_banks(issuer: Issuer) -> None:
    now = datetime.now(UTC)
    a = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    deposit = issuer.deposit(a, 1_000_00, "P1")
    issuer.drop_notification([deposit], now)
    assert svc.ingest_bank_files(issuer.ctx).subscriptions == 1
    chain = issuer.chain(CNH)

    # the minting process does not post: the mint waits, held with the reason, and nothing is attested
    report = svc.run_subscriptions(issuer.ctx, CNH)
    assert report.minted == 0 and chain.total_supply() == 0
    assert len(_held(issuer)) == 1 and _held(issuer)[0].startswith("awaiting attestation")
    assert chain.status().attested_at_s == 0

    # no statement yet: the attester has no bank figure and says so
    first = _cnh(attester.attest_all(issuer.container.attester))
    assert not first.posted and "no bank statement" in first.reason
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 0

    # the day's statement shows the deposit: the attester posts the bank's 1,000.00, not the ledger's cash,
    # which also holds the capital paid in outside the bank's files
    issuer.drop_statement([deposit], now)
    svc.ingest_bank_files(issuer.ctx)
    posted = _cnh(attester.attest_all(issuer.container.attester))
    assert posted.posted and posted.figure is not None
    assert posted.figure.bank_closing_minor == 1_000_00 and posted.figure.bank_notified_since_minor == 0
    assert posted.figure.ledger_cash_minor > posted.figure.bank_cash_minor  # capital is in the ledger only
    assert posted.figure.cash_minor == 1_000_00
    assert chain.status().attested_reserve_base_units == minor_to_base_units(1_000_00)
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 1
    assert chain.total_supply() == minor_to_base_units(1_000_00)

    # nothing changed: the next round posts nothing
    again = _cnh(attester.attest_all(issuer.container.attester))
    assert not again.posted and "current" in again.reason

    # a credit the bank notified after the statement counts; capital booked in the ledger alone does not
    svc.fund_issuer_capital(issuer.ctx, CNH, 9_000_000_00, "CAP-2")
    b = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.drop_notification([issuer.deposit(b, 2_500_00, "P2")], now)
    svc.ingest_bank_files(issuer.ctx)
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 0
    grown = _cnh(attester.attest_all(issuer.container.attester))
    assert grown.posted and grown.figure is not None
    assert (grown.figure.bank_notified_since_minor, grown.figure.cash_minor) == (2_500_00, 3_500_00)
    assert svc.run_subscriptions(issuer.ctx, CNH).minted == 1
    assert chain.total_supply() == minor_to_base_units(3_500_00)

    # every posting is audited with how the figure was reached
    with issuer.container.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, details FROM audit_log WHERE action = 'reserve.attested'")).all()
        refused = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'mint.batch_refused'")).scalar()
    assert len(rows) == 2 and {r[0] for r in rows} == {"reserve-attester"}
    assert "bank_closing_minor" in str(rows[0][1])
    assert refused == 0  # waiting for the attester spent no mint attempt (no batch booked and reversed)


def test_the_figure_is_never_above_the_ledger(issuer: Issuer) -> None:
    """A statement crediting more than the books booked (an entry the ledger never took) attests the ledger's
    figure: the guard hears of no cash the books do not show."""
    now = datetime.now(UTC)
    a = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.drop_statement([issuer.deposit(a, 1_000_00, "P1")], now, opening_minor=900_000_000_00)
    svc.ingest_bank_files(issuer.ctx)
    figure = _cnh(attester.attest_all(issuer.container.attester)).figure
    assert figure is not None
    ledger_cash = reserves_svc.ledger_figures(issuer.ctx.ledger, CNH).reserve_cash_available_minor
    assert figure.bank_cash_minor > ledger_cash and figure.cash_minor == ledger_cash


def test_a_stale_statement_or_an_open_breaker_posts_nothing(issuer: Issuer) -> None:
    a = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.drop_statement([issuer.deposit(a, 1_000_00, "P1")], datetime.now(UTC) - timedelta(days=9))
    svc.ingest_bank_files(issuer.ctx)
    stale = _cnh(attester.attest_all(issuer.container.attester))
    assert not stale.posted and "stale" in stale.reason and stale.details["code"] == "attester_statement_stale"

    issuer.drop_statement([], datetime.now(UTC), opening_minor=1_000_00)
    svc.ingest_bank_files(issuer.ctx)
    reserves_svc.trip_breaker(issuer.container.reserves, Currency.BCNH, reason="cash break", actor="recon",
                              now_ns=issuer.container.clock.now_ns())
    halted = _cnh(attester.attest_all(issuer.container.attester))
    assert not halted.posted and halted.details["code"] == "attester_breaker_open"
    assert issuer.chain(CNH).status().attested_at_s == 0


def test_only_a_demo_may_attest_inline() -> None:
    assert Settings(demo=True).resolved_reserve_attester() == "inline"
    assert Settings(demo=False).resolved_reserve_attester() == "separate"
    problems = Settings(demo=False, reserve_attester="inline").unsafe_defaults()
    assert any("BAUHINIA_RESERVE_ATTESTER is inline" in p for p in problems)
    assert not any("RESERVE_ATTESTER" in p for p in Settings(demo=False).unsafe_defaults())


def test_the_oldest_statement_allowed_skips_days_the_bank_is_closed() -> None:
    from datetime import date

    def weekdays(d: date) -> bool:
        return d.weekday() < 5

    # Monday: two business days back is the Thursday before
    assert attester._oldest_allowed(date(2026, 12, 7), 2, weekdays) == date(2026, 12, 3)
    assert attester._oldest_allowed(date(2026, 12, 9), 2, weekdays) == date(2026, 12, 7)
