"""Strict request types shared by the routers.

- `Minor` / `BaseUnits`: money as JSON integers only. A string ("100"), a float (100.0) or an exponent (1e3, which
  JSON parses as a float) is refused with 422, never coerced: an amount is exact or it is wrong. Bounds stay on
  the field (`amount_minor: Minor = Field(gt=0, le=...)`).
- `StrictCount`: any other integer of a request (quantities, seconds), strict the same way.
- `Name`: a name or a short text that may reach a payment file, a report or a screen: no NUL, no C0 or C1
  control character (no line breaks either), no bidirectional override, isolate or mark (U+202A-U+202E,
  U+2066-U+2069, U+200E, U+200F, U+061C), which could disguise what a reader sees, and not blank.
- `Text`: free text (notes, reasons): line breaks and tabs allowed, everything else refused as in `Name`.
- `ApiDate`: an ISO 8601 calendar date (YYYY-MM-DD) from 2000-01-01 to 2099-12-31: `0`, a timestamp or a
  1970 date is refused rather than answered.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Strict

DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2099, 12, 31)
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NAME_BAD = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")
_TEXT_BAD = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_BIDI}]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character a name (or, with `multiline`, a text) may not contain, or None."""
    found = (_TEXT_BAD if multiline else _NAME_BAD).search(text)
    return found.group(0) if found else None


def _name(value: str) -> str:
    bad = unsafe_character(value)
    if bad is not None:
        raise ValueError(f"contains the control or bidirectional character U+{ord(bad):04X}")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _text(value: str) -> str:
    bad = unsafe_character(value, multiline=True)
    if bad is not None:
        raise ValueError(f"contains the control or bidirectional character U+{ord(bad):04X}")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date is YYYY-MM-DD")
    return value


def _date_range(value: date) -> date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"a date from {DATE_MIN.isoformat()} to {DATE_MAX.isoformat()}")
    return value


Minor = Annotated[int, Strict()]
BaseUnits = Annotated[int, Strict()]
StrictCount = Annotated[int, Strict()]
Name = Annotated[str, AfterValidator(_name)]
Text = Annotated[str, AfterValidator(_text)]
ApiDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_date_range)]
