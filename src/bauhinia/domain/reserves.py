"""The reserve that backs each coin: eligible assets, valuation, coverage, liquidity and stress.

One pool per coin, in the coin's fiat currency (BHKD is backed by HKD assets, BCNH by CNH assets). Every
figure is an integer with its unit in the name; values are in the pool currency's minor units (cents / fen),
coin liabilities in token base units. Wherever a division cannot be exact, it rounds against the issuer: asset
values round DOWN, haircuts and liabilities round UP, so coverage is never overstated.

Pure: no I/O, no clock. Dates (`as_of`) and market data (prices, accrued interest, FX rates) are passed in.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bauhinia.domain.errors import RefusedError, ValidationError
from bauhinia.domain.money import Currency, base_units_per_minor

bps_one: int = 10_000  # 100.00 %
micro_per_unit: int = 1_000_000  # prices and FX rates are integers in millionths

# Regulatory tenors (HKMA stablecoin guideline: high-quality, highly liquid assets).
time_deposit_term_months_max: int = 3
security_remaining_maturity_months_max: int = 12
reverse_repo_term_days_max: int = 3  # overnight, or Friday to Monday over a weekend
haircut_bps_max: int = bps_one
stress_days_max: int = 366
reserve_assets_per_pool_max: int = 10_000


class AssetKind(StrEnum):
    """What an asset is. The last few kinds exist so that they can be refused with a clear reason."""

    CASH = "cash"  # demand deposit at a named bank
    TIME_DEPOSIT = "time_deposit"
    GOVERNMENT_SECURITY = "government_security"  # government or central-bank bills, notes, bonds
    REVERSE_REPO = "reverse_repo"  # overnight, collateralised by government / central-bank securities
    MONEY_MARKET_FUND = "money_market_fund"  # holding only the kinds above
    CORPORATE_BOND = "corporate_bond"
    COMMERCIAL_PAPER = "commercial_paper"
    EQUITY = "equity"
    CRYPTO_ASSET = "crypto_asset"
    OTHER = "other"


eligible_kinds: frozenset[AssetKind] = frozenset(
    {
        AssetKind.CASH,
        AssetKind.TIME_DEPOSIT,
        AssetKind.GOVERNMENT_SECURITY,
        AssetKind.REVERSE_REPO,
        AssetKind.MONEY_MARKET_FUND,
    }
)
# Kinds whose exposure is to a bank (counted in the per-bank concentration).
bank_exposure_kinds: frozenset[AssetKind] = frozenset(
    {AssetKind.CASH, AssetKind.TIME_DEPOSIT, AssetKind.REVERSE_REPO}
)
# Kinds valued by quantity x price; the others by principal.
priced_kinds: frozenset[AssetKind] = frozenset({AssetKind.GOVERNMENT_SECURITY, AssetKind.MONEY_MARKET_FUND})


class IssuerType(StrEnum):
    GOVERNMENT = "government"
    CENTRAL_BANK = "central_bank"
    SUPRANATIONAL = "supranational"
    CORPORATE = "corporate"
    BANK = "bank"


sovereign_issuers: frozenset[IssuerType] = frozenset({IssuerType.GOVERNMENT, IssuerType.CENTRAL_BANK})


class LiquidityBucket(StrEnum):
    TODAY = "today"
    ONE_DAY = "within_1_day"
    ONE_WEEK = "within_1_week"
    LATER = "later"


@dataclass(frozen=True, slots=True)
class ReserveAsset:
    """One holding of a reserve pool.

    Cash, time deposits and reverse repos are valued by `principal_minor` (asset currency minor units).
    Securities and fund shares by `quantity_units` x a price loaded as data for `instrument_id`
    (price in micro-units of the asset currency per unit).
    """

    asset_id: str
    coin: Currency  # the pool: BHKD or BCNH
    kind: AssetKind
    currency: Currency  # currency of the asset itself (fiat)
    bank: str = ""  # bank holding the cash / deposit, or repo counterparty; custodian for securities
    instrument_id: str = ""  # ISIN or fund identifier, for priced kinds
    issuer_type: IssuerType | None = None  # for securities
    principal_minor: int = 0
    quantity_units: int = 0
    start_date: date | None = None  # deposit or repo start
    maturity_date: date | None = None  # deposit / repo / security maturity
    collateral_issuer_type: IssuerType | None = None  # reverse repo collateral
    collateral_maturity_date: date | None = None
    fund_holds_only_eligible: bool = False  # money-market fund: attested to hold only eligible kinds
    regulator_approval_ref: str = ""  # required when `currency` is not the pool currency
    haircut_bps: int = 0
    liquidity_days: int | None = None  # override of the kind's default time to cash

    def __post_init__(self) -> None:
        _bad = "bad_reserve_asset"
        if not self.asset_id.strip():
            raise ValidationError("asset_id must not be blank", code="bad_reserve_asset")
        if not self.coin.is_token:
            raise ValidationError(f"a pool is per coin (BHKD, BCNH), not {self.coin}", code=_bad)
        if self.currency.is_token:
            raise ValidationError("a reserve asset is in a fiat currency, not a coin", code=_bad)
        for name in ("principal_minor", "quantity_units", "haircut_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"{name} must be a non-negative integer", code="bad_reserve_asset")
        if self.haircut_bps > haircut_bps_max:
            raise ValidationError("haircut_bps must be at most 10,000", code="bad_reserve_asset")
        if self.liquidity_days is not None and self.liquidity_days < 0:
            raise ValidationError("liquidity_days must be >= 0", code="bad_reserve_asset")

    @property
    def pool_currency(self) -> Currency:
        return self.coin.fiat


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an asset is not eligible: a stable code and a sentence."""

    code: str
    reason: str


