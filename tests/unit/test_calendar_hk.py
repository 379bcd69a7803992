"""Hong Kong business days, closures and the payout deadline (holiday data from the `holidays` package)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bauhinia.adapters.calendar_data import hk_holidays, load_closures, load_hk_calendar
from bauhinia.domain.calendar import (
    HK_TZ,
    Closure,
    ClosureKind,
    HkCalendar,
    from_ns,
    payout_deadline,
    payout_deadline_ns,
    to_ns,
)
from bauhinia.domain.errors import ValidationError


@pytest.fixture(scope="module")
def cal() -> HkCalendar:
    return load_hk_calendar(2023, 2026, closures_path=Path("/nonexistent"))


def hk(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HK_TZ)


def test_lunar_new_year_2025(cal: HkCalendar) -> None:
    for d in (date(2025, 1, 29), date(2025, 1, 30), date(2025, 1, 31)):
        assert not cal.is_business_day(d)
        assert "Chinese New Year" in (cal.why_closed(d) or "")
    assert cal.is_business_day(date(2025, 1, 28))  # the eve is a (half) business day
    # request on LNY eve: next business day is Monday 3 February, deadline its 24:00 HK
    dl = payout_deadline(cal, hk(2025, 1, 28, 15))
    assert dl.due_business_day == date(2025, 2, 3)
    assert dl.deadline == datetime(2025, 2, 3, 16, 0, tzinfo=UTC)


def test_easter_2025(cal: HkCalendar) -> None:
    assert cal.why_closed(date(2025, 4, 18)) == "Good Friday"
    assert not cal.is_business_day(date(2025, 4, 19))
    assert cal.why_closed(date(2025, 4, 21)) == "Easter Monday"
    assert payout_deadline(cal, hk(2025, 4, 17, 18)).due_business_day == date(2025, 4, 22)


def test_christmas_2024(cal: HkCalendar) -> None:
    assert not cal.is_business_day(date(2024, 12, 25)) and not cal.is_business_day(date(2024, 12, 26))
    assert cal.is_business_day(date(2024, 12, 24)) and cal.is_business_day(date(2024, 12, 27))
    assert payout_deadline(cal, hk(2024, 12, 24, 9)).due_business_day == date(2024, 12, 27)


@pytest.mark.requirement("ISS-PAYOUT-DEADLINE")
def test_friday_request_is_due_monday(cal: HkCalendar) -> None:
    dl = payout_deadline(cal, hk(2025, 3, 14, 17, 30))
    assert dl.request_day_hk == date(2025, 3, 14) and dl.due_business_day == date(2025, 3, 17)
    assert dl.deadline.astimezone(HK_TZ) == hk(2025, 3, 18, 0, 0)
    # a Saturday or Sunday request is due Monday too
    assert payout_deadline(cal, hk(2025, 3, 15, 10)).due_business_day == date(2025, 3, 17)
    assert payout_deadline(cal, hk(2025, 3, 16, 23, 59)).due_business_day == date(2025, 3, 17)


@pytest.mark.requirement("ISS-PAYOUT-DEADLINE")
def test_request_the_day_before_a_holiday(cal: HkCalendar) -> None:
    # 30 June 2025 (Mon) -> 1 July is SAR Establishment Day -> due Wednesday 2 July
    assert payout_deadline(cal, hk(2025, 6, 30, 11)).due_business_day == date(2025, 7, 2)


def test_the_hk_date_decides_not_the_utc_date(cal: HkCalendar) -> None:
    # 2025-03-13 17:00 UTC is Friday 14 March 01:00 in Hong Kong
    dl = payout_deadline(cal, datetime(2025, 3, 13, 17, 0, tzinfo=UTC))
    assert dl.request_day_hk == date(2025, 3, 14) and dl.due_business_day == date(2025, 3, 17)


def test_deadline_ns_matches_the_instant(cal: HkCalendar) -> None:
    at = hk(2025, 3, 14, 17, 30)
    dl = payout_deadline(cal, at)
    assert dl.deadline_ns == to_ns(dl.deadline) == int(dl.deadline.timestamp()) * 1_000_000_000
    assert payout_deadline_ns(cal, to_ns(at)) == dl.deadline_ns
    assert from_ns(dl.deadline_ns) == dl.deadline
    assert dl.breached(dl.deadline) and not dl.breached(dl.deadline - timedelta(microseconds=1))


def _with(closure: Closure) -> HkCalendar:
    return HkCalendar(hk_holidays(2025, 2025), 2025, 2025, (closure,))


def test_typhoon_signal_8_in_the_morning_closes_the_day() -> None:
    c = _with(Closure(ClosureKind.TYPHOON_8, hk(2025, 9, 24, 2, 20), hk(2025, 9, 24, 11, 10), "Ragasa"))
    assert not c.is_business_day(date(2025, 9, 24))
    assert c.why_closed(date(2025, 9, 24)) == "closed by typhoon_8"
    # Tuesday request: Wednesday is closed, so due Thursday
    assert payout_deadline(c, hk(2025, 9, 23, 16)).due_business_day == date(2025, 9, 25)


@pytest.mark.parametrize(
    ("start", "end", "closed"),
    [
        ((6, 0), (8, 59), False),  # lowered before 09:00: banks open
        ((12, 1), (23, 0), False),  # hoisted after noon: the morning was open
        ((11, 59), (15, 0), True),  # in force before noon
        ((8, 0), (9, 1), True),  # still in force at 09:00
    ],
)
def test_closure_window_edges(start: tuple[int, int], end: tuple[int, int], closed: bool) -> None:
    c = _with(Closure(ClosureKind.BLACK_RAINSTORM, hk(2025, 9, 10, *start), hk(2025, 9, 10, *end)))
    assert c.is_business_day(date(2025, 9, 10)) is not closed


def test_overnight_signal_closes_both_mornings_it_covers() -> None:
    c = _with(Closure(ClosureKind.TYPHOON_8, hk(2025, 9, 10, 20), hk(2025, 9, 12, 10)))
    assert not c.is_business_day(date(2025, 9, 11)) and not c.is_business_day(date(2025, 9, 12))
    assert c.is_business_day(date(2025, 9, 10))


def test_window_is_a_parameter() -> None:
    closure = Closure(ClosureKind.TYPHOON_8, hk(2025, 9, 10, 13), hk(2025, 9, 10, 15))
    c = HkCalendar(hk_holidays(2025, 2025), 2025, 2025, (closure,), closure_window_end=time(14, 0))
    assert not c.is_business_day(date(2025, 9, 10))


def test_refuses_years_it_does_not_know(cal: HkCalendar) -> None:
    with pytest.raises(ValidationError, match="2030"):
        cal.is_business_day(date(2030, 1, 2))
    with pytest.raises(ValidationError):
        Closure(ClosureKind.TYPHOON_8, datetime(2025, 1, 1, 9), datetime(2025, 1, 1, 10))  # naive
    with pytest.raises(ValidationError):
        payout_deadline(cal, datetime(2025, 1, 2, 9))


def test_business_days_listing(cal: HkCalendar) -> None:
    assert cal.business_days(date(2025, 1, 25), 3) == [date(2025, 1, 27), date(2025, 1, 28), date(2025, 2, 3)]


def test_closures_json(tmp_path: Path) -> None:
    path = tmp_path / "closures.json"
    path.write_text(json.dumps([
        {"kind": "typhoon_8", "start": "2025-09-24T02:20:00+08:00", "end": "2025-09-24T11:10:00+08:00",
         "note": "test"},
    ]))
    [closure] = load_closures(path)
    assert closure.kind is ClosureKind.TYPHOON_8 and closure.start == hk(2025, 9, 24, 2, 20)
    assert not load_hk_calendar(2025, 2025, path).is_business_day(date(2025, 9, 24))
    path.write_text('[{"kind": "earthquake", "start": "x", "end": "y"}]')
    with pytest.raises(ValidationError):
        load_closures(path)
    shipped = load_closures()
    assert all(c.start.tzinfo is not None for c in shipped)


def test_cli_calendar_and_deadline() -> None:
    from bauhinia.entrypoints.cli.bank import app

    runner = CliRunner()
    out = runner.invoke(app, ["calendar", "--from", "2025-01-27", "--days", "7"])
    assert out.exit_code == 0, out.output
    assert "Chinese New Year" in out.output and "2025-02-02" in out.output
    out = runner.invoke(app, ["deadline", "--requested-at", "2025-03-14T17:30:00+08:00", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["due_business_day"] == "2025-03-17"


def test_cli_bank_parse() -> None:
    from bauhinia.entrypoints.cli.bank import app

    fixture = Path(__file__).parents[1] / "fixtures" / "iso20022" / "camt054_v08.xml"
    runner = CliRunner()
    out = runner.invoke(app, ["parse", str(fixture), "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert [e["amount_minor"] for e in body["reports"][0]["entries"]] == [100_000_000, 25_050, 7]
    out = runner.invoke(app, ["parse", str(fixture)])
    assert out.exit_code == 0 and "E2E-SZX-0001" in out.output


def test_cli_bad_file_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>')
    proc = subprocess.run(
        [sys.executable, "-m", "bauhinia.entrypoints.cli.main", "bank", "parse", str(bad)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bank_file_forbidden_xml" in lines[0]
