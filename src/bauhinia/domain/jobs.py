"""When each of the service's jobs is due: an interval, or a Hong Kong calendar time (optionally business days
only). Pure: the scheduler asks `next_due_ns(schedule, last_started_ns, now_ns, is_business_day)`.

A schedule is written as configuration text:
    "every 5s" | "every 2m" | "every 1h"       an interval from the start of the last run
    "at 17:30" | "at 17:30 business"           once a day at that Hong Kong time (business days only)
    "weekly fri 18:00"                         once a week (the day's first three letters), Hong Kong time
    "off"                                      never (the job can still be run by hand)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bauhinia.domain.calendar import HK_TZ
from bauhinia.domain.errors import ValidationError

_UNITS = {"s": 1, "m": 60, "h": 3600}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
interval_s_min = 1
interval_s_max = 7 * 86_400
# A calendar slot missed while no replica ran (a restart) is caught up only this long after it: the daily
# statement of 18:00 is still written by a replica that starts at 23:00, not by a new install next morning.
catch_up_s = 12 * 3600


@dataclass(frozen=True, slots=True)
class Schedule:
    every_s: int | None = None
    at: time | None = None
    business_days_only: bool = False
    weekday: int | None = None  # 0 = Monday, with `at`
    off: bool = False

    def describe(self) -> str:
        if self.off:
            return "off"
        if self.every_s is not None:
            return f"every {self.every_s}s"
        assert self.at is not None
        if self.weekday is not None:
            return f"weekly {_DAYS[self.weekday]} {self.at:%H:%M}"
        return f"at {self.at:%H:%M}" + (" business" if self.business_days_only else "")


def parse_schedule(text: str) -> Schedule:
    spec = " ".join(text.lower().split())
    if spec == "off":
        return Schedule(off=True)
    m = re.fullmatch(r"every (\d+)([smh])", spec)
    if m:
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        if not interval_s_min <= seconds <= interval_s_max:
            raise ValidationError(f"schedule {text!r}: an interval of 1 s .. 7 days", code="bad_schedule")
        return Schedule(every_s=seconds)
    m = re.fullmatch(r"at (\d{1,2}):(\d{2})( business)?", spec)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return Schedule(at=time(int(m.group(1)), int(m.group(2))), business_days_only=bool(m.group(3)))
    m = re.fullmatch(r"weekly (mon|tue|wed|thu|fri|sat|sun) (\d{1,2}):(\d{2})", spec)
    if m and int(m.group(2)) < 24 and int(m.group(3)) < 60:
        return Schedule(at=time(int(m.group(2)), int(m.group(3))), weekday=_DAYS.index(m.group(1)))
    raise ValidationError(f"schedule {text!r} is not 'every <n>s|m|h', 'at HH:MM [business]', 'weekly <day> HH:MM' "
                          "or 'off'", code="bad_schedule")


def _ns(day: date, at: time) -> int:
    return int(datetime.combine(day, at, tzinfo=HK_TZ).timestamp()) * 1_000_000_000


def next_due_ns(schedule: Schedule, last_started_ns: int | None, now_ns: int,
                is_business_day: Callable[[date], bool]) -> int | None:
    """The time the job is next due (<= now_ns: due now), or None for never. Calendar jobs are due once per
    slot: the latest slot at or before now that the last run did not start after."""
    if schedule.off:
        return None
    if schedule.every_s is not None:
        return now_ns if last_started_ns is None else last_started_ns + schedule.every_s * 1_000_000_000
    assert schedule.at is not None
    today = datetime.fromtimestamp(now_ns / 1e9, HK_TZ).date()
    # the latest slot at or before now (looking back up to two weeks), then the next one after it
    latest = None
    for back in range(15):
        day = today - timedelta(days=back)
        if schedule.weekday is not None and day.weekday() != schedule.weekday:
            continue
        if schedule.business_days_only and not is_business_day(day):
            continue
        slot = _ns(day, schedule.at)
        if slot <= now_ns:
            latest = slot
            break
    if latest is not None and (last_started_ns is None or last_started_ns < latest) \
            and now_ns - latest <= catch_up_s * 1_000_000_000:
        return latest
    for ahead in range(1, 16):
        day = today + timedelta(days=ahead - 1)
        if schedule.weekday is not None and day.weekday() != schedule.weekday:
            continue
        if schedule.business_days_only and not is_business_day(day):
            continue
        slot = _ns(day, schedule.at)
        if slot > now_ns:
            return slot
    return None


def slot_just_passed(now_ns: int, minutes_ago: int = 2) -> str:
    """A daily schedule whose latest slot was `minutes_ago` before now (Hong Kong time): due at once, and once
    (the demo and tests use it to show a calendar job without waiting for its hour)."""
    at = datetime.fromtimestamp(now_ns / 1e9, HK_TZ) - timedelta(minutes=minutes_ago)
    return f"at {at:%H:%M}"