def add_months(d: date, months: int) -> date:
    """Same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = d.month - 1 + months
    year, month0 = divmod(month_index, 12)
    year += d.year
    day = min(d.day, calendar.monthrange(year, month0 + 1)[1])
    return date(year, month0 + 1, day)


def eligibility_refusals(asset: ReserveAsset, as_of: date) -> list[Refusal]:
    """Every rule the asset breaks on `as_of` (empty list = eligible). Errors as values, all at once."""
    out: list[Refusal] = []
    if asset.kind not in eligible_kinds:
        out.append(
            Refusal(
                "ineligible_kind",
                f"{asset.kind.value} is not an eligible reserve asset (eligible: cash, time deposits of at "
                "most 3 months, government/central-bank securities of at most 1 year, overnight reverse "
                "repos, money-market funds holding only these)",
            )
        )
        return out
    if asset.currency != asset.pool_currency and not asset.regulator_approval_ref.strip():
        out.append(
            Refusal(
                "foreign_currency_unapproved",
                f"{asset.currency} asset in the {asset.pool_currency} pool of {asset.coin} needs a recorded "
                "regulator approval reference",
            )
        )
    if asset.kind in bank_exposure_kinds and not asset.bank.strip():
        out.append(Refusal("bank_missing", f"{asset.kind.value} must name the bank it is held with"))
    if asset.kind in priced_kinds:
        if not asset.instrument_id.strip():
            out.append(Refusal("instrument_missing", f"{asset.kind.value} needs an instrument id (ISIN)"))
        if asset.quantity_units <= 0:
            out.append(Refusal("quantity_missing", f"{asset.kind.value} needs a positive quantity_units"))
    elif asset.principal_minor <= 0:
        out.append(Refusal("principal_missing", f"{asset.kind.value} needs a positive principal_minor"))

    if asset.kind is AssetKind.TIME_DEPOSIT:
        if asset.start_date is None or asset.maturity_date is None:
            out.append(Refusal("dates_missing", "a time deposit needs start_date and maturity_date"))
        elif asset.maturity_date < asset.start_date:
            out.append(Refusal("dates_inverted", "maturity_date is before start_date"))
        elif asset.maturity_date > add_months(asset.start_date, time_deposit_term_months_max):
            out.append(
                Refusal(
                    "deposit_term_too_long",
                    f"time deposit term {asset.start_date} to {asset.maturity_date} exceeds "
                    f"{time_deposit_term_months_max} months",
                )
            )
    elif asset.kind is AssetKind.GOVERNMENT_SECURITY:
        if asset.issuer_type not in sovereign_issuers:
            issuer = asset.issuer_type.value if asset.issuer_type else "unknown"
            out.append(
                Refusal("issuer_not_sovereign", f"issuer type {issuer} is not a government or central bank")
            )
        out.extend(_remaining_maturity_refusals(asset.maturity_date, as_of, "security"))
    elif asset.kind is AssetKind.REVERSE_REPO:
        if asset.start_date is None or asset.maturity_date is None:
            out.append(Refusal("dates_missing", "a reverse repo needs start_date and maturity_date"))
        elif not 0 < (asset.maturity_date - asset.start_date).days <= reverse_repo_term_days_max:
            out.append(
                Refusal(
                    "repo_not_overnight",
                    f"reverse repo {asset.start_date} to {asset.maturity_date} is not overnight "
                    f"(at most {reverse_repo_term_days_max} calendar days over a weekend)",
                )
            )
        if asset.collateral_issuer_type not in sovereign_issuers:
            issuer = asset.collateral_issuer_type.value if asset.collateral_issuer_type else "unknown"
            out.append(
                Refusal(
                    "collateral_not_sovereign",
                    f"repo collateral issuer type {issuer} is not a government or central bank",
                )
            )
        out.extend(_remaining_maturity_refusals(asset.collateral_maturity_date, as_of, "repo collateral"))
    elif asset.kind is AssetKind.MONEY_MARKET_FUND and not asset.fund_holds_only_eligible:
        out.append(
            Refusal(
                "fund_holdings_ineligible",
                "money-market fund is not attested to hold only eligible reserve assets",
            )
        )
    return out


def _remaining_maturity_refusals(maturity: date | None, as_of: date, what: str) -> list[Refusal]:
    if maturity is None:
        return [Refusal("maturity_missing", f"{what} needs a maturity_date")]
    if maturity < as_of:
        return [Refusal("matured", f"{what} matured on {maturity}")]
    limit = add_months(as_of, security_remaining_maturity_months_max)
    if maturity > limit:
        return [
            Refusal(
                "maturity_too_long",
                f"{what} remaining maturity to {maturity} exceeds 1 year (limit {limit} on {as_of})",
            )
        ]
    return []


def require_eligible(asset: ReserveAsset, as_of: date) -> None:
    """Raise RefusedError naming every broken rule."""
    refusals = eligibility_refusals(asset, as_of)
    if refusals:
        reasons = "; ".join(f"{r.code}: {r.reason}" for r in refusals)
        raise RefusedError(f"asset {asset.asset_id} is not eligible: {reasons}", code=refusals[0].code)


# --- valuation -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketData:
    """Valuation inputs loaded as data for one date.

    prices_micro: instrument_id -> price in micro-units of the asset currency per unit.
    accrued_interest_minor: asset_id -> interest accrued and not yet paid, asset currency minor units.
    fx_rates_micro: (from_currency, to_currency) -> micro-units of `to` per unit of `from`.
    """

    as_of: date
    prices_micro: Mapping[str, int] = field(default_factory=dict)
    accrued_interest_minor: Mapping[str, int] = field(default_factory=dict)
    fx_rates_micro: Mapping[tuple[Currency, Currency], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AssetValuation:
    asset_id: str
    kind: AssetKind
    bank: str
    market_value_minor: int  # pool currency, incl. accrued interest, before haircut
    accrued_interest_minor: int  # pool currency (part of market_value_minor)
    haircut_minor: int
    liquidity_days: int

    @property
    def value_after_haircut_minor(self) -> int:
        return self.market_value_minor - self.haircut_minor


def _pow10(n: int) -> int:
    if n < 0:
        raise ValidationError("negative decimal exponent")
    result: int = 10**n
    return result


def minor_per_micro_divisor(currency: Currency) -> int:
    return _pow10(6 - currency.decimals)


def value_quantity_minor(quantity_units: int, price_micro_per_unit: int, currency: Currency) -> int:
    """quantity x price, exact, rounded DOWN to the currency's minor unit."""
    return (quantity_units * price_micro_per_unit) // minor_per_micro_divisor(currency)


