"""Attestation report (HTML and PDF) and the weekly public disclosure (JSON and HTML) of the reserve.

Everything is given as data (`AttestationData`); nothing here reads the store or the chain. The PDF is built
with reportlab and embeds a matplotlib chart of coverage over time (PNG). Amounts are integers throughout and
formatted exactly; the chart is the only place floats appear (plotting percentages).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from jinja2 import Environment, select_autoescape

from bauhinia.domain.money import Amount, Currency

disclosure_format = "bauhinia-weekly-disclosure"
disclosure_version = 1


@dataclass(frozen=True, slots=True)
class PoolSummary:
    coin: Currency
    composition_minor: dict[str, int]  # asset kind -> value after haircut, pool currency minor units
    market_value_minor: int
    reserve_value_minor: int  # after haircuts: what counts for coverage
    liabilities_base_units: int  # outstanding incl. frozen + redemptions in flight
    coverage_bps: int | None
    ladder_minor: dict[str, int] = field(default_factory=dict)  # bucket -> amount
    bank_concentration_bps: dict[str, int] = field(default_factory=dict)
    not_counted: Sequence[str] = ()  # assets left out, each with why (ineligible, or no price / FX rate that day)


@dataclass(frozen=True, slots=True)
class SupplyLine:
    coin: Currency
    chain: str
    supply_base_units: int
    frozen_base_units: int = 0


@dataclass(frozen=True, slots=True)
class RedemptionStats:
    coin: Currency
    count: int
    total_minor: int
    paid_within_1_business_day: int  # how many of `count`
    median_hours_x100: int  # median time to payout, hours x 100 (integer)
    max_hours_x100: int
    deadline_breaches: int = 0  # paid after the deadline, or unpaid past it


@dataclass(frozen=True, slots=True)
class AttestationData:
    as_of: date
    issuer: str
    pools: Sequence[PoolSummary]
    coverage_series: dict[Currency, Sequence[tuple[date, int]]]  # coin -> (date, coverage_bps)
    supply: Sequence[SupplyLine]
    redemptions: Sequence[RedemptionStats]
    reconciliation_breaks: int = 0
    reconciliation_run_id: str = ""
    reconciliation_lines: Sequence[str] = ()  # the breaks of the latest runs, described
    liability_roots: dict[Currency, tuple[str, int]] = field(
        default_factory=dict
    )  # coin -> (root hex, total)
    auditor: str = "Independent auditor"
    period_start: date | None = None  # weekly disclosure
    # the auditor's own opinion on this statement, attached as given (plain text); empty: none is attached, and
    # the statement says so (it is the issuer's management statement either way)
    auditor_opinion: str = ""


def fmt_minor(value: int, currency: Currency) -> str:
    return Amount(value, currency).format()


def fmt_bps(value: int | None) -> str:
    if value is None:
        return "n/a"
    return f"{value // 100}.{value % 100:02d}%"


def fmt_base_units(value: int, coin: Currency) -> str:
    return Amount(value, coin).format()


def fmt_hours(x100: int) -> str:
    return f"{x100 // 100}.{x100 % 100:02d} h"


def _share_bps(part: int, whole: int) -> int:
    return part * 10_000 // whole if whole > 0 else 0


def coverage_chart_png(series: dict[Currency, Sequence[tuple[date, int]]], *, width_in: float = 7.0) -> bytes:
    """Coverage over time per coin, with the 100 % line. PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, 2.8), dpi=150)
    try:
        colours = {"BHKD": "#8a1538", "BCNH": "#1f4e79"}
        for coin, points in sorted(series.items()):
            if not points:
                continue
            xs = [d for d, _ in points]
            ys = [bps / 100 for _, bps in points]
            ax.plot(
                xs,
                ys,
                label=coin.value,
                color=colours.get(coin.value),
                linewidth=1.6,
                marker="o",
                markersize=2,
            )
        ax.axhline(100, color="#444444", linewidth=0.9, linestyle="--", label="100% (full backing)")
        days = sorted({d for points in series.values() for d, _ in points})
        if days and (days[-1] - days[0]).days < 7:  # a short series: show at least a week around it
            from datetime import timedelta

            ax.set_xlim(days[-1] - timedelta(days=6), days[-1] + timedelta(days=1))  # type: ignore[arg-type]
        ax.margins(y=0.3)
        ax.set_ylabel("coverage (%)")
        ax.grid(True, linewidth=0.3, alpha=0.6)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=3)
        ax.set_title("Reserve coverage over time", fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def _context(data: AttestationData) -> dict[str, Any]:
    pools = []
    for p in data.pools:
        ccy = p.coin.fiat
        rows = [
            {
                "kind": kind.replace("_", " "),
                "value": fmt_minor(v, ccy),
                "share": fmt_bps(_share_bps(v, p.reserve_value_minor)),
            }
            for kind, v in sorted(p.composition_minor.items(), key=lambda kv: -kv[1])
        ]
        pools.append(
            {
                "coin": p.coin.value,
                "currency": ccy.value,
                "rows": rows,
                "market_value": fmt_minor(p.market_value_minor, ccy),
                "reserve_value": fmt_minor(p.reserve_value_minor, ccy),
                "haircuts": fmt_minor(p.market_value_minor - p.reserve_value_minor, ccy),
                "liabilities": fmt_base_units(p.liabilities_base_units, p.coin),
                "coverage": fmt_bps(p.coverage_bps),
                "covered": p.coverage_bps is None or p.coverage_bps >= 10_000,
                "ladder": [(k.replace("_", " "), fmt_minor(v, ccy)) for k, v in p.ladder_minor.items()],
                "banks": [(b, fmt_bps(s)) for b, s in sorted(p.bank_concentration_bps.items())],
                "not_counted": list(p.not_counted),
            }
        )
    return {
        "d": data,
        "as_of": data.as_of.isoformat(),
        "pools": pools,
        "supply": [
            {
                "coin": s.coin.value,
                "chain": s.chain,
                "supply": fmt_base_units(s.supply_base_units, s.coin),
                "frozen": fmt_base_units(s.frozen_base_units, s.coin),
            }
            for s in data.supply
        ],
        "redemptions": [
            {
                "coin": r.coin.value,
                "count": f"{r.count:,}",
                "total": fmt_minor(r.total_minor, r.coin.fiat),
                "on_time": fmt_bps(_share_bps(r.paid_within_1_business_day, r.count)) if r.count else "n/a",
                "median": fmt_hours(r.median_hours_x100),
                "max": fmt_hours(r.max_hours_x100),
                "breaches": f"{r.deadline_breaches:,}",
            }
            for r in data.redemptions
        ],
        "roots": [(c.value, h, fmt_base_units(t, c)) for c, (h, t) in sorted(data.liability_roots.items())],
    }


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_STYLE = """
body{font-family:Georgia,'Times New Roman',serif;color:#1b1b1b;max-width:900px;margin:2em auto;padding:0 1em}
h1{font-size:1.5em;border-bottom:3px double #8a1538;padding-bottom:.3em}
h2{font-size:1.1em;color:#8a1538;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.92em}
th,td{border-bottom:1px solid #ccc;padding:.3em .5em;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1d6b2f;font-weight:bold}.bad{color:#a00;font-weight:bold}
.meta{color:#555;font-size:.9em}.sign{margin-top:3em;display:flex;gap:4em}
.sign div{border-top:1px solid #333;padding-top:.3em;width:16em;font-size:.9em}
code{font-size:.85em;word-break:break-all}
"""

_ATTESTATION_HTML = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Management statement of reserves {{ as_of }}</title>
<style>"""
    + _STYLE
    + """</style></head><body>
<h1>Management statement of stablecoin reserves</h1>
<p class="meta">Issuer: {{ d.issuer }} &middot; As of: {{ as_of }} (end of day, Hong Kong time)
 &middot; Prepared by the issuer's management for: {{ d.auditor }}</p>
<p>This report states, for each coin, the reserve assets held in the coin's pool, their market value after
haircuts, and the coins outstanding (frozen balances and redemptions in flight included). Values are exact to
the minor unit; asset values are rounded down and liabilities up.</p>
<h2>1. Coverage</h2>
<table><tr><th>Coin</th><th class="n">Reserve (after haircuts)</th><th class="n">Liabilities</th>
<th class="n">Coverage</th><th>Status</th></tr>
{% for p in pools %}<tr><td>{{ p.coin }}</td><td class="n">{{ p.reserve_value }}</td>
<td class="n">{{ p.liabilities }}</td>
<td class="n">{{ p.coverage }}</td><td class="{{ 'ok' if p.covered else 'bad' }}">
{{ 'fully backed' if p.covered else 'UNDER-BACKED' }}</td></tr>{% endfor %}
</table>
{% if chart %}<img alt="coverage over time" src="data:image/png;base64,{{ chart }}" style="width:100%">{% endif %}
<h2>2. Reserve composition</h2>
{% for p in pools %}<h3>{{ p.coin }} pool ({{ p.currency }})</h3>
<table><tr><th>Asset class</th><th class="n">Value</th><th class="n">Share</th></tr>
{% for r in p.rows %}<tr><td>{{ r.kind }}</td><td class="n">{{ r.value }}</td>
<td class="n">{{ r.share }}</td></tr>{% endfor %}
<tr><td>Market value</td><td class="n">{{ p.market_value }}</td><td></td></tr>
<tr><td>less haircuts</td><td class="n">{{ p.haircuts }}</td><td></td></tr>
<tr><th>Reserve value</th><th class="n">{{ p.reserve_value }}</th><th></th></tr></table>
{% if p.ladder %}<table><tr><th>Liquidity</th>{% for k, _ in p.ladder %}<th class="n">{{ k }}</th>{% endfor %}</tr>
<tr><td>{{ p.currency }}</td>{% for _, v in p.ladder %}<td class="n">{{ v }}</td>{% endfor %}</tr></table>{% endif %}
{% if p.banks %}<table><tr><th>Bank</th><th class="n">Share of pool</th></tr>
{% for b, s in p.banks %}<tr><td>{{ b }}</td><td class="n">{{ s }}</td></tr>{% endfor %}</table>{% endif %}
{% if p.not_counted %}<p class="bad">Not counted in the reserve:</p><ul>{% for line in p.not_counted %}
<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{% endfor %}
<h2>3. Supply per coin and chain</h2>
<table><tr><th>Coin</th><th>Chain</th><th class="n">Supply</th><th class="n">of which frozen</th></tr>
{% for s in supply %}<tr><td>{{ s.coin }}</td><td>{{ s.chain }}</td><td class="n">{{ s.supply }}</td>
<td class="n">{{ s.frozen }}</td></tr>{% endfor %}</table>
<h2>4. Redemptions in the period</h2>
<table><tr><th>Coin</th><th class="n">Count</th><th class="n">Paid out</th><th class="n">Within 1 business day</th>
<th class="n">Median</th><th class="n">Longest</th><th class="n">Deadline breaches</th></tr>
{% for r in redemptions %}<tr><td>{{ r.coin }}</td><td class="n">{{ r.count }}</td><td class="n">{{ r.total }}</td>
<td class="n">{{ r.on_time }}</td><td class="n">{{ r.median }}</td><td class="n">{{ r.max }}</td>
<td class="n">{{ r.breaches }}</td></tr>{% endfor %}
</table>
<h2>5. Reconciliation and proof of liabilities</h2>
<p>Three-way reconciliation (bank statements, ledger, chain){% if d.reconciliation_run_id %}, run
<code>{{ d.reconciliation_run_id }}</code>{% endif %}:
{% if d.reconciliation_breaks == 0 %}<span class="ok">no breaks</span>{% else %}
<span class="bad">{{ d.reconciliation_breaks }} break(s); minting halted until resolved</span>{% endif %}.</p>
{% if d.reconciliation_lines %}<ul>{% for line in d.reconciliation_lines %}<li><code>{{ line }}</code></li>
{% endfor %}</ul>{% endif %}
{% if roots %}<table><tr><th>Coin</th><th>Merkle sum root</th><th class="n">Total liabilities</th></tr>
{% for c, h, t in roots %}<tr><td>{{ c }}</td><td><code>{{ h }}</code></td><td class="n">{{ t }}</td></tr>{% endfor %}
</table><p class="meta">Every holder can check their balance is counted:
<code>bauhinia verify-proof PROOF.json --root ROOT --total TOTAL</code>.</p>{% endif %}
<h2>6. Independent auditor's opinion</h2>
{% if d.auditor_opinion %}<p class="meta">The opinion of {{ d.auditor }}, attached as given:</p>
<blockquote>{% for para in d.auditor_opinion.split("\n\n") %}<p>{{ para }}</p>{% endfor %}</blockquote>
{% else %}<p>No independent auditor's opinion is attached to this statement: it is the issuer's own.</p>{% endif %}
<div class="sign"><div>For the issuer's management</div><div>{{ d.auditor if d.auditor_opinion else "" }}</div></div>
</body></html>"""
)


def render_attestation_html(data: AttestationData, *, with_chart: bool = True) -> str:
    import base64

    chart = base64.b64encode(coverage_chart_png(data.coverage_series)).decode() if with_chart else ""
    return _env.from_string(_ATTESTATION_HTML).render(**_context(data), chart=chart)


def render_attestation_pdf(data: AttestationData) -> bytes:
    """A4 PDF: title block, coverage table and chart, composition, supply, redemptions, reconciliation, roots."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    ctx = _context(data)
    styles = getSampleStyleSheet()
    title = ParagraphStyle("t", parent=styles["Title"], fontName="Times-Bold", fontSize=17, spaceAfter=4)
    h2 = ParagraphStyle(
        "h2",
        parent=styles["Heading2"],
        fontName="Times-Bold",
        fontSize=11.5,
        textColor=colors.HexColor("#8a1538"),
        keepWithNext=1,
        spaceBefore=8,
        spaceAfter=3,
    )
    body = ParagraphStyle("b", parent=styles["BodyText"], fontName="Times-Roman", fontSize=9.5, leading=12)
    meta = ParagraphStyle("m", parent=body, textColor=colors.HexColor("#555555"), fontSize=8.5)
    small = ParagraphStyle("s", parent=body, fontName="Courier", fontSize=6.8, leading=8)
    right = ParagraphStyle("r", parent=body, alignment=TA_RIGHT)
    _ = right

    def table(rows: list[list[Any]], widths: list[float], numeric_from: int = 1) -> Table:
        t = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, 0), "Times-Bold", 9),
                    ("FONT", (0, 1), (-1, -1), "Times-Roman", 9),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                    ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return t

    story: list[Any] = [
        Paragraph("Management Statement of Stablecoin Reserves", title),
        Paragraph(
            f"Issuer: {data.issuer} &nbsp;&middot;&nbsp; As of {ctx['as_of']} (end of day, Hong Kong time) "
            f"&nbsp;&middot;&nbsp; Prepared by the issuer's management for: {escape(data.auditor)}",
            meta,
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            "For each coin this report states the reserve assets held in the coin's segregated pool, their "
            "market value after haircuts, and the coins outstanding, frozen balances and redemptions in flight "
            "included. Values are exact to the minor unit; asset values are rounded down and liabilities up.",
            body,
        ),
        Paragraph("1. Coverage", h2),
    ]
    cov_rows: list[list[Any]] = [["Coin", "Reserve (after haircuts)", "Liabilities", "Coverage", "Status"]]
    for p in ctx["pools"]:
        cov_rows.append(
            [
                p["coin"],
                p["reserve_value"],
                p["liabilities"],
                p["coverage"],
                "fully backed" if p["covered"] else "UNDER-BACKED",
            ]
        )
    story.append(table(cov_rows, [18 * mm, 45 * mm, 50 * mm, 22 * mm, 30 * mm]))
    story.append(Spacer(1, 3 * mm))
    png = coverage_chart_png(data.coverage_series)
    story.append(Image(io.BytesIO(png), width=170 * mm, height=68 * mm))

    story.append(Paragraph("2. Reserve composition", h2))
    for p in ctx["pools"]:
        rows: list[list[Any]] = [[f"{p['coin']} pool ({p['currency']})", "Value", "Share"]]
        rows += [[r["kind"], r["value"], r["share"]] for r in p["rows"]]
        rows += [
            ["Market value", p["market_value"], ""],
            ["less haircuts", p["haircuts"], ""],
            ["Reserve value", p["reserve_value"], ""],
        ]
        t = table(rows, [70 * mm, 55 * mm, 25 * mm])
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, len(rows) - 1), (-1, len(rows) - 1), "Times-Bold", 9),
                    ("LINEABOVE", (0, len(rows) - 1), (-1, len(rows) - 1), 0.8, colors.black),
                ]
            )
        )
        story += [t, Spacer(1, 2 * mm)]
        if p["ladder"]:
            lrows = [
                ["Liquidity ladder", *[k for k, _ in p["ladder"]]],
                [p["currency"], *[v for _, v in p["ladder"]]],
            ]
            story += [table(lrows, [30 * mm] + [35 * mm] * len(p["ladder"])), Spacer(1, 2 * mm)]
        if p["banks"]:
            brows = [["Bank", "Share of pool"], *[[b, s] for b, s in p["banks"]]]
            story += [table(brows, [70 * mm, 30 * mm]), Spacer(1, 2 * mm)]
        if p["not_counted"]:
            story.append(Paragraph("Not counted in the reserve:", body))
            story += [Paragraph(f"&bull; {escape(line)}", body) for line in p["not_counted"]]

    story.append(Paragraph("3. Supply per coin and chain", h2))
    srows: list[list[Any]] = [["Coin", "Chain", "Supply", "of which frozen"]]
    srows += [[s["coin"], s["chain"], s["supply"], s["frozen"]] for s in ctx["supply"]]
    story.append(table(srows, [18 * mm, 40 * mm, 55 * mm, 50 * mm], numeric_from=2))

    story.append(Paragraph("4. Redemptions in the period", h2))
    rrows: list[list[Any]] = [["Coin", "Count", "Paid out", "Within 1 bus. day", "Median", "Longest", "Late"]]
    rrows += [
        [r["coin"], r["count"], r["total"], r["on_time"], r["median"], r["max"], r["breaches"]]
        for r in ctx["redemptions"]
    ]
    story.append(table(rrows, [16 * mm, 16 * mm, 42 * mm, 30 * mm, 20 * mm, 20 * mm, 14 * mm]))

    story.append(Paragraph("5. Reconciliation and proof of liabilities", h2))
    recon = (
        "no breaks"
        if data.reconciliation_breaks == 0
        else f"<font color='#aa0000'><b>{data.reconciliation_breaks} break(s); minting halted until resolved</b></font>"
    )
    run = f" (run {data.reconciliation_run_id})" if data.reconciliation_run_id else ""
    story.append(
        Paragraph(f"Three-way reconciliation of bank statements, ledger and chain{run}: {recon}.", body)
    )
    for line in data.reconciliation_lines[:20]:
        story.append(Paragraph(f"&bull; {escape(line)}", body))
    for coin, root_hex, total in ctx["roots"]:
        story.append(Paragraph(f"{coin} Merkle sum root (total {total}):", body))
        story.append(Paragraph(root_hex, small))
    if ctx["roots"]:
        story.append(
            Paragraph(
                "Holders check their own inclusion with "
                "<font face='Courier'>bauhinia verify-proof PROOF.json --root ROOT --total TOTAL</font>.",
                meta,
            )
        )
    story.append(Paragraph("6. Independent auditor's opinion", h2))
    if data.auditor_opinion:
        story.append(Paragraph(f"The opinion of {escape(data.auditor)}, attached as given:", meta))
        for para in data.auditor_opinion.split("\n\n"):
            story.append(Paragraph(escape(para), body))
    else:
        story.append(Paragraph("No independent auditor's opinion is attached to this statement: it is the "
                               "issuer's own.", body))
    story.append(Spacer(1, 16 * mm))
    sig = Table([["", "", ""], ["For the issuer's management", "", data.auditor if data.auditor_opinion else ""]],
                colWidths=[65 * mm, 30 * mm, 65 * mm])
    sig.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 1), (0, 1), 0.6, colors.black),
                ("LINEABOVE", (2, 1), (2, 1), 0.6, colors.black),
                ("FONT", (0, 0), (-1, -1), "Times-Roman", 9),
            ]
        )
    )
    story.append(sig)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Times-Roman", 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(18 * mm, 10 * mm, f"{data.issuer} — management statement of reserves as of {ctx['as_of']}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"Management statement of reserves {ctx['as_of']}",
        author=data.issuer,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


