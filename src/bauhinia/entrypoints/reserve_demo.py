"""The reserve's part of the demo: coverage per coin from the books, the three-way reconciliation (bank statement
vs ledger vs chain), a holder's proof of liabilities checked against the published root, and the attestation
report written next to the demo's data."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bauhinia.domain.calendar import HK_TZ, from_ns
from bauhinia.domain.money import Amount, Currency
from bauhinia.domain.proofs import proof_to_json, verify_holder, verify_inclusion
from bauhinia.entrypoints.cli.reserves import print_reconciliation
from bauhinia.entrypoints.reserve_context import reserve_context
from bauhinia.services import reconciliation as rec
from bauhinia.services import reserves as reserves_svc


def _pct(bps: int | None) -> str:
    return "n/a (nothing outstanding)" if bps is None else f"{bps // 100}.{bps % 100:02d}%"


def reserve_demo_steps(issuer: Any, console: Console, *, holder_wallet: str | None = None,
                       write_reports: bool = True) -> dict[str, Any]:
    """Run on a demo issuer (entrypoints.scenario.Issuer) after its flows: returns what it showed."""
    container = issuer.container
    rctx = reserve_context(container)
    today: date = from_ns(container.clock.now_ns()).astimezone(HK_TZ).date()
    out: dict[str, Any] = {}

    table = Table(title="Coverage per coin (pool + reserve cash vs coins outstanding + redemptions in flight)")
    for col in ("coin", "reserve", "coins outstanding", "in flight", "coverage", "minting"):
        table.add_column(col, justify="right" if col not in ("coin", "minting") else "left")
    for fiat in (Currency.CNH, Currency.HKD):
        report = reserves_svc.coin_coverage(rctx.reserves, rctx.ledger, fiat, today, now_ns=container.clock.now_ns(),
                                            cash_bank=container.settings.reserve_bank_bic)
        table.add_row(fiat.coin.value, Amount(report.pool.reserve_value_minor, fiat).format(),
                      Amount(report.outstanding_base_units, fiat.coin).format(),
                      Amount(report.redemptions_in_flight_base_units, fiat.coin).format(), _pct(report.coverage_bps),
                      "[red]halted[/red]" if report.breaker.halted else "open")
        out[f"coverage_bps_{fiat.coin.value}"] = report.coverage_bps
    console.print(table)

    daily = rec.run_daily(rctx, Currency.CNH, today)
    print_reconciliation(console, Currency.BCNH, daily.cash, daily.supply, list(daily.outcome.result.breaks),
                         daily.notes, daily.outcome.run.run_id, daily.outcome.breaker.halted)
    out["reconciliation_ok"] = daily.ok

    snap = rec.snapshot_liabilities(rctx, Currency.CNH, today)
    root = snap.root
    console.print(f"proof of liabilities {root.snapshot_id}: root [bold]{root.root_hash_hex}[/bold], total "
                  f"{Amount(root.total_base_units, Currency.BCNH).format()} over {root.leaf_count} holders "
                  "(on-chain holders and customers' funds not yet minted; holder ids salted and hashed)")
    wallet = holder_wallet or next((h.wallet for h in issuer.holders.values()), None)
    if wallet is not None:
        proof, _ = rec.holder_proof(rctx, Currency.BCNH, wallet, root.snapshot_id)
        verify_inclusion(proof, bytes.fromhex(root.root_hash_hex), root.total_base_units)
        verify_holder(proof, rec.normalise_holder_id(wallet))
        path = Path(container.settings.data_dir) / "proofs" / f"{wallet.lower()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(proof_to_json(proof), encoding="utf-8")
        console.print(f"holder {wallet}: balance {Amount(proof.balance, Currency.BCNH).format()} is counted "
                      f"([green]proof verified[/green]); check it yourself: bauhinia verify-proof {path} "
                      f"--root {root.root_hash_hex} --total {root.total_base_units}")
        out["proof_file"] = str(path)
    if write_reports:
        from bauhinia.entrypoints.cli.reserves import _write_attestation
        from bauhinia.entrypoints.reserve_reports import build_attestation

        folder = Path(container.settings.data_dir) / "attestation"
        _write_attestation(build_attestation(container, today), folder)
        out["attestation_dir"] = str(folder)
    out["root"] = root
    return out