def convert_minor(amount_minor: int, rate_micro: int, source: Currency, target: Currency) -> int:
    """Convert minor units at a micro rate (target per source unit), rounded DOWN."""
    numerator = amount_minor * rate_micro * _pow10(target.decimals)
    return numerator // (micro_per_unit * _pow10(source.decimals))


def default_liquidity_days(asset: ReserveAsset, as_of: date) -> int:
    """Calendar days until the asset can be cash: cash now, securities T+1, deposits and repos at maturity."""
    if asset.liquidity_days is not None:
        return asset.liquidity_days
    if asset.kind is AssetKind.CASH:
        return 0
    if asset.kind in (AssetKind.GOVERNMENT_SECURITY, AssetKind.MONEY_MARKET_FUND):
        return 1
    if asset.maturity_date is None:
        return 365
    return max(0, (asset.maturity_date - as_of).days)


def value_asset(asset: ReserveAsset, market: MarketData) -> AssetValuation:
    """Market value of one asset in its pool currency, with accrued interest and haircut."""
    if asset.kind in priced_kinds:
        price = market.prices_micro.get(asset.instrument_id)
        if price is None:
            raise ValidationError(
                f"no price for {asset.instrument_id} ({asset.asset_id}) on {market.as_of}",
                code="price_missing",
            )
        if price < 0:
            raise ValidationError(f"negative price for {asset.instrument_id}", code="bad_price")
        gross_minor = value_quantity_minor(asset.quantity_units, price, asset.currency)
    else:
        gross_minor = asset.principal_minor
    accrued_minor = market.accrued_interest_minor.get(asset.asset_id, 0)
    if accrued_minor < 0:
        raise ValidationError(f"negative accrued interest for {asset.asset_id}", code="bad_accrual")
    total_minor = gross_minor + accrued_minor
    if asset.currency != asset.pool_currency:
        rate = market.fx_rates_micro.get((asset.currency, asset.pool_currency))
        if rate is None or rate <= 0:
            raise ValidationError(
                f"no FX rate {asset.currency}->{asset.pool_currency} on {market.as_of}",
                code="fx_rate_missing",
            )
        total_minor = convert_minor(total_minor, rate, asset.currency, asset.pool_currency)
        accrued_minor = convert_minor(accrued_minor, rate, asset.currency, asset.pool_currency)
    haircut_minor = -((-total_minor * asset.haircut_bps) // bps_one)  # rounded UP
    return AssetValuation(
        asset_id=asset.asset_id,
        kind=asset.kind,
        bank=asset.bank.strip(),
        market_value_minor=total_minor,
        accrued_interest_minor=accrued_minor,
        haircut_minor=haircut_minor,
        liquidity_days=default_liquidity_days(asset, market.as_of),
    )


@dataclass(frozen=True, slots=True)
class PoolValuation:
    coin: Currency
    as_of: date
    assets: tuple[AssetValuation, ...]
    excluded: tuple[tuple[str, tuple[Refusal, ...]], ...]  # ineligible assets, not counted

    @property
    def currency(self) -> Currency:
        return self.coin.fiat

    @property
    def market_value_minor(self) -> int:
        return sum(a.market_value_minor for a in self.assets)

    @property
    def haircut_minor(self) -> int:
        return sum(a.haircut_minor for a in self.assets)

    @property
    def reserve_value_minor(self) -> int:
        """What counts for coverage: market value after haircuts, eligible assets only."""
        return sum(a.value_after_haircut_minor for a in self.assets)

    def composition_minor(self) -> dict[AssetKind, int]:
        out: dict[AssetKind, int] = {}
        for a in self.assets:
            out[a.kind] = out.get(a.kind, 0) + a.value_after_haircut_minor
        return out


UNPRICED = frozenset({"price_missing", "fx_rate_missing"})


def value_pool(coin: Currency, assets: Iterable[ReserveAsset], market: MarketData) -> PoolValuation:
    """Value the pool of `coin`: eligible assets counted; ineligible ones, and eligible ones without a price or FX
    rate on the day (counted at zero, never an abort of the whole valuation), listed with their reasons."""
    counted: list[AssetValuation] = []
    excluded: list[tuple[str, tuple[Refusal, ...]]] = []
    n = 0
    for asset in assets:
        n += 1
        if n > reserve_assets_per_pool_max:
            raise ValidationError("too many assets in one pool", code="pool_too_large")
        if asset.coin != coin:
            raise ValidationError(f"asset {asset.asset_id} belongs to {asset.coin}, not {coin}")
        refusals = eligibility_refusals(asset, market.as_of)
        if refusals:
            excluded.append((asset.asset_id, tuple(refusals)))
            continue
        try:
            counted.append(value_asset(asset, market))
        except ValidationError as exc:
            if exc.code not in UNPRICED:
                raise
            # an asset without a price or FX rate that day counts as nothing, named, and the rest is still valued
            excluded.append((asset.asset_id, (Refusal(exc.code, f"not valued: {exc.detail}"),)))
    return PoolValuation(coin=coin, as_of=market.as_of, assets=tuple(counted), excluded=tuple(excluded))


# --- coverage and the mint gate ----------------------------------------------------------------------


def liabilities_base_units(outstanding_base_units: int, redemptions_in_flight_base_units: int) -> int:
    """Coins outstanding (frozen included) plus redemptions accepted but not yet paid."""
    if outstanding_base_units < 0 or redemptions_in_flight_base_units < 0:
        raise ValidationError("supply and in-flight redemptions must be >= 0", code="bad_liabilities")
    return outstanding_base_units + redemptions_in_flight_base_units


def coverage_bps(reserve_value_minor: int, liabilities_in_base_units: int) -> int | None:
    """Reserve / liabilities in basis points, rounded DOWN. None when there are no liabilities."""
    if liabilities_in_base_units < 0 or reserve_value_minor < 0:
        raise ValidationError("reserve and liabilities must be >= 0", code="bad_coverage_input")
    if liabilities_in_base_units == 0:
        return None
    return (reserve_value_minor * base_units_per_minor * bps_one) // liabilities_in_base_units


@dataclass(frozen=True, slots=True)
class MintCheck:
    allowed: bool
    coverage_after_bps: int
    required_bps: int
    reserve_after_minor: int
    liabilities_after_base_units: int


def check_mint(
    *,
    reserve_value_minor: int,
    outstanding_base_units: int,
    redemptions_in_flight_base_units: int,
    mint_base_units: int,
    buffer_bps: int,
    reserve_added_minor: int = 0,
) -> MintCheck:
    """Would coverage after this mint stay at or above 100 % + buffer? Exact integer comparison.

    `reserve_added_minor` is fiat received for this mint that joins the reserve with it (a subscription).
    """
    if mint_base_units <= 0:
        raise ValidationError("mint_base_units must be positive", code="bad_mint")
    if buffer_bps < 0 or reserve_added_minor < 0:
        raise ValidationError("buffer_bps and reserve_added_minor must be >= 0", code="bad_mint")
    liab = liabilities_base_units(outstanding_base_units, redemptions_in_flight_base_units) + mint_base_units
    reserve = reserve_value_minor + reserve_added_minor
    required = bps_one + buffer_bps
    allowed = reserve * base_units_per_minor * bps_one >= liab * required
    cov = coverage_bps(reserve, liab)
    return MintCheck(
        allowed=allowed,
        coverage_after_bps=cov if cov is not None else 0,
        required_bps=required,
        reserve_after_minor=reserve,
        liabilities_after_base_units=liab,
    )


def require_mint_covered(**kwargs: int) -> MintCheck:
    """check_mint, raising RefusedError(coverage_below_minimum) when the mint is not allowed."""
    result = check_mint(**kwargs)
    if not result.allowed:
        raise RefusedError(
            f"mint refused: coverage after mint would be {_pct(result.coverage_after_bps)}, "
            f"below the required {_pct(result.required_bps)}",
            code="coverage_below_minimum",
        )
    return result


def _pct(value_bps: int) -> str:
    return f"{value_bps // 100}.{value_bps % 100:02d}%"


# --- liquidity ladder, concentration, stress -----------------------------------------------------------


def bucket_for_days(days: int) -> LiquidityBucket:
    if days <= 0:
        return LiquidityBucket.TODAY
    if days <= 1:
        return LiquidityBucket.ONE_DAY
    if days <= 7:
        return LiquidityBucket.ONE_WEEK
    return LiquidityBucket.LATER


@dataclass(frozen=True, slots=True)
class LadderRung:
    bucket: LiquidityBucket
    amount_minor: int
    cumulative_minor: int


def liquidity_ladder(pool: PoolValuation) -> tuple[LadderRung, ...]:
    """Value after haircut that is cash today, within 1 day, within 1 week, and later, with running totals."""
    totals = {b: 0 for b in LiquidityBucket}
    for a in pool.assets:
        totals[bucket_for_days(a.liquidity_days)] += a.value_after_haircut_minor
    rungs: list[LadderRung] = []
    running = 0
    for b in LiquidityBucket:
        running += totals[b]
        rungs.append(LadderRung(bucket=b, amount_minor=totals[b], cumulative_minor=running))
    return tuple(rungs)


@dataclass(frozen=True, slots=True)
class ConcentrationBreach:
    bank: str
    exposure_minor: int
    share_bps: int
    cap_bps: int


def bank_exposures_minor(pool: PoolValuation) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in pool.assets:
        if a.kind in bank_exposure_kinds:
            out[a.bank] = out.get(a.bank, 0) + a.value_after_haircut_minor
    return out


def concentration_bps(pool: PoolValuation) -> dict[str, int]:
    """Each bank's share of the pool (after haircuts), rounded DOWN, in bps."""
    total = pool.reserve_value_minor
    if total <= 0:
        return {}
    return {bank: v * bps_one // total for bank, v in bank_exposures_minor(pool).items()}


def concentration_breaches(
    pool: PoolValuation, cap_bps: int, caps_bps_by_bank: Mapping[str, int] | None = None
) -> list[ConcentrationBreach]:
    """Banks whose exposure exceeds their cap (a bank-specific cap, else `cap_bps`), compared exactly."""
    total = pool.reserve_value_minor
    caps = caps_bps_by_bank or {}
    out: list[ConcentrationBreach] = []
    if total <= 0:
        return out
    for bank, v in sorted(bank_exposures_minor(pool).items()):
        cap = caps.get(bank, cap_bps)
        if v * bps_one > cap * total:
            out.append(ConcentrationBreach(bank, v, v * bps_one // total, cap))
    return out


@dataclass(frozen=True, slots=True)
class StressDay:
    day: int  # 1..N
    redeemed_minor: int
    redeemed_cumulative_minor: int
    liquid_cumulative_minor: int  # reserve value convertible to cash by this day
    surplus_minor: int  # liquid minus redeemed (negative = shortfall)


@dataclass(frozen=True, slots=True)
class StressResult:
    run_bps: int
    days: int
    run_total_minor: int
    table: tuple[StressDay, ...]
    shortfall_minor: int  # the worst day's shortfall, 0 if none
    first_shortfall_day: int | None

    @property
    def passed(self) -> bool:
        return self.shortfall_minor == 0


def stress_test(
    pool: PoolValuation, *, supply_base_units: int, run_bps: int, days: int
) -> StressResult:
    """A redemption run of `run_bps` of supply spread evenly over `days` days against the ladder.

    Redemptions asked on day d (1-based) must be paid from assets that are cash within d-1 days (day 1 is paid
    from today's cash). The run is rounded UP to whole minor units; any remainder falls on day 1.
    """
    if not 1 <= days <= stress_days_max:
        raise ValidationError(f"days must be 1..{stress_days_max}", code="bad_stress")
    if not 0 <= run_bps <= bps_one:
        raise ValidationError("run_bps must be 0..10,000", code="bad_stress")
    if supply_base_units < 0:
        raise ValidationError("supply must be >= 0", code="bad_stress")
    run_base = -((-supply_base_units * run_bps) // bps_one)
    run_minor = -((-run_base) // base_units_per_minor)
    per_day, remainder = divmod(run_minor, days)
    liquid_by_day = [0] * (days + 1)
    for a in pool.assets:
        if a.liquidity_days < days:
            liquid_by_day[a.liquidity_days] += a.value_after_haircut_minor
    table: list[StressDay] = []
    redeemed_cum = 0
    liquid_cum = 0
    worst = 0
    first: int | None = None
    for d in range(1, days + 1):
        liquid_cum += liquid_by_day[d - 1]
        today = per_day + (remainder if d == 1 else 0)
        redeemed_cum += today
        surplus = liquid_cum - redeemed_cum
        if surplus < 0:
            worst = max(worst, -surplus)
            if first is None:
                first = d
        table.append(StressDay(d, today, redeemed_cum, liquid_cum, surplus))
    return StressResult(run_bps, days, run_minor, tuple(table), worst, first)


def group_by_coin(assets: Sequence[ReserveAsset]) -> dict[Currency, list[ReserveAsset]]:
    """One pool per coin."""
    out: dict[Currency, list[ReserveAsset]] = {}
    for a in assets:
        out.setdefault(a.coin, []).append(a)
    return out


# --- records kept by the store (plain values) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegulatorApproval:
    """The regulator's approval to hold a currency other than the pool's (e.g. HKD assets backing BCNH)."""

    approval_ref: str
    coin: Currency
    currency: Currency
    granted_on: date
    expires_on: date | None = None
    note: str = ""

    def covers(self, asset: ReserveAsset, as_of: date) -> bool:
        return (
            self.coin == asset.coin
            and self.currency == asset.currency
            and self.granted_on <= as_of
            and (self.expires_on is None or as_of <= self.expires_on)
        )


@dataclass(frozen=True, slots=True)
class BreakerState:
    """Minting for `coin` is halted until an operator resets the breaker with a reason."""

    coin: Currency
    halted: bool
    reason: str = ""
    actor: str = ""
    changed_at_ns: int = 0
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    coin: Currency
    action: str  # "trip" | "reset"
    reason: str
    actor: str
    at_ns: int
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    coin: Currency
    kind: str
    severity: str  # "high" | "medium" | "low"
    summary: str
    details_json: str
    status: str  # "open" | "closed"
    opened_at_ns: int
    closed_at_ns: int | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    run_id: str
    coin: Currency
    as_of: date
    ran_at_ns: int
    ok: bool
    break_count: int
    accounts_checked: int
    holders_checked: int
    breaks_json: str


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    coin: Currency
    as_of: date
    reserve_value_minor: int
    market_value_minor: int
    liabilities_base_units: int
    coverage_bps: int | None
    recorded_at_ns: int = 0


@dataclass(frozen=True, slots=True)
class PublishedRoot:
    snapshot_id: str
    coin: Currency
    as_of: date
    root_hash_hex: str
    total_base_units: int
    leaf_count: int
    published_at_ns: int


@dataclass(frozen=True, slots=True)
class StatementBalance:
    """The closing balance (CLBD) of one reserve account on one bank statement (camt.053)."""

    account: str
    message_id: str
    currency: Currency
    closing_minor: int
    closing_on: date | None
    created_at_ns: int
    ingested_at_ns: int
