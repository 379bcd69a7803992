"""The trade part of the main demo on the demo's own issuer (embedded EVM, SQLite file): an invoice in CNH coins
paid through escrow and released against the document hash, the exporter's redemption paid out with the invoice
number in the pain.001 remittance, one HKD/CNH swap, a refused swap, and the corridor figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.entrypoints.trade_demo import trade_demo_steps
from bauhinia.services import issuance as isvc


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, text: object = "") -> None:
        self.lines.append(str(text))


def test_trade_steps_on_the_demo_issuer(tmp_path: Path) -> None:
    issuer = make_issuer(tmp_path / "demo", capital_minor=500_000_00)
    exporter = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    importer = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(exporter, importer)
    issuer.drop_notification([issuer.deposit(importer, 1_000_000_00, "IN-1"),
                              issuer.deposit(exporter, 250_000_00, "IN-2")], datetime.now(UTC))
    ctx = issuer.ctx
    isvc.ingest_bank_files(ctx)
    assert isvc.run_subscriptions(ctx, Currency.CNH).minted == 2

    out = Lines()
    result = trade_demo_steps(issuer, out)
    text = "\n".join(out.lines)
    assert result["invoice_state"] == "released", text
    assert "documents_mismatch" in text
    assert "remittance carries the invoice number: yes" in text, text
    assert "both sides unchanged: yes" in text, text
    figures = result["figures"]
    assert figures.volume_by_corridor["HK->CN"] == {"BCNH": 250_000 * 10**6}
    assert figures.volume_by_corridor["HK->HK"] == {"BCNH": 92_130 * 10**6, "BHKD": 100_000 * 10**6}
    outbox = ctx.bank.outbox
    payout = next(p for p in outbox.iterdir() if result["invoice_id"] in p.read_text(encoding="utf-8"))
    assert f"<Nb>{result['invoice_id']}</Nb>" in payout.read_text(encoding="utf-8")
    # the issuance books still agree with the chain after the trade (burn through redemption, swap between holders)
    for fiat in (Currency.CNH, Currency.HKD):
        assert isvc.supply_check(ctx, fiat)["difference_base_units"] == 0
    issuer.container.close()
