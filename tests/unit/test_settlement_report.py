"""The trade report renders exact amounts, PNG charts and one HTML page."""

from __future__ import annotations

from pathlib import Path

from bauhinia.adapters.reports.trade import write_report
from bauhinia.domain import settlement as st
from bauhinia.domain.money import Currency


def test_report_files(tmp_path: Path) -> None:
    payments = [
        st.SettledPayment("invoice", "A", "0x" + "11" * 20, "0x" + "22" * 20, "HK", "CN", Currency.BCNH,
                          250_000_123_456, 1_750_000_000 * 10**9),
        st.SettledPayment("swap", "B", "0x" + "22" * 20, "0x" + "33" * 20, "HK", "HK", Currency.BHKD,
                          5_000_000, 1_752_000_000 * 10**9),
    ]
    figures = st.trade_figures(payments, {Currency.BCNH: 500_000_000_000, Currency.BHKD: 10_000_000})
    paths = write_report(figures, tmp_path)
    names = {p.name for p in paths}
    assert names == {"trade_volume_by_corridor.png", "trade_volume_by_month.png", "trade_volume_by_currency.png",
                     "trade_report.html"}
    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "trade_report.html").read_text(encoding="utf-8")
    assert "BCNH 250,000.123456" in page and "HK-&gt;CN" in page and "2025-07" in page
    assert "0.500" in page  # BCNH velocity: half the supply changed hands
    assert page.count("data:image/png;base64,") == 3
