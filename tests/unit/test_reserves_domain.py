"""Reserve domain: each eligibility rule both ways, valuation rounding, the mint gate, ladder, concentration,
stress."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bauhinia.domain.errors import RefusedError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.domain.reserves import (
    AssetKind,
    IssuerType,
    LiquidityBucket,
    MarketData,
    ReserveAsset,
    add_months,
    check_mint,
    concentration_bps,
    concentration_breaches,
    coverage_bps,
    eligibility_refusals,
    liquidity_ladder,
    require_eligible,
    require_mint_covered,
    stress_test,
    value_asset,
    value_pool,
)

AS_OF = date(2026, 11, 26)
HKD = Currency.HKD


def cash(
    asset_id: str = "cash-1", bank: str = "HSBC", principal_minor: int = 100_000_00, **kw: object
) -> ReserveAsset:
    return ReserveAsset(
        asset_id, Currency.BHKD, AssetKind.CASH, HKD, bank=bank, principal_minor=principal_minor, **kw
    )  # type: ignore[arg-type]


def deposit(months_days: tuple[date, date], **kw: object) -> ReserveAsset:
    start, maturity = months_days
    return ReserveAsset(
        "td-1",
        Currency.BHKD,
        AssetKind.TIME_DEPOSIT,
        HKD,
        bank="BOCHK",
        principal_minor=50_000_00,
        start_date=start,
        maturity_date=maturity,
        **kw,  # type: ignore[arg-type]
    )


def bill(maturity: date, issuer: IssuerType | None = IssuerType.CENTRAL_BANK, **kw: object) -> ReserveAsset:
    return ReserveAsset(
        "efb-1",
        Currency.BHKD,
        AssetKind.GOVERNMENT_SECURITY,
        HKD,
        bank="HKMA CMU",
        instrument_id="HK0000EFB001",
        issuer_type=issuer,
        quantity_units=1_000_000,
        maturity_date=maturity,
        **kw,  # type: ignore[arg-type]
    )


def repo(
    start: date,
    maturity: date,
    collateral: IssuerType | None = IssuerType.GOVERNMENT,
    collateral_maturity: date | None = date(2027, 3, 1),
) -> ReserveAsset:
    return ReserveAsset(
        "rr-1",
        Currency.BHKD,
        AssetKind.REVERSE_REPO,
        HKD,
        bank="Standard Chartered",
        principal_minor=10_000_00,
        start_date=start,
        maturity_date=maturity,
        collateral_issuer_type=collateral,
        collateral_maturity_date=collateral_maturity,
    )


def mmf(holds_only_eligible: bool) -> ReserveAsset:
    return ReserveAsset(
        "mmf-1",
        Currency.BHKD,
        AssetKind.MONEY_MARKET_FUND,
        HKD,
        instrument_id="HKMMF01",
        quantity_units=1_000,
        fund_holds_only_eligible=holds_only_eligible,
    )


def codes(asset: ReserveAsset) -> list[str]:
    return [r.code for r in eligibility_refusals(asset, AS_OF)]


# --- eligibility, each rule both ways ---


def test_cash_at_named_bank_eligible_and_without_bank_refused() -> None:
    assert codes(cash()) == []
    assert codes(cash(bank="  ")) == ["bank_missing"]


@pytest.mark.parametrize(
    "kind",
    [
        AssetKind.CORPORATE_BOND,
        AssetKind.EQUITY,
        AssetKind.CRYPTO_ASSET,
        AssetKind.COMMERCIAL_PAPER,
        AssetKind.OTHER,
    ],
)
def test_ineligible_kinds_refused_with_reason(kind: AssetKind) -> None:
    asset = replace(cash(), kind=kind)
    refusals = eligibility_refusals(asset, AS_OF)
    assert [r.code for r in refusals] == ["ineligible_kind"]
    assert kind.value in refusals[0].reason


@pytest.mark.requirement("RES-ELIGIBILITY")
def test_time_deposit_three_months_allowed_longer_refused() -> None:
    assert codes(deposit((date(2026, 11, 30), date(2027, 2, 28)))) == []  # 30 Nov + 3 months = 28 Feb
    assert codes(deposit((date(2026, 11, 30), date(2027, 3, 1)))) == ["deposit_term_too_long"]
    assert codes(deposit((date(2026, 9, 1), date(2026, 12, 1)))) == []
    assert codes(deposit((date(2026, 9, 1), date(2026, 12, 2)))) == ["deposit_term_too_long"]


def test_time_deposit_needs_dates() -> None:
    asset = replace(deposit((date(2026, 9, 1), date(2026, 12, 1))), maturity_date=None)
    assert codes(asset) == ["dates_missing"]


@pytest.mark.requirement("RES-ELIGIBILITY")
def test_security_remaining_maturity_one_year_both_ways() -> None:
    assert codes(bill(date(2027, 11, 26))) == []
    assert codes(bill(date(2027, 11, 27))) == ["maturity_too_long"]
    assert codes(bill(date(2026, 11, 25))) == ["matured"]


def test_security_issuer_must_be_government_or_central_bank() -> None:
    assert codes(bill(date(2027, 1, 1), IssuerType.GOVERNMENT)) == []
    assert codes(bill(date(2027, 1, 1), IssuerType.CORPORATE)) == ["issuer_not_sovereign"]
    assert codes(bill(date(2027, 1, 1), None)) == ["issuer_not_sovereign"]


def test_reverse_repo_overnight_on_sovereign_collateral() -> None:
    assert codes(repo(date(2026, 11, 26), date(2026, 11, 27))) == []
    assert codes(repo(date(2026, 11, 27), date(2026, 11, 30))) == []  # Friday to Monday
    assert codes(repo(date(2026, 11, 26), date(2026, 12, 3))) == ["repo_not_overnight"]
    assert codes(repo(date(2026, 11, 26), date(2026, 11, 27), IssuerType.CORPORATE)) == [
        "collateral_not_sovereign"
    ]
    assert codes(repo(date(2026, 11, 26), date(2026, 11, 27), collateral_maturity=date(2030, 1, 1))) == [
        "maturity_too_long"
    ]


def test_money_market_fund_must_hold_only_eligible_assets() -> None:
    assert codes(mmf(True)) == []
    assert codes(mmf(False)) == ["fund_holdings_ineligible"]


@pytest.mark.requirement("RES-ELIGIBILITY")
def test_foreign_currency_needs_recorded_regulator_approval() -> None:
    usd_like = replace(cash(), currency=Currency.CNH)
    assert codes(usd_like) == ["foreign_currency_unapproved"]
    assert codes(replace(usd_like, regulator_approval_ref="HKMA/SC/2026/017")) == []


def test_require_eligible_raises_with_every_reason() -> None:
    asset = replace(cash(bank=""), currency=Currency.CNH)
    with pytest.raises(RefusedError) as err:
        require_eligible(asset, AS_OF)
    assert "bank_missing" in err.value.detail and "foreign_currency_unapproved" in err.value.detail


def test_asset_values_are_validated() -> None:
    with pytest.raises(ValidationError):
        cash(principal_minor=-1)
    with pytest.raises(ValidationError):
        replace(cash(), haircut_bps=10_001)
    with pytest.raises(ValidationError):
        ReserveAsset("x", Currency.HKD, AssetKind.CASH, HKD, bank="b", principal_minor=1)


def test_add_months_clamps() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 12, 15), 3) == date(2028, 3, 15)


# --- valuation ---


def test_quantity_times_price_rounds_down_and_haircut_rounds_up() -> None:
    asset = replace(bill(date(2027, 1, 1)), quantity_units=3, haircut_bps=33)
    market = MarketData(AS_OF, prices_micro={"HK0000EFB001": 999_999})  # 0.999999 HKD per unit
    v = value_asset(asset, market)
    assert v.market_value_minor == 299  # 2.999997 HKD -> 2.99
    assert v.haircut_minor == 1  # 0.33 % of 299 = 0.9867 -> 1
    assert v.value_after_haircut_minor == 298


def test_accrued_interest_and_fx_conversion() -> None:
    asset = replace(cash(), currency=Currency.CNH, regulator_approval_ref="HKMA-1", principal_minor=100_00)
    market = MarketData(
        AS_OF, accrued_interest_minor={"cash-1": 1}, fx_rates_micro={(Currency.CNH, HKD): 1_085_555}
    )
    v = value_asset(asset, market)
    assert v.market_value_minor == 108_56  # 100.01 CNH * 1.085555 = 108.566355... -> 108.56
    assert v.accrued_interest_minor == 1


def test_missing_price_refused() -> None:
    with pytest.raises(ValidationError, match="no price"):
        value_asset(bill(date(2027, 1, 1)), MarketData(AS_OF))


@pytest.mark.requirement("RES-ELIGIBILITY")
def test_pool_excludes_ineligible_assets_with_reasons() -> None:
    pool = value_pool(Currency.BHKD, [cash(), replace(cash("eq"), kind=AssetKind.EQUITY)], MarketData(AS_OF))
    assert pool.reserve_value_minor == 100_000_00
    assert pool.excluded[0][0] == "eq"


def test_an_unpriced_asset_is_left_out_and_named_not_fatal() -> None:
    """Before: one asset without a price aborted the whole valuation (and the report). Now it counts as nothing
    and is listed with why; the rest of the pool is valued."""
    fx_cash = replace(cash("cnh-cash"), currency=Currency.CNH, regulator_approval_ref="HKMA-1", principal_minor=50_00)
    pool = value_pool(Currency.BHKD, [cash(), bill(date(2027, 1, 1)), fx_cash], MarketData(AS_OF))
    assert pool.reserve_value_minor == 100_000_00  # the HKD cash alone
    why = dict(pool.excluded)
    assert [r.code for r in why["efb-1"]] == ["price_missing"] and "not valued: no price" in why["efb-1"][0].reason
    assert [r.code for r in why["cnh-cash"]] == ["fx_rate_missing"]


# --- coverage and the mint gate ---


def test_coverage_bps_rounds_down() -> None:
    assert coverage_bps(100_00, 100_000_000) == 10_000
    assert coverage_bps(99_99, 100_000_000) == 9_999
    assert coverage_bps(1, 3 * 10_000) == 3_333
    assert coverage_bps(5, 0) is None


@pytest.mark.requirement("RES-FULL-BACKING")
def test_mint_refused_at_99_99_percent_coverage() -> None:
    # reserve 9,999.00 HKD; liabilities after mint 10,000.000000 BHKD -> 99.99 %
    with pytest.raises(RefusedError) as err:
        require_mint_covered(
            reserve_value_minor=9_999_00,
            outstanding_base_units=9_000_000_000,
            redemptions_in_flight_base_units=0,
            mint_base_units=1_000_000_000,
            buffer_bps=0,
        )
    assert err.value.code == "coverage_below_minimum"
    assert "99.99%" in err.value.detail


@pytest.mark.requirement("RES-FULL-BACKING")
def test_mint_allowed_at_exactly_the_threshold_with_buffer() -> None:
    result = require_mint_covered(
        reserve_value_minor=10_050_00,
        outstanding_base_units=8_000_000_000,
        redemptions_in_flight_base_units=1_000_000_000,
        mint_base_units=1_000_000_000,
        buffer_bps=50,
    )
    assert result.allowed and result.coverage_after_bps == 10_050 and result.required_bps == 10_050
    short = check_mint(
        reserve_value_minor=10_050_00 - 1,
        outstanding_base_units=8_000_000_000,
        redemptions_in_flight_base_units=1_000_000_000,
        mint_base_units=1_000_000_000,
        buffer_bps=50,
    )
    assert not short.allowed


@pytest.mark.requirement("RES-FULL-BACKING")
def test_in_flight_redemptions_and_frozen_count_as_liabilities() -> None:
    ok = check_mint(
        reserve_value_minor=100_00,
        outstanding_base_units=0,
        redemptions_in_flight_base_units=0,
        mint_base_units=100_000_000,
        buffer_bps=0,
    )
    assert ok.allowed
    refused = check_mint(
        reserve_value_minor=100_00,
        outstanding_base_units=0,
        redemptions_in_flight_base_units=1,
        mint_base_units=100_000_000,
        buffer_bps=0,
    )
    assert not refused.allowed


def test_subscription_cash_joins_the_reserve() -> None:
    result = check_mint(
        reserve_value_minor=0,
        outstanding_base_units=0,
        redemptions_in_flight_base_units=0,
        mint_base_units=100_000_000,
        buffer_bps=0,
        reserve_added_minor=100_00,
    )
    assert result.allowed


# --- ladder, concentration, stress ---


def _pool() -> tuple[list[ReserveAsset], MarketData]:
    assets = [
        cash("c1", "HSBC", 40_000_00),
        cash("c2", "BOCHK", 10_000_00),
        repo(date(2026, 11, 26), date(2026, 11, 27)),  # 10,000.00, 1 day
        deposit((date(2026, 11, 1), date(2026, 12, 1))),  # 50,000.00, 5 days
        replace(bill(date(2027, 5, 1)), quantity_units=10_000),  # 10,000 units at 0.99 = 9,900.00, T+1
    ]
    market = MarketData(AS_OF, prices_micro={"HK0000EFB001": 990_000})
    return assets, market


def test_liquidity_ladder_buckets() -> None:
    assets, market = _pool()
    ladder = liquidity_ladder(value_pool(Currency.BHKD, assets, market))
    amounts = {r.bucket: r.amount_minor for r in ladder}
    assert amounts == {
        LiquidityBucket.TODAY: 50_000_00,
        LiquidityBucket.ONE_DAY: 19_900_00,
        LiquidityBucket.ONE_WEEK: 50_000_00,
        LiquidityBucket.LATER: 0,
    }
    assert ladder[-1].cumulative_minor == 119_900_00


def test_concentration_caps() -> None:
    assets, market = _pool()
    pool = value_pool(Currency.BHKD, assets, market)
    shares = concentration_bps(pool)
    assert shares["HSBC"] == 40_000_00 * 10_000 // 119_900_00
    breaches = concentration_breaches(pool, cap_bps=4_000)
    assert [b.bank for b in breaches] == ["BOCHK"]  # 60,000 / 119,900 = 50.04 %
    assert concentration_breaches(pool, cap_bps=4_000, caps_bps_by_bank={"BOCHK": 5_100}) == []


def test_stress_run_within_liquidity_passes_and_beyond_shows_shortfall() -> None:
    assets, market = _pool()
    pool = value_pool(Currency.BHKD, assets, market)
    supply = 100_000 * 1_000_000  # 100,000 BHKD
    ok = stress_test(pool, supply_base_units=supply, run_bps=5_000, days=5)
    assert ok.passed and len(ok.table) == 5 and ok.table[-1].redeemed_cumulative_minor == 50_000_00
    run = stress_test(pool, supply_base_units=supply, run_bps=10_000, days=2)
    # day 1: 50,000 due, 50,000 cash today; day 2: 100,000 due, 69,900 liquid -> 30,100 short
    assert not run.passed
    assert run.first_shortfall_day == 2
    assert run.shortfall_minor == 30_100_00
    assert run.table[1].surplus_minor == -30_100_00


def test_stress_inputs_validated() -> None:
    assets, market = _pool()
    pool = value_pool(Currency.BHKD, assets, market)
    with pytest.raises(ValidationError):
        stress_test(pool, supply_base_units=1, run_bps=10_001, days=1)
    with pytest.raises(ValidationError):
        stress_test(pool, supply_base_units=1, run_bps=1, days=0)
