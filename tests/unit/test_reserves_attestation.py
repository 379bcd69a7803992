"""Attestation report and weekly disclosure: rendered from data, amounts exact, PDF embeds the chart."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from bauhinia.adapters.reports.attestation import (
    AttestationData,
    PoolSummary,
    RedemptionStats,
    SupplyLine,
    render_attestation_html,
    render_attestation_pdf,
    weekly_disclosure_html,
    weekly_disclosure_json,
)
from bauhinia.domain.money import Currency

AS_OF = date(2026, 11, 26)


def sample_data(breaks: int = 0) -> AttestationData:
    days = [AS_OF - timedelta(days=29 - i) for i in range(30)]
    return AttestationData(
        as_of=AS_OF,
        issuer="Bauhinia Stablecoin Issuer Ltd",
        auditor="Example & Co, Certified Public Accountants",
        period_start=AS_OF - timedelta(days=6),
        pools=[
            PoolSummary(
                Currency.BHKD,
                {
                    "cash": 420_000_000_00,
                    "government_security": 610_512_345_67,
                    "reverse_repo": 50_000_000_00,
                },
                1_083_612_345_67,
                1_080_512_345_67,
                1_050_000_000_000_000,
                10_290,
                {"today": 420_000_000_00, "within_1_day": 660_512_345_67, "within_1_week": 0, "later": 0},
                {"HSBC": 2_100, "BOCHK": 1_850},
            ),
            PoolSummary(
                Currency.BCNH,
                {"cash": 80_000_000_00, "time_deposit": 25_000_000_00},
                105_000_000_00,
                105_000_000_00,
                104_000_000_000_000,
                10_096,
            ),
        ],
        coverage_series={
            Currency.BHKD: [(d, 10_200 + (i * 7) % 120) for i, d in enumerate(days)],
            Currency.BCNH: [(d, 10_050 + (i * 5) % 80) for i, d in enumerate(days)],
        },
        supply=[
            SupplyLine(Currency.BHKD, "Ethereum", 1_000_000_000_000_000, 1_250_000_000),
            SupplyLine(Currency.BHKD, "Arbitrum", 50_000_000_000_000),
            SupplyLine(Currency.BCNH, "Ethereum", 104_000_000_000_000),
        ],
        redemptions=[
            RedemptionStats(Currency.BHKD, 412, 38_512_000_00, 410, 3_25, 27_50),
            RedemptionStats(Currency.BCNH, 57, 4_100_000_00, 57, 2_10, 9_00),
        ],
        reconciliation_breaks=breaks,
        reconciliation_run_id="recon-2026-11-26",
        liability_roots={Currency.BHKD: ("ab" * 32, 1_050_000_000_000_000)},
    )


def test_html_shows_exact_amounts_and_status() -> None:
    html = render_attestation_html(sample_data(), with_chart=False)
    assert "HKD 1,080,512,345.67" in html
    assert "102.90%" in html and "fully backed" in html
    assert "no breaks" in html and "ab" * 32 in html


def test_html_escapes_and_flags_breaks() -> None:
    data = sample_data(breaks=3)
    html = render_attestation_html(data, with_chart=True)
    assert "Example &amp; Co" in html
    assert "3 break(s)" in html
    assert "data:image/png;base64," in html


def test_under_backed_pool_is_flagged() -> None:
    data = sample_data()
    pool = data.pools[1]
    under = PoolSummary(pool.coin, pool.composition_minor, 1, 1, 104_000_000_000_000, 9_999)
    html = render_attestation_html(
        AttestationData(**{**{f: getattr(data, f) for f in data.__dataclass_fields__}, "pools": [under]}),
        with_chart=False,
    )
    assert "UNDER-BACKED" in html and "99.99%" in html


def test_pdf_is_a_pdf_with_an_image() -> None:
    pdf = render_attestation_pdf(sample_data())
    assert pdf.startswith(b"%PDF-")
    assert b"/Subtype /Image" in pdf


@pytest.mark.requirement("RPT-DAILY-WEEKLY")
def test_weekly_disclosure_json_and_html() -> None:
    data = sample_data()
    doc = json.loads(weekly_disclosure_json(data))
    assert doc["format"] == "bauhinia-weekly-disclosure" and doc["version"] == 1
    assert doc["pools"][0]["reserve_value_minor"] == 1_080_512_345_67
    assert doc["pools"][0]["coverage_bps"] == 10_290
    assert doc["period_start"] == "2026-11-20"
    assert len(doc["coverage_series_bps"]["BHKD"]) == 30
    html = weekly_disclosure_html(data)
    assert "Weekly reserve disclosure" in html and "2026-11-20" in html


@pytest.mark.parametrize("coin", [Currency.BHKD, Currency.BCNH])
def test_every_pool_appears(coin: Currency) -> None:
    assert f"{coin.value} pool" in render_attestation_html(sample_data(), with_chart=False)


def test_the_issuers_report_is_a_management_statement_with_the_auditors_opinion_apart() -> None:
    """Before: the issuer's own PDF was titled "Independent Attestation". It is the issuer's management statement;
    an auditor's opinion, when attached, is its own section, and without one the statement says none is attached."""
    from dataclasses import replace

    data = sample_data()
    html = render_attestation_html(data, with_chart=False)
    assert "Management statement of stablecoin reserves" in html and "Independent attestation" not in html
    assert "No independent auditor&#39;s opinion is attached" in html or "No independent auditor's opinion" in html
    opinion = "In our opinion the statement presents fairly <the reserves>.\n\nSigned, Example Auditors"
    with_opinion = render_attestation_html(replace(data, auditor_opinion=opinion), with_chart=False)
    assert "6. Independent auditor&#39;s opinion" in with_opinion or "6. Independent auditor's opinion" in with_opinion
    assert "presents fairly &lt;the reserves&gt;." in with_opinion and "Signed, Example Auditors" in with_opinion
    assert "No independent auditor" not in with_opinion
    pdf = render_attestation_pdf(replace(data, auditor_opinion=opinion))
    assert pdf.startswith(b"%PDF-") and b"Management statement of reserves" in pdf  # the PDF's own title


def test_assets_not_counted_are_named_in_the_statement() -> None:
    from dataclasses import replace

    data = sample_data()
    pool = replace(data.pools[0], not_counted=["efb-1: not valued: no price for HK0000EFB001 on 2026-11-26"])
    html = render_attestation_html(replace(data, pools=[pool, *data.pools[1:]]), with_chart=False)
    assert "Not counted in the reserve" in html and "no price for HK0000EFB001" in html
    assert render_attestation_pdf(replace(data, pools=[pool])).startswith(b"%PDF-")
