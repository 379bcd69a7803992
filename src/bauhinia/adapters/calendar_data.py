"""Hong Kong calendar data for the domain: general holidays from the `holidays` package, closures from JSON.

Banks close on Hong Kong's *general* holidays, which the `holidays` package splits into its "public"
category (statutory holidays) and its "optional" category (Good Friday, the day after, Easter Monday, ...):
both are loaded. Closures (typhoon signal No. 8, black rainstorm) are entered by operators into a JSON file:

    [{"kind": "typhoon_8", "start": "2023-09-01T02:40:00+08:00", "end": "2023-09-02T16:20:00+08:00",
      "note": "Super Typhoon Saola"}]
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import holidays as holidays_pkg

from bauhinia.domain.calendar import Closure, HkCalendar, closures_from_records
from bauhinia.domain.errors import ValidationError

years_span_max: int = 200
DEFAULT_CLOSURES_FILE = Path(__file__).with_name("hk_closures.json")


def hk_holidays(first_year: int, last_year: int) -> dict[date, str]:
    if not (0 <= last_year - first_year < years_span_max):
        raise ValidationError(f"year range {first_year}..{last_year} is not 1..{years_span_max} years")
    data = holidays_pkg.country_holidays(
        "HK", years=range(first_year, last_year + 1), categories=("public", "optional")
    )
    return {d: str(name) for d, name in sorted(data.items())}


def load_closures(path: Path | str | None = None) -> tuple[Closure, ...]:
    p = Path(path) if path is not None else DEFAULT_CLOSURES_FILE
    if not p.exists():
        return ()
    try:
        records = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{p}: not JSON: {exc}", code="bad_closure") from None
    if not isinstance(records, list):
        raise ValidationError(f"{p}: expected a JSON list of closures", code="bad_closure")
    return closures_from_records(records)


def load_hk_calendar(
    first_year: int, last_year: int, closures_path: Path | str | None = None
) -> HkCalendar:
    return HkCalendar(
        holidays=hk_holidays(first_year, last_year),
        first_year=first_year,
        last_year=last_year,
        closures=load_closures(closures_path),
    )
