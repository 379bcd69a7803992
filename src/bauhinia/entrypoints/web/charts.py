"""Server-rendered SVG charts (no JavaScript, no image files): supply against reserves over time.

Coordinates are display geometry only; the amounts in labels and tooltips come from the integer minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bauhinia.entrypoints.web.readmodel import HistoryPoint, money

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 32
TICKS_MAX = 5


def _nice_step(span: int) -> int:
    """A round step (1, 2, 2.5 or 5 x 10^k minor units) giving at most TICKS_MAX gridlines."""
    raw = max(1, span // TICKS_MAX)
    power = 1
    while power * 10 <= raw:
        power *= 10
    for mult in (1, 2, 5, 10):
        if power * mult >= raw:
            return power * mult
    return power * 10


def _short(minor: int) -> str:
    whole = minor // 100
    for size, suffix in ((1_000_000_000, "bn"), (1_000_000, "m"), (1_000, "k")):
        if abs(whole) >= size:
            value = whole / size
            return f"{value:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{whole:,}"


def supply_vs_reserves(points: Sequence[HistoryPoint], currency: str, title: str) -> str:
    if not points:
        return '<p class="muted">No history recorded yet.</p>'
    top_value = max(max(p.reserve_minor, p.liabilities_minor) for p in points)
    step = _nice_step(max(top_value, 100))
    y_max = -(-max(top_value, 1) // step) * step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(points)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / y_max

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    tick = 0
    while tick <= y_max:
        yy = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{_short(tick)}</text>')
        tick += step
    label_every = max(1, n // 6)
    for i, p in enumerate(points):
        if (i % label_every == 0 and n - 1 - i >= label_every // 2 + 1) or i == n - 1:
            anchor = "end" if i == n - 1 else "middle"
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 10}" text-anchor="{anchor}">'
                         f'{p.day.strftime("%d %b")}</text>')
    for cls, attr in (("reserve", "reserve_minor"), ("supply", "liabilities_minor")):
        coords = " ".join(f"{x(i):.1f},{y(getattr(p, attr)):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="line {cls}" points="{coords}"/>')
        last = points[-1]
        parts.append(f'<circle class="dot {cls}" cx="{x(n - 1):.1f}" cy="{y(getattr(last, attr)):.1f}" r="3">'
                     f'<title>{escape(money(getattr(last, attr), currency))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
