"""Published FX reference rates, read from the publisher's own file (issue 21 item 4).

ECB euro foreign exchange reference rates: the daily file (eurofxref-daily.xml), the 90-day or the historical file
(eurofxref-hist-90d.xml, eurofxref-hist.xml), all one format:

    <gesmes:Envelope ...><Cube><Cube time="2026-12-03"><Cube currency="HKD" rate="8.1234"/>
        <Cube currency="CNY" rate="7.5678"/>...</Cube></Cube></gesmes:Envelope>

Each rate is units of the currency per euro; a cross rate (HKD per CNY) is the quotient of two of them. The ECB
publishes the onshore renminbi (CNY); the offshore CNH is taken at that rate (the two differ by a fraction of a
percent, and the threshold rules add a margin above it: services/fx.py).

Also a plain CSV (`date,from,to,rate`, e.g. `2026-12-03,CNH,HKD,1.0712`) for any other publisher's figures.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation

from defusedxml import ElementTree

from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Currency, parse_currency

file_bytes_max = 32 * 1024 * 1024
_ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
# the coin currencies and the ECB code each is read from
_ECB_CODE = {Currency.HKD: "HKD", Currency.CNH: "CNY"}


def _decimal(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValidationError(f"{where}: {text!r} is not a rate", code="bad_fx_rate") from None
    if not value.is_finite() or value <= 0:
        raise ValidationError(f"{where}: a rate must be positive", code="bad_fx_rate")
    return value


def _micro(value: Decimal) -> int:
    return int((value * 1_000_000).to_integral_value())


def parse_ecb(data: bytes) -> dict[date, dict[tuple[Currency, Currency], int]]:
    """day -> {(CNH, HKD): micro HKD per CNH, (HKD, CNH): micro CNH per HKD} from an ECB reference-rate file."""
    if len(data) > file_bytes_max:
        raise ValidationError("FX file too large", code="file_too_large")
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml refuses entities; any parse error is bad input
        raise ValidationError(f"not an ECB reference-rate file: {exc}"[:200], code="bad_fx_file") from None
    out: dict[date, dict[tuple[Currency, Currency], int]] = {}
    for day_cube in root.iter(f"{_ECB_NS}Cube"):
        when = day_cube.get("time")
        if when is None:
            continue
        try:
            day = date.fromisoformat(when)
        except ValueError:
            raise ValidationError(f"ECB file: bad date {when!r}", code="bad_fx_file") from None
        per_eur = {c.get("currency", ""): _decimal(c.get("rate", ""), f"{when} {c.get('currency')}")
                   for c in day_cube if c.get("currency")}
        hkd, cny = per_eur.get(_ECB_CODE[Currency.HKD]), per_eur.get(_ECB_CODE[Currency.CNH])
        if hkd is None or cny is None:
            continue  # a day without both rates says nothing about the pair
        out[day] = {(Currency.CNH, Currency.HKD): _micro(hkd / cny), (Currency.HKD, Currency.CNH): _micro(cny / hkd)}
    if not out:
        raise ValidationError("ECB file: no day with both HKD and CNY rates", code="bad_fx_file")
    return out


def parse_csv(data: bytes) -> dict[date, dict[tuple[Currency, Currency], int]]:
    """day -> {(from, to): micro} from `date,from,to,rate` rows (a header row is allowed)."""
    if len(data) > file_bytes_max:
        raise ValidationError("FX file too large", code="file_too_large")
    out: dict[date, dict[tuple[Currency, Currency], int]] = {}
    for n, row in enumerate(csv.reader(io.StringIO(data.decode("utf-8-sig"))), start=1):
        if not row or (n == 1 and row[0].strip().lower() == "date"):
            continue
        if len(row) != 4:
            raise ValidationError(f"line {n}: expected date,from,to,rate", code="bad_fx_file")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise ValidationError(f"line {n}: bad date {row[0]!r}", code="bad_fx_file") from None
        source, target = parse_currency(row[1].strip()), parse_currency(row[2].strip())
        if source == target:
            raise ValidationError(f"line {n}: a rate converts between two currencies", code="bad_fx_file")
        out.setdefault(day, {})[(source, target)] = _micro(_decimal(row[3], f"line {n}"))
    if not out:
        raise ValidationError("FX file: no rates", code="bad_fx_file")
    return out
