"""When the service's jobs are due (domain/jobs.py): intervals, Hong Kong calendar times, business days, weeks."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bauhinia.domain.calendar import HK_TZ
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.jobs import next_due_ns, parse_schedule

S = 1_000_000_000


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=HK_TZ).timestamp()) * S


def _weekdays(day: date) -> bool:
    return day.weekday() < 5


def test_parse_and_describe() -> None:
    assert parse_schedule("every 5s").every_s == 5
    assert parse_schedule("EVERY  2m").every_s == 120
    assert parse_schedule("at 17:30 business").describe() == "at 17:30 business"
    assert parse_schedule("weekly fri 18:30").describe() == "weekly fri 18:30"
    assert parse_schedule("off").off
    for bad in ("every 0s", "every 9d", "at 25:00", "weekly xyz 10:00", "sometimes", "every 8d"):
        with pytest.raises(ValidationError, match="schedule"):
            parse_schedule(bad)


def test_interval_is_due_from_the_last_start() -> None:
    sched = parse_schedule("every 10s")
    now = _ns(2026, 12, 4, 10, 0, 0)
    assert next_due_ns(sched, None, now, _weekdays) == now
    assert next_due_ns(sched, now - 3 * S, now, _weekdays) == now + 7 * S
    assert next_due_ns(parse_schedule("off"), None, now, _weekdays) is None


def test_daily_slot_runs_once_and_is_caught_up_only_for_a_while() -> None:
    sched = parse_schedule("at 18:00")
    before = _ns(2026, 12, 4, 17, 0)
    assert next_due_ns(sched, None, before, _weekdays) == _ns(2026, 12, 4, 18, 0)  # not yet
    after = _ns(2026, 12, 4, 18, 0, 5)
    assert next_due_ns(sched, None, after, _weekdays) == _ns(2026, 12, 4, 18, 0)  # due now
    ran = _ns(2026, 12, 4, 18, 0, 6)
    assert next_due_ns(sched, ran, after + 60 * S, _weekdays) == _ns(2026, 12, 5, 18, 0)  # once per day
    late_restart = _ns(2026, 12, 4, 23, 0)  # no replica ran at 18:00: caught up at 23:00
    assert next_due_ns(sched, _ns(2026, 12, 3, 18, 0, 1), late_restart, _weekdays) == _ns(2026, 12, 4, 18, 0)
    next_morning = _ns(2026, 12, 5, 9, 0)  # 15 h later: not caught up, the next slot is tonight
    assert next_due_ns(sched, _ns(2026, 12, 3, 18, 0, 1), next_morning, _weekdays) == _ns(2026, 12, 5, 18, 0)


def test_business_days_and_weeks() -> None:
    sched = parse_schedule("at 17:30 business")
    saturday = _ns(2026, 12, 5, 18, 0)
    assert next_due_ns(sched, _ns(2026, 12, 4, 17, 30, 1), saturday, _weekdays) == _ns(2026, 12, 7, 17, 30)
    weekly = parse_schedule("weekly fri 18:30")
    thursday = _ns(2026, 12, 3, 12, 0)
    assert next_due_ns(weekly, None, thursday, _weekdays) == _ns(2026, 12, 4, 18, 30)
    assert next_due_ns(weekly, _ns(2026, 12, 4, 18, 30, 2), _ns(2026, 12, 4, 19, 0), _weekdays) == \
        _ns(2026, 12, 11, 18, 30)


def test_a_slot_just_passed_is_due_now_and_once() -> None:
    from bauhinia.domain.jobs import slot_just_passed

    for now in (_ns(2026, 12, 4, 12, 30), _ns(2026, 12, 5, 0, 1), _ns(2026, 12, 4, 23, 59)):
        sched = parse_schedule(slot_just_passed(now))
        due = next_due_ns(sched, None, now, _weekdays)
        assert due is not None and due <= now
        assert next_due_ns(sched, now, now + S, _weekdays) > now + S  # not again today
