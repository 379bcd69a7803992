"""Periodic returns on disk: the monthly return validated against its JSON Schema, written as JSON and CSV, and
the daily statement as JSON and CSV. Formats are documented in monthly_return.schema.json."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from bauhinia.domain.errors import ValidationError

SCHEMA_PATH = Path(__file__).with_name("monthly_return.schema.json")


@cache
def monthly_return_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())  # type: ignore[no-any-return]


def validate_monthly_return(doc: dict[str, Any]) -> None:
    """Raise ValidationError naming the first schema violation (and where)."""
    validator = jsonschema.Draft202012Validator(monthly_return_schema(),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise ValidationError(f"monthly return does not match its schema at {where}: {e.message}",
                              code="return_schema_violation")


def monthly_return_csv(doc: dict[str, Any]) -> str:
    """One row per coin and figure: period, coin, section, figure, value (flat, for spreadsheets)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["period", "coin", "section", "figure", "value"])
    for c in doc["coins"]:
        for section in ("supply", "mints", "redemptions", "reserve"):
            for figure, value in c[section].items():
                if isinstance(value, dict):
                    for k, v in sorted(value.items()):
                        w.writerow([doc["period"], c["coin"], section, f"{figure}.{k}", v])
                else:
                    w.writerow([doc["period"], c["coin"], section, figure, "" if value is None else value])
    for kind, n in sorted(doc["incidents"]["by_kind"].items()):
        w.writerow([doc["period"], "", "incidents", kind, n])
    w.writerow([doc["period"], "", "incidents", "count", doc["incidents"]["count"]])
    late = doc["incidents"]["notified_late_or_overdue"]
    w.writerow([doc["period"], "", "incidents", "notified_late_or_overdue", late])
    for figure, value in doc["compliance"].items():
        w.writerow([doc["period"], "", "compliance", figure, value])
    return out.getvalue()


def daily_statement_csv(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["as_of", "coin", "currency", "outstanding_minor", "redemptions_in_flight_minor", "reserve_value_minor",
                "coverage_bps", "composition"])
    for c in doc["coins"]:
        comp = ";".join(f"{k}={v}" for k, v in sorted(c["composition_minor"].items()))
        w.writerow([doc["as_of"], c["coin"], c["currency"], c["outstanding_minor"], c["redemptions_in_flight_minor"],
                    c["reserve_value_minor"], "" if c["coverage_bps"] is None else c["coverage_bps"], comp])
    return out.getvalue()


def write_return(directory: Path, stem: str, doc: dict[str, Any], csv_text: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    j, c = directory / f"{stem}.json", directory / f"{stem}.csv"
    j.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    c.write_text(csv_text)
    return j, c
