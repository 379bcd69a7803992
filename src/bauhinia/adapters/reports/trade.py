"""The trade report: volume by corridor, by currency and by month, active holders and coin velocity, as PNG
charts (matplotlib) and one self-contained HTML page (charts embedded as data URIs).

Input is `domain.settlement.TradeFigures`; nothing here reads the store or the chain. Amounts stay integers and
are formatted exactly; the charts are the only place floats appear (bar heights in whole coins).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from bauhinia.domain.money import Amount, Currency
from bauhinia.domain.settlement import TradeFigures

UNIT = 10**6


def _bars(title: str, series: dict[str, dict[str, int]], xlabel: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    categories = list(series)
    coins = sorted({coin for values in series.values() for coin in values})
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    width = 0.8 / max(len(coins), 1)
    for i, coin in enumerate(coins):
        heights = [series[c].get(coin, 0) / UNIT for c in categories]
        ax.bar([x + i * width for x in range(len(categories))], heights, width, label=coin)
    ax.set_xticks([x + width * (len(coins) - 1) / 2 for x in range(len(categories))], categories)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("coins")
    if coins:
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def render_charts(figures: TradeFigures) -> dict[str, bytes]:
    """PNG bytes per chart name."""
    return {
        "volume_by_corridor": _bars("Settled volume by corridor", figures.volume_by_corridor, "corridor"),
        "volume_by_month": _bars("Settled volume by month", figures.volume_by_month, "month"),
        "volume_by_currency": _bars("Settled volume by coin",
                                    {c: {c: v} for c, v in figures.volume_by_currency.items()}, "coin"),
    }


def _amount(coin: str, base_units: int) -> str:
    return Amount(base_units, Currency(coin)).format()


def render_html(figures: TradeFigures, charts: dict[str, bytes], *, title: str = "Bauhinia trade report",
                period: str = "") -> str:
    def table(head: list[str], rows: list[list[str]]) -> str:
        th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    corridor_rows = [[k, _amount(c, v)] for k, vals in figures.volume_by_corridor.items() for c, v in vals.items()]
    month_rows = [[k, _amount(c, v)] for k, vals in figures.volume_by_month.items() for c, v in vals.items()]
    currency_rows = [[c, _amount(c, v), f"{figures.velocity_milli.get(c, 0) / 1000:.3f}"]
                     for c, v in figures.volume_by_currency.items()]
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"/></figure>' for name, png in charts.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}th{{background:#f3f3f3}}</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(period)}</p>
<p>Settled payments: {figures.payments}. Active holders (distinct payers and payees): {figures.active_holders}.</p>
<h2>Volume by corridor</h2>{table(["corridor", "volume"], corridor_rows)}
<h2>Volume by month</h2>{table(["month", "volume"], month_rows)}
<h2>Volume by coin and velocity</h2>
<p>Velocity: volume settled in the period divided by the coin's outstanding supply.</p>
{table(["coin", "volume", "velocity"], currency_rows)}
<h2>Charts</h2>{images}
</body></html>
"""


def write_report(figures: TradeFigures, out_dir: Path, *, period: str = "") -> list[Path]:
    """Write the charts (PNG) and trade_report.html into `out_dir`; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = render_charts(figures)
    written = []
    for name, png in charts.items():
        path = out_dir / f"trade_{name}.png"
        path.write_bytes(png)
        written.append(path)
    page = out_dir / "trade_report.html"
    page.write_text(render_html(figures, charts, period=period), encoding="utf-8")
    written.append(page)
    return written