# --- weekly public disclosure --------------------------------------------------------------------------


def weekly_disclosure(data: AttestationData) -> dict[str, Any]:
    """The machine-readable weekly disclosure: integers with units in the keys, versioned."""
    return {
        "format": disclosure_format,
        "version": disclosure_version,
        "issuer": data.issuer,
        "period_start": (data.period_start or data.as_of).isoformat(),
        "as_of": data.as_of.isoformat(),
        "pools": [
            {
                "coin": p.coin.value,
                "currency": p.coin.fiat.value,
                "market_value_minor": p.market_value_minor,
                "reserve_value_minor": p.reserve_value_minor,
                "liabilities_base_units": p.liabilities_base_units,
                "coverage_bps": p.coverage_bps,
                "composition_minor": dict(sorted(p.composition_minor.items())),
                "liquidity_ladder_minor": dict(p.ladder_minor),
            }
            for p in data.pools
        ],
        "supply": [
            {
                "coin": s.coin.value,
                "chain": s.chain,
                "supply_base_units": s.supply_base_units,
                "frozen_base_units": s.frozen_base_units,
            }
            for s in data.supply
        ],
        "redemptions": [
            {
                "coin": r.coin.value,
                "count": r.count,
                "total_minor": r.total_minor,
                "paid_within_1_business_day": r.paid_within_1_business_day,
                "median_hours_x100": r.median_hours_x100,
                "max_hours_x100": r.max_hours_x100,
                "deadline_breaches": r.deadline_breaches,
            }
            for r in data.redemptions
        ],
        "coverage_series_bps": {
            c.value: [[d.isoformat(), bps] for d, bps in pts]
            for c, pts in sorted(data.coverage_series.items())
        },
        "reconciliation_breaks": data.reconciliation_breaks,
        "liability_roots": {
            c.value: {"root_hash": h, "total_base_units": str(t)}
            for c, (h, t) in sorted(data.liability_roots.items())
        },
    }


