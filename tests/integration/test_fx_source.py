"""One FX rate source (issue 21 item 4): ECB reference-rate files and CSVs are read into the reserves store, and
the HK$8,000 thresholds convert with the loaded rate plus a margin, falling back to a rate above any recent one
when none is loaded or the latest is stale. On both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bauhinia.adapters import fx_rates
from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Currency
from bauhinia.services.fx import FxSource

CNH, HKD = Currency.CNH, Currency.HKD
ECB = b"""<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
    <Cube time="2026-12-03">
      <Cube currency="USD" rate="1.0450"/><Cube currency="CNY" rate="7.6000"/><Cube currency="HKD" rate="8.1234"/>
    </Cube>
    <Cube time="2026-12-02">
      <Cube currency="CNY" rate="7.7000"/><Cube currency="HKD" rate="8.2000"/>
    </Cube>
    <Cube time="2026-12-01"><Cube currency="USD" rate="1.0400"/></Cube>
  </Cube>
</gesmes:Envelope>"""


def test_ecb_cross_rates_by_hand() -> None:
    days = fx_rates.parse_ecb(ECB)
    # 8.1234 HKD per EUR / 7.6000 CNY per EUR = 1.0688684... HKD per CNY; the inverse 0.9355688...
    assert days[date(2026, 12, 3)] == {(CNH, HKD): 1_068_868, (HKD, CNH): 935_569}
    assert days[date(2026, 12, 2)][(CNH, HKD)] == 1_064_935  # 8.2 / 7.7
    assert date(2026, 12, 1) not in days  # no HKD or CNY that day
    for bad in (b"<not xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                ECB.replace(b'rate="7.6000"', b'rate="-1"'), b"<Envelope/>"):
        with pytest.raises(ValidationError):
            fx_rates.parse_ecb(bad)


def test_csv_rates() -> None:
    days = fx_rates.parse_csv(b"date,from,to,rate\n2026-12-03,CNH,HKD,1.0712\n2026-12-03,HKD,CNH,0.9335\n")
    assert days == {date(2026, 12, 3): {(CNH, HKD): 1_071_200, (HKD, CNH): 933_500}}
    for bad in (b"2026-12-03,CNH,HKD\n", b"2026-13-03,CNH,HKD,1.07\n", b"2026-12-03,CNH,CNH,1\n",
                b"2026-12-03,CNH,HKD,abc\n", b"date,from,to,rate\n"):
        with pytest.raises(ValidationError):
            fx_rates.parse_csv(bad)


@pytest.fixture()
def container(tmp_path: Path, db_url: str) -> Iterator[Container]:
    c = Container(Settings(demo=True, data_dir=tmp_path, database_url=db_url))
    try:
        yield c
    finally:
        c.close()


def test_thresholds_convert_with_the_loaded_rate_plus_margin_else_the_fallback(container: Container) -> None:
    fx = FxSource(container.reserves, container.clock, max_age_days=5)
    gate = container.compliance_gate
    day = date(2026, 12, 4)
    # nothing loaded: the fallback HK$1.10 per CNH, above any recent rate: CNH 7,350.00 counts as HK$8,085.00
    assert fx.quote(CNH, HKD, day).fallback
    assert fx.hkd_minor_for_threshold(7_350_00, CNH, day) == 8_085_00
    for d, rates in fx_rates.parse_ecb(ECB).items():
        container.reserves.put_fx_rates(d, rates)
    q = fx.quote(CNH, HKD, day)
    assert (q.rate_micro, q.published_on, q.fallback) == (1_068_868, date(2026, 12, 3), False)
    # 1.068868 + 1 % = 1.07955668, rounded up to 1.079557; CNH 7,350.00 x 1.079557 = HK$7,934.74395, rounded up
    assert fx.hkd_minor_for_threshold(7_350_00, CNH, day) == -(-7_350_00 * 1_079_557 // 1_000_000) == 7_934_75
    assert fx.hkd_minor_for_threshold(7_350_00, HKD, day) == 7_350_00
    # a day's own rate on that day; ten days after the last one every rate is stale: the fallback again
    assert fx.quote(CNH, HKD, date(2026, 12, 2)).rate_micro == 1_064_935
    stale = fx.quote(CNH, HKD, date(2026, 12, 14))
    assert stale.fallback and "more than 5 days" in stale.note
    # the compliance gate converts through the same source (the HK$8,000 rule): today's figure, not a constant
    assert gate.fx is container.fx
    with pytest.raises(LookupError):
        fx.quote(CNH, Currency.BCNH, day)


def test_a_swap_quote_far_from_the_published_rate_is_refused(container: Container) -> None:
    """Before: the HK$8,000 rule used 1.10 while a swap quote in the same run used 0.9213, and nothing compared a
    quote with any reference. Now a quote more than 300 bps from the day's published rate is refused."""
    from types import SimpleNamespace

    from bauhinia.domain import settlement as st
    from bauhinia.domain.errors import RefusedError
    from bauhinia.services.settlement import _check_against_reference

    deps = SimpleNamespace(fx=container.fx, quote_band_bps=300)
    hkd_cnh = st.Rate.parse(HKD, CNH, "0.5")
    _check_against_reference(deps, hkd_cnh)  # no published rate loaded: nothing to check against
    from bauhinia.services.regulatory import hk_today

    today = hk_today(container.clock.now_ns())
    container.reserves.put_fx_rates(today, {(HKD, CNH): 935_569, (CNH, HKD): 1_068_868})
    _check_against_reference(deps, st.Rate.parse(HKD, CNH, "0.9213"))  # 152 bps under 0.935569: inside
    _check_against_reference(deps, st.Rate.parse(CNH, HKD, "1.0900"))  # 197 bps over 1.068868
    for far in (hkd_cnh, st.Rate.parse(HKD, CNH, "0.9000"), st.Rate.parse(CNH, HKD, "1.11")):
        with pytest.raises(RefusedError) as exc:
            _check_against_reference(deps, far)
        assert exc.value.code == "off_market_rate" and "bps from the published" in str(exc.value)
