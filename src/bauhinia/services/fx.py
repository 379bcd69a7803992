"""One FX rate source for every rule that converts (issue 21 item 4).

The rates are the reserves store's: loaded from a publisher's file (`bauhinia reserves load-fx`, ECB reference
rates or a CSV) or with the market data, the same figures the reserve valuation uses. A rule that converts asks
here for the rate on its day:
  * a rate published within `max_age_days` before the day is used, with `margin_bps` added when the rule is a
    threshold (the HK$8,000 identity and travel-rule thresholds, the monitoring thresholds), so rounding and the
    gap between the published and the traded rate never let an amount slip under it;
  * no rate, or only an older one, falls back to `fallback_micro` (HK$1.10 per CNH, above any rate of recent
    years): a threshold is then applied early, never late, and the quote says it is a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bauhinia.domain.calendar import HK_TZ, from_ns
from bauhinia.domain.money import Currency
from bauhinia.ports import Clock, ReservesStore

hkd_per_cnh_fallback_micro = 1_100_000
max_age_days_default = 5
threshold_margin_bps_default = 100


@dataclass(frozen=True, slots=True)
class FxQuote:
    source: Currency
    target: Currency
    rate_micro: int  # micro-units of `target` per unit of `source`
    published_on: date | None  # None: the fallback
    note: str = ""

    @property
    def fallback(self) -> bool:
        return self.published_on is None


@dataclass
class FxSource:
    reserves: ReservesStore
    clock: Clock
    max_age_days: int = max_age_days_default
    threshold_margin_bps: int = threshold_margin_bps_default
    fallback_micro: int = hkd_per_cnh_fallback_micro  # HKD per CNH when no current rate is loaded

    def quote(self, source: Currency, target: Currency, on: date | None = None) -> FxQuote:
        if source == target:
            return FxQuote(source, target, 1_000_000, on)
        day = on or from_ns(self.clock.now_ns()).astimezone(HK_TZ).date()
        found = self.reserves.fx_rate(source, target, day)
        if found is not None and found[1] >= day - timedelta(days=self.max_age_days):
            return FxQuote(source, target, found[0], found[1])
        why = (f"the latest {source.value}/{target.value} rate is for {found[1]}, more than {self.max_age_days} "
               f"days before {day}" if found else f"no {source.value}/{target.value} rate is loaded")
        if (source, target) == (Currency.CNH, Currency.HKD):
            return FxQuote(source, target, self.fallback_micro, None, why + ": the fallback rate is used")
        raise LookupError(why)  # no fallback that errs on the safe side is known for other pairs

    def hkd_minor_for_threshold(self, amount_minor: int, fiat: Currency, on: date | None = None) -> int:
        """An amount in HKD minor units for a threshold rule: the published rate plus the margin, rounded up (or
        the fallback, which is above any recent rate)."""
        if fiat is Currency.HKD:
            return amount_minor
        q = self.quote(fiat, Currency.HKD, on)
        rate = q.rate_micro if q.fallback else -(-q.rate_micro * (10_000 + self.threshold_margin_bps) // 10_000)
        return -(-amount_minor * rate // 1_000_000)