def weekly_disclosure_json(data: AttestationData) -> str:
    return json.dumps(weekly_disclosure(data), indent=2) + "\n"


_DISCLOSURE_HTML = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Weekly reserve disclosure {{ as_of }}</title>
<style>"""
    + _STYLE
    + """</style></head><body>
<h1>Weekly reserve disclosure</h1>
<p class="meta">{{ d.issuer }} &middot; week {{ start }} to {{ as_of }}</p>
<table><tr><th>Coin</th><th class="n">Coins outstanding</th><th class="n">Reserve</th><th class="n">Coverage</th></tr>
{% for p in pools %}<tr><td>{{ p.coin }}</td><td class="n">{{ p.liabilities }}</td>
<td class="n">{{ p.reserve_value }}</td>
<td class="n {{ 'ok' if p.covered else 'bad' }}">{{ p.coverage }}</td></tr>{% endfor %}</table>
{% for p in pools %}<h2>{{ p.coin }} reserve</h2><table><tr><th>Asset class</th><th class="n">Value</th>
<th class="n">Share</th></tr>{% for r in p.rows %}<tr><td>{{ r.kind }}</td><td class="n">{{ r.value }}</td>
<td class="n">{{ r.share }}</td></tr>{% endfor %}</table>{% endfor %}
<h2>Supply by chain</h2><table><tr><th>Coin</th><th>Chain</th><th class="n">Supply</th></tr>
{% for s in supply %}<tr><td>{{ s.coin }}</td><td>{{ s.chain }}</td><td class="n">{{ s.supply }}</td></tr>{% endfor %}
</table>
{% if roots %}<h2>Proof of liabilities</h2><table><tr><th>Coin</th><th>Root</th><th class="n">Total</th></tr>
{% for c, h, t in roots %}<tr><td>{{ c }}</td><td><code>{{ h }}</code></td><td class="n">{{ t }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="meta">Machine-readable: disclosure.json (format {{ fmt }} v{{ ver }}).</p>
</body></html>"""
)


def weekly_disclosure_html(data: AttestationData) -> str:
    return _env.from_string(_DISCLOSURE_HTML).render(
        **_context(data),
        start=(data.period_start or data.as_of).isoformat(),
        fmt=disclosure_format,
        ver=disclosure_version,
    )


# --- stress test report --------------------------------------------------------------------------------

_STRESS_HTML = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stress test {{ coin }} {{ as_of }}</title>
<style>"""
    + _STYLE
    + """</style></head><body>
<h1>Redemption-run stress test: {{ coin }}</h1>
<p class="meta">As of {{ as_of }} &middot; a run of {{ run }} of supply ({{ total }}) spread over {{ days }} day(s),
paid from reserve assets that are cash by each day (the liquidity ladder).</p>
<p>Result: {% if passed %}<span class="ok">passed, no shortfall</span>{% else %}<span class="bad">shortfall of
{{ shortfall }} from day {{ first }}</span>{% endif %}</p>
<table><tr><th>Day</th><th class="n">Redeemed</th><th class="n">Redeemed to date</th>
<th class="n">Liquid to date</th><th class="n">Surplus</th></tr>
{% for d in rows %}<tr><td>{{ d[0] }}</td><td class="n">{{ d[1] }}</td><td class="n">{{ d[2] }}</td>
<td class="n">{{ d[3] }}</td><td class="n {{ 'bad' if d[5] else '' }}">{{ d[4] }}</td></tr>{% endfor %}
</table></body></html>"""
)


def stress_report_html(result: Any, coin: Currency, as_of: date) -> str:
    """`result` is a domain.reserves.StressResult."""
    ccy = coin.fiat
    rows = [
        (
            d.day,
            fmt_minor(d.redeemed_minor, ccy),
            fmt_minor(d.redeemed_cumulative_minor, ccy),
            fmt_minor(d.liquid_cumulative_minor, ccy),
            fmt_minor(d.surplus_minor, ccy),
            d.surplus_minor < 0,
        )
        for d in result.table
    ]
    return _env.from_string(_STRESS_HTML).render(
        coin=coin.value,
        as_of=as_of.isoformat(),
        run=fmt_bps(result.run_bps),
        total=fmt_minor(result.run_total_minor, ccy),
        days=result.days,
        passed=result.passed,
        shortfall=fmt_minor(result.shortfall_minor, ccy),
        first=result.first_shortfall_day,
        rows=rows,
    )
