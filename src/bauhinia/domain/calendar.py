"""Hong Kong business days and the redemption payout deadline. Pure: holidays and closures come in as data.

Rules (what a Hong Kong bank does, simplified and stated):
- Hong Kong time is UTC+8 all year (no daylight saving).
- Saturdays and Sundays are not business days; neither is a general holiday (public holidays plus the
  "optional" general holidays banks close on: Good Friday, the day after, Easter Monday...). Half-day
  eves (Christmas Eve, Lunar New Year's Eve) are business days.
- A weekday is closed by a closure (tropical cyclone signal No. 8 or above, black rainstorm warning) when
  the closure is in force at any moment of the window 09:00-12:00 Hong Kong time that day: banks then do
  not open (or close) for the day. A signal hoisted after 12:00 or lowered before 09:00 leaves the day a
  business day. The window is a parameter (`closure_window_start`, `closure_window_end`).
- Payout deadline: the end (24:00 Hong Kong time, exclusive) of the first business day strictly after the
  calendar date on which the valid request was received, in Hong Kong time. A request on Friday, Saturday
  or Sunday before a normal week is due by Monday 24:00; a request the day before a holiday skips it.

The calendar refuses questions about years its holiday data does not cover, rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum

from bauhinia.domain.errors import InvariantViolation, ValidationError

HK_TZ = timezone(timedelta(hours=8), "HKT")
business_day_search_days_max: int = 60  # longest run of closed days we accept before calling it a data error
calendar_listing_days_max: int = 3_660


class ClosureKind(StrEnum):
    TYPHOON_8 = "typhoon_8"  # tropical cyclone warning signal No. 8 or higher
    BLACK_RAINSTORM = "black_rainstorm"
    OTHER = "other"  # any other market-wide closure declared by the HKMA / HKAB


@dataclass(frozen=True, slots=True)
class Closure:
    """A period during which a closure signal was in force. Instants must be timezone-aware."""

    kind: ClosureKind
    start: datetime
    end: datetime
    note: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValidationError("closure start and end must carry a UTC offset", code="naive_datetime")
        if self.end <= self.start:
            raise ValidationError("closure must end after it starts", code="bad_closure")

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True, slots=True)
class HkCalendar:
    """Hong Kong business days for the years `first_year`..`last_year` (inclusive) of holiday data."""

    holidays: Mapping[date, str]
    first_year: int
    last_year: int
    closures: tuple[Closure, ...] = ()
    closure_window_start: time = time(9, 0)
    closure_window_end: time = time(12, 0)
    _closed_days: frozenset[date] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.first_year > self.last_year:
            raise ValidationError("calendar first_year is after last_year", code="bad_calendar")
        for d in self.holidays:
            if not (self.first_year <= d.year <= self.last_year):
                raise ValidationError(f"holiday {d} is outside {self.first_year}..{self.last_year}")
        closed: set[date] = set()
        for c in self.closures:
            day = c.start.astimezone(HK_TZ).date()
            last = c.end.astimezone(HK_TZ).date()
            while day <= last:
                if c.overlaps(*self._window(day)):
                    closed.add(day)
                day += timedelta(days=1)
        object.__setattr__(self, "_closed_days", frozenset(closed))

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.closure_window_start, HK_TZ),
            datetime.combine(day, self.closure_window_end, HK_TZ),
        )

    def _covered(self, day: date) -> None:
        if not (self.first_year <= day.year <= self.last_year):
            raise ValidationError(
                f"the calendar has holiday data for {self.first_year}..{self.last_year}, not {day.year}",
                code="calendar_not_covered",
            )

    def holiday_name(self, day: date) -> str | None:
        return self.holidays.get(day)

    def closed_by_signal(self, day: date) -> bool:
        return day in self._closed_days

    def closures_on(self, day: date) -> tuple[Closure, ...]:
        start = datetime.combine(day, time(0), HK_TZ)
        return tuple(c for c in self.closures if c.overlaps(start, start + timedelta(days=1)))

    def is_business_day(self, day: date) -> bool:
        self._covered(day)
        return day.weekday() < 5 and day not in self.holidays and day not in self._closed_days

    def why_closed(self, day: date) -> str | None:
        """None for a business day, else the reason in words."""
        self._covered(day)
        if day.weekday() == 5:
            return "Saturday"
        if day.weekday() == 6:
            return "Sunday"
        if day in self.holidays:
            return self.holidays[day]
        if day in self._closed_days:
            kinds = sorted({c.kind.value for c in self.closures_on(day)})
            return "closed by " + ", ".join(kinds)
        return None

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        candidate = day
        for _ in range(business_day_search_days_max):
            candidate += timedelta(days=1)
            if self.is_business_day(candidate):
                return candidate
        raise InvariantViolation(
            f"no Hong Kong business day within {business_day_search_days_max} days after {day}: "
            "check the holiday and closure data"
        )

    def business_days(self, start: date, count: int) -> list[date]:
        """The first `count` business days on or after `start`."""
        if not (0 <= count <= calendar_listing_days_max):
            raise ValidationError(f"count must be 0..{calendar_listing_days_max}", code="bad_count")
        out: list[date] = []
        day = start
        if count and self.is_business_day(day):
            out.append(day)
        while len(out) < count:
            day = self.next_business_day(day)
            out.append(day)
        return out


@dataclass(frozen=True, slots=True)
class PayoutDeadline:
    requested_at: datetime  # aware, UTC
    request_day_hk: date
    due_business_day: date
    deadline: datetime  # aware, UTC: 24:00 HK of due_business_day (exclusive)

    @property
    def deadline_ns(self) -> int:
        return to_ns(self.deadline)

    def breached(self, now: datetime) -> bool:
        return now >= self.deadline


def to_ns(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValidationError("a naive datetime has no instant", code="naive_datetime")
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(instant_ns: int) -> datetime:
    seconds, ns = divmod(instant_ns, 1_000_000_000)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=ns // 1_000)


def payout_deadline(calendar: HkCalendar, requested_at: datetime) -> PayoutDeadline:
    """End of the next Hong Kong business day after the request (see the module's rules)."""
    if requested_at.tzinfo is None:
        raise ValidationError("requested_at must carry a UTC offset", code="naive_datetime")
    request_day = requested_at.astimezone(HK_TZ).date()
    due = calendar.next_business_day(request_day)
    end_hk = datetime.combine(due + timedelta(days=1), time(0), HK_TZ)
    deadline = end_hk.astimezone(UTC)
    if deadline <= requested_at:
        raise InvariantViolation("payout deadline computed before the request")
    return PayoutDeadline(requested_at.astimezone(UTC), request_day, due, deadline)


def payout_deadline_ns(calendar: HkCalendar, requested_at_ns: int) -> int:
    return payout_deadline(calendar, from_ns(requested_at_ns)).deadline_ns


def closures_from_records(records: Iterable[Mapping[str, str]]) -> tuple[Closure, ...]:
    """[{"kind": "typhoon_8", "start": ISO-8601 with offset, "end": ..., "note": ...}] -> Closures."""
    out: list[Closure] = []
    for i, r in enumerate(records):
        try:
            kind = ClosureKind(r["kind"])
            start = datetime.fromisoformat(r["start"])
            end = datetime.fromisoformat(r["end"])
        except (KeyError, ValueError) as exc:
            raise ValidationError(f"closure #{i}: {exc}", code="bad_closure") from None
        out.append(Closure(kind, start, end, r.get("note", "")))
    return tuple(out)
