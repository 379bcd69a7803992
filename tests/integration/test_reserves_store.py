"""Reserve persistence and services over both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.reserves_repo import ReservesRepository
from bauhinia.domain import reserves as rsv
from bauhinia.domain.errors import ConflictError, RefusedError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.domain.proofs import verify_inclusion
from bauhinia.domain.reconciliation import ReconciliationInput
from bauhinia.services import reserves as svc

AS_OF = date(2026, 11, 26)
NOW = 1_790_000_000_000_000_000


@pytest.fixture()
def repo(db_url: str) -> ReservesRepository:
    engine = make_engine(db_url)
    migrate(engine)
    return ReservesRepository(engine)


def _cash(asset_id: str, bank: str, principal_minor: int, **kw: object) -> rsv.ReserveAsset:
    return rsv.ReserveAsset(
        asset_id,
        Currency.BHKD,
        rsv.AssetKind.CASH,
        Currency.HKD,
        bank=bank,
        principal_minor=principal_minor,
        **kw,
    )  # type: ignore[arg-type]


def _bill() -> rsv.ReserveAsset:
    return rsv.ReserveAsset(
        "efb-2027",
        Currency.BHKD,
        rsv.AssetKind.GOVERNMENT_SECURITY,
        Currency.HKD,
        bank="HKMA CMU",
        instrument_id="HK0000EFB027",
        issuer_type=rsv.IssuerType.CENTRAL_BANK,
        quantity_units=500_000,
        maturity_date=date(2027, 5, 20),
        haircut_bps=50,
    )


def test_assets_prices_and_coverage_round_trip(repo: ReservesRepository) -> None:
    svc.add_asset(repo, _cash("c-hsbc", "HSBC", 600_000_00), AS_OF, NOW)
    svc.add_asset(repo, _bill(), AS_OF, NOW)
    with pytest.raises(ConflictError):
        svc.add_asset(repo, _cash("c-hsbc", "HSBC", 1), AS_OF, NOW)
    with pytest.raises(RefusedError):
        svc.add_asset(
            repo,
            rsv.ReserveAsset("eq", Currency.BHKD, rsv.AssetKind.EQUITY, Currency.HKD, principal_minor=1),
            AS_OF,
            NOW,
        )
    assert [a.asset_id for a in repo.list_assets(Currency.BHKD)] == ["c-hsbc", "efb-2027"]
    assert repo.list_assets(Currency.BCNH) == []

    svc.load_market_data(repo, date(2026, 11, 25), prices_micro={"HK0000EFB027": 980_000})
    svc.load_market_data(
        repo, AS_OF, prices_micro={"HK0000EFB027": 990_000}, accrued_interest_minor={"c-hsbc": 12_34}
    )
    market = repo.market_data(AS_OF)
    assert market.prices_micro == {"HK0000EFB027": 990_000}
    assert repo.market_data(date(2026, 11, 25)).prices_micro == {"HK0000EFB027": 980_000}

    report = svc.compute_coverage(
        repo,
        Currency.BHKD,
        AS_OF,
        outstanding_base_units=1_000_000 * 1_000_000,
        redemptions_in_flight_base_units=0,
        now_ns=NOW,
    )
    # cash 600,012.34 + bill 495,000.00 less 0.5 % haircut (2,475.00) = 1,092,537.34 vs 1,000,000 coins
    assert report.pool.reserve_value_minor == 1_092_537_34
    assert report.coverage_bps == 10_925
    series = repo.coverage_series(Currency.BHKD, date(2026, 11, 1), date(2026, 11, 30))
    assert [(p.as_of, p.coverage_bps) for p in series] == [(AS_OF, 10_925)]

    check = svc.check_mint_allowed(
        repo,
        Currency.BHKD,
        AS_OF,
        mint_base_units=92_000 * 1_000_000,
        outstanding_base_units=1_000_000 * 1_000_000,
        redemptions_in_flight_base_units=0,
    )
    assert check.allowed
    with pytest.raises(RefusedError, match="coverage"):
        svc.check_mint_allowed(
            repo,
            Currency.BHKD,
            AS_OF,
            mint_base_units=93_000 * 1_000_000,
            outstanding_base_units=1_000_000 * 1_000_000,
            redemptions_in_flight_base_units=0,
        )

    repo.remove_asset("c-hsbc", NOW + 1)
    assert [a.asset_id for a in repo.list_assets()] == ["efb-2027"]


def test_foreign_currency_asset_needs_recorded_approval(repo: ReservesRepository) -> None:
    asset = replace(
        _cash("cnh-at-boc", "BOCHK", 100_00), currency=Currency.CNH, regulator_approval_ref="HKMA/2026/7"
    )
    with pytest.raises(RefusedError) as err:
        svc.add_asset(repo, asset, AS_OF, NOW)
    assert err.value.code == "approval_not_recorded"
    svc.record_approval(
        repo,
        rsv.RegulatorApproval(
            "HKMA/2026/7", Currency.BHKD, Currency.CNH, date(2026, 1, 1), date(2026, 6, 30)
        ),
        NOW,
    )
    with pytest.raises(RefusedError) as err:
        svc.add_asset(repo, asset, AS_OF, NOW)  # expired
    assert err.value.code == "approval_not_applicable"
    svc.record_approval(
        repo, rsv.RegulatorApproval("HKMA/2026/8", Currency.BHKD, Currency.CNH, date(2026, 7, 1)), NOW
    )
    svc.add_asset(repo, replace(asset, regulator_approval_ref="HKMA/2026/8"), AS_OF, NOW)
    assert repo.get_approval("HKMA/2026/8") is not None


def _recon_input(bank_hsbc_minor: int) -> ReconciliationInput:
    holders = {"0xaaa": 7_000_000, "0xbbb": 3_000_000}
    return ReconciliationInput(
        coin="BHKD",
        bank_closing_minor={"HSBC-001": bank_hsbc_minor},
        ledger_cash_minor={"HSBC-001": 10_00},
        ledger_holder_base_units=holders,
        ledger_total_supply_base_units=10_000_000,
        chain_holder_base_units=dict(holders),
        chain_total_supply_base_units=10_000_000,
    )


@pytest.mark.requirement("RES-RECON-HALT")
def test_reconciliation_break_trips_breaker_opens_incident_and_reset_needs_reason(
    repo: ReservesRepository,
) -> None:
    clean = svc.run_reconciliation(repo, _recon_input(10_00), as_of=AS_OF, run_id="r1", now_ns=NOW)
    assert clean.result.ok and not clean.breaker.halted and clean.incident is None

    broken = svc.run_reconciliation(repo, _recon_input(9_00), as_of=AS_OF, run_id="r2", now_ns=NOW + 10)
    assert broken.breaker.halted and broken.incident is not None
    assert "bank cash_balance HSBC-001" in broken.breaker.reason
    stored = repo.list_recon_runs(Currency.BHKD)
    assert [r.run_id for r in stored] == ["r2", "r1"]
    assert json.loads(stored[0].breaks_json)[0]["source"] == "bank"
    incidents = repo.list_incidents(status="open")
    assert [i.incident_id for i in incidents] == ["recon-r2"]
    assert json.loads(incidents[0].details_json)["by_source"] == {"bank": 1}

    with pytest.raises(RefusedError) as err:
        svc.check_mint_allowed(
            repo,
            Currency.BHKD,
            AS_OF,
            mint_base_units=1,
            outstanding_base_units=0,
            redemptions_in_flight_base_units=0,
            reserve_added_minor=1_00,
        )
    assert err.value.code == "minting_halted"

    with pytest.raises(ValidationError):
        svc.reset_breaker(repo, Currency.BHKD, reason="ok", actor="ops", now_ns=NOW + 20)
    state = svc.reset_breaker(
        repo,
        Currency.BHKD,
        reason="bank fee booked late; ledger corrected",
        actor="ops.alice",
        now_ns=NOW + 20,
    )
    assert not state.halted
    with pytest.raises(ConflictError):
        svc.reset_breaker(repo, Currency.BHKD, reason="again, for no reason", actor="ops", now_ns=NOW + 30)
    history = repo.breaker_history(Currency.BHKD)
    assert [(e.action, e.actor) for e in history] == [
        ("trip", "daily-reconciliation"),
        ("reset", "ops.alice"),
    ]
    with pytest.raises(ConflictError):
        svc.run_reconciliation(repo, _recon_input(10_00), as_of=AS_OF, run_id="r1", now_ns=NOW)


def test_liability_root_published_and_proof_verifies(repo: ReservesRepository) -> None:
    snap = svc.build_liability_snapshot(
        [("chain:0xaaa", 5_000_000), ("customer:42", 2_500_000), ("chain:0xbbb", 0)],
        coin=Currency.BHKD,
        as_of=AS_OF,
        snapshot_id="2026-11-26-BHKD",
        snapshot_secret=b"k" * 32,
        now_ns=NOW,
    )
    svc.publish_liability_root(repo, snap)
    published = repo.get_liability_root("2026-11-26-BHKD")
    assert published is not None and published.total_base_units == 7_500_000 and published.leaf_count == 3
    proof = snap.proof_for("customer:42")
    verify_inclusion(proof, bytes.fromhex(published.root_hash_hex), published.total_base_units)
    with pytest.raises(ConflictError):
        svc.publish_liability_root(repo, snap)


def test_two_processes_recording_the_days_coverage_at_once_both_succeed(repo: ReservesRepository,
                                                                       db_url: str) -> None:
    """Two mint runners record the same day's coverage point together (bench/races.py on PostgreSQL). Before: both
    found no row to update and the second insert failed on the key, crashing its mint run."""
    import threading

    others = [ReservesRepository(make_engine(db_url)) for _ in range(4)]
    barrier = threading.Barrier(len(others))
    errors: list[BaseException] = []

    def put(i: int) -> None:
        barrier.wait()
        try:
            for k in range(20):
                others[i].put_coverage(rsv.CoveragePoint(Currency.BCNH, date(2026, 12, 4 + k % 2), 1_000 + i, 1_000,
                                                         0, None, i))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(others))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    series = repo.coverage_series(Currency.BCNH, date(2026, 12, 1), date(2026, 12, 31))
    assert [p.as_of for p in series] == [date(2026, 12, 4), date(2026, 12, 5)]
