"""Durations and rates written for people: "0.08 s", "2 h 5 min", "160.00% (16,000 bps)".

Pure functions, so domain texts (an alert's summary) and every entrypoint's output (the demo, the CLI) say a
figure the same way. Entrypoints import them from `bauhinia.entrypoints.formatting`.
"""

from __future__ import annotations

NS_PER_S = 10**9


def human_duration(seconds: float) -> str:
    """A duration as a person says it: "0.1 ms", "35 ms", "0.12 s", "42 s", "3 min 20 s", "2 h 5 min", "3 days 4 h"."""
    if seconds < 0:
        return "-" + human_duration(-seconds)
    if seconds == 0:
        return "0 s"
    if seconds < 0.01:
        ms = seconds * 1000
        return f"{ms:.2g} ms" if ms < 1 else f"{ms:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + " s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 72:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def human_duration_ns(ns: int) -> str:
    """`human_duration` of a nanosecond count."""
    return human_duration(ns / NS_PER_S)


def human_bps(bps: int | float | None, *, with_bps: bool = True) -> str:
    """Basis points as a percentage with two decimals, the bps after it: "160.00% (16,000 bps)", "0.50% (50 bps)"."""
    if bps is None:
        return "n/a"
    pct = f"{bps / 100:,.2f}%"
    if not with_bps:
        return pct
    count = f"{bps:,}" if isinstance(bps, int) or float(bps).is_integer() else f"{bps:,.2f}"
    if count.endswith(".0"):
        count = count[:-2]
    return f"{pct} ({count} bps)"
