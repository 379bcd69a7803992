"""`bauhinia demo`: the issuer's main job end to end on the embedded defaults (SQLite file, in-process EVM).

A Shenzhen exporter's Hong Kong subsidiary and a Hong Kong importer are onboarded with verified bank accounts and
wallets; the bank's camt.054 with their deposits is read; CNH coins are minted against the reserve; the importer
pays the exporter on chain; the exporter redeems; the payout pain.001 is written; the bank's end-of-day camt.053
settles it; bank, ledger and chain are shown to agree and the ledger's invariants are checked.

It runs in `<BAUHINIA_DATA_DIR>/demo` (default `var/demo`) or `--data-dir`, and starts afresh only in a directory it
made itself (marked by DEMO_MARKER): a non-empty directory without the marker is refused, never deleted.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.config import DEMO_CNH_APPROVAL_REFERENCE, Settings
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Amount, Currency, minor_to_base_units
from bauhinia.entrypoints.formatting import human_bps, human_duration

console = Console()
# The file that marks a directory as the demo's own: only such a directory is emptied for a fresh run.
DEMO_MARKER = ".bauhinia-demo"


class DemoDirRefused(Exception):
    """The demo's directory holds files the demo did not make."""


def default_demo_dir() -> Path:
    """`demo` under the configured data directory (BAUHINIA_DATA_DIR, default `var`)."""
    return Settings(demo=True).data_dir / "demo"


def fresh_demo_dir(data_dir: Path) -> Path:
    """Make `data_dir` an empty demo directory: create and mark it, or empty one the demo marked before. A
    non-empty directory without the marker is not the demo's: refused (DemoDirRefused), nothing deleted."""
    marker = data_dir / DEMO_MARKER
    if data_dir.exists() and not data_dir.is_dir():
        raise DemoDirRefused(f"{data_dir} is not a directory")
    if data_dir.is_dir() and any(data_dir.iterdir()):
        if not marker.is_file():
            raise DemoDirRefused(f"{data_dir} is not empty and was not made by `bauhinia demo` (no {DEMO_MARKER}): "
                                 "remove it yourself or choose another --data-dir / BAUHINIA_DATA_DIR")
        for child in data_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by `bauhinia demo`; the next demo run empties this directory\n")
    return data_dir


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def _step(n: int, text: str) -> None:
    console.print(f"\n[bold cyan]{n}.[/bold cyan] [bold]{text}[/bold]")


def demo(
    data_dir: Annotated[Path | None, typer.Option(
        help="where the demo's database and bank files go (default: demo under BAUHINIA_DATA_DIR, i.e. var/demo); "
             "emptied first only if an earlier demo run made it")] = None,
) -> None:
    """Run the issuance lifecycle on the embedded defaults and print what happened."""
    from bauhinia.adapters.bank.simulator import SimEntry
    from bauhinia.entrypoints.scenario import make_issuer
    from bauhinia.services import issuance as svc

    try:
        data_dir = fresh_demo_dir(data_dir if data_dir is not None else default_demo_dir())
    except DemoDirRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    approval = Settings(demo=True).cnh_mainland_approval_reference or DEMO_CNH_APPROVAL_REFERENCE
    issuer = make_issuer(data_dir, capital_minor=500_000_00, buffer_bps=50, redemption_fee_bps=10, approval=approval)
    settings, c, ctx = issuer.settings, issuer.container, issuer.ctx
    cnh = Currency.CNH
    chain = ctx.chains[cnh]
    console.rule("[bold]Bauhinia demo: CNH coin issuance and redemption at par[/bold]")
    console.print(f"database {settings.resolved_database_url()}, in-process EVM chain id {chain.w3.eth.chain_id}")

    _step(1, "Coins configured and the issuer's capital paid into the reserve")
    status = chain.status()
    console.print(f"CNH coin {status.address} licence {status.licence_number}, mainland approval "
                  f"{status.approval_reference}; issuer capital CNH 500,000.00 in reserve; coverage buffer "
                  f"{human_bps(settings.coverage_buffer_bps)}")

    _step(2, "Customers onboarded: verified bank accounts in their own names, wallets proven by signature")
    exporter = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    importer = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    for h in (exporter, importer):
        console.print(f"{h.name}: deposit reference [bold]{h.deposit_reference}[/bold], wallet {h.wallet}")
    issuer.fund_gas(exporter, importer)
    people = {h.customer_id: (h.name, h.bank_account) for h in (exporter, importer)}
    keys = {h.customer_id: h.key for h in (exporter, importer)}

    _step(3, "The bank's camt.054 credit notification arrives with the deposits")
    now = datetime.now(UTC)
    deposits = [
        issuer.deposit(importer, 1_000_000_00, "HSBC-IN-0001"),
        issuer.deposit(exporter, 250_000_00, "HSBC-IN-0002"),
        SimEntry(12_345_67, True, "HSBC-IN-0003", "INVOICE 8812 PAYMENT", "Unknown Trading Co", "999-000-1"),
    ]
    issuer.drop_notification(deposits, now, message_id="HSBC-NTF-0001")
    report = svc.ingest_bank_files(ctx)
    console.print(f"{report.subscriptions} subscriptions received, {report.suspense} credit to suspense "
                  "(no customer reference: an operator task is opened)")
    issuer.drop_notification(deposits, now, message_id="HSBC-NTF-0001")
    again = svc.ingest_bank_files(ctx)
    console.print(f"the same notification sent twice is quarantined: {again.quarantined[0][1]}")

    _step(4, "CNH coins minted against received funds, gated by reserve coverage")
    mint = svc.run_subscriptions(ctx, cnh)
    console.print(f"{mint.minted} subscriptions minted in {mint.batches} batch transaction(s): "
                  f"{Amount(mint.minted_base_units, Currency.BCNH).format()}")
    for cid in people:
        console.print(f"  {people[cid][0]}: {Amount(chain.balance_of(keys[cid].address), Currency.BCNH).format()}")

    _step(5, "The importer pays the exporter 300,000.00 CNH coins on chain")
    chain.transfer_as(keys["kln-imp"], keys["szx-hk"].address, minor_to_base_units(300_000_00),
                      idempotency_key="demo:pay-invoice-8812")
    for cid in people:
        console.print(f"  {people[cid][0]}: {Amount(chain.balance_of(keys[cid].address), Currency.BCNH).format()}")

    _step(6, "The exporter redeems 400,000.00 CNH: coins sent in, burned, payout file written")
    red = svc.request_redemption(ctx, iss.RedemptionRequest("szx-hk", Currency.BCNH, 400_000_00,
                                                            keys["szx-hk"].address, "004-555-100200-838",
                                                            "demo:redeem-1"))
    coins = Amount(minor_to_base_units(400_000_00), Currency.BCNH).format()
    console.print(f"redemption {red.seq} requested: send {coins} to {chain.redemption_address}")
    chain.transfer_as(keys["szx-hk"], chain.redemption_address, minor_to_base_units(400_000_00),
                      idempotency_key="demo:redeem-1:send")
    rr = svc.run_redemptions(ctx, cnh)
    red = ctx.store.redemption(red.seq)
    pays = Amount(red.amount_minor - red.fee_minor, cnh).format()
    console.print(f"burned {rr.burned}; payout file {', '.join(rr.payout_files)} "
                  f"(fee {Amount(red.fee_minor, cnh).format()}, pays {pays})")
    for age in svc.redemption_tracker(ctx):
        console.print(f"  redemption {age.seq}: {age.status}, deadline {age.deadline.isoformat()} "
                      f"({human_duration(age.time_left_s)} left, {age.level})")

    _step(7, "The bank's end-of-day camt.053 shows the deposits and the payout debit: payout settled")
    ref = svc.payout_reference(cnh, red.seq)
    entries = [*deposits, SimEntry(red.amount_minor - red.fee_minor, False, "HSBC-OUT-0001", f"/ROC/{ref}",
                                   end_to_end_id=ref)]
    issuer.drop_statement(entries, now, message_id="HSBC-STM-0001")
    st = svc.ingest_bank_files(ctx)
    console.print(f"{st.payouts_settled} payout settled; {st.duplicate_entries} entries already booked from "
                  "the notification were skipped")
    console.print(f"redemption {red.seq}: {ctx.store.redemption(red.seq).status}")

    _step(8, "Bank, ledger and chain agree")
    closing = sum(e.amount_minor if e.credit else -e.amount_minor for e in entries)
    cash = ctx.ledger.account(iss.book_account_id(cnh, Book.RESERVE_CASH)).posted
    capital = 500_000_00
    supply = svc.supply_check(ctx, cnh)
    table = Table(title="CNH coin")
    table.add_column("figure")
    table.add_column("bank", justify="right")
    table.add_column("ledger", justify="right")
    table.add_column("chain", justify="right")
    table.add_row("reserve cash from customers (CNH)", Amount(closing, cnh).format(),
                  Amount(cash - capital, cnh).format(), "")
    table.add_row("coins outstanding (CNH at par)", "", Amount(supply["ledger_outstanding_minor"], cnh).format(),
                  Amount(supply["chain_supply_base_units"], Currency.BCNH).format())
    fees = ctx.ledger.account(iss.book_account_id(cnh, Book.FEE_INCOME)).posted
    suspense = ctx.ledger.account(iss.book_account_id(cnh, Book.SUSPENSE)).posted
    table.add_row("fee income / suspense", "", f"{Amount(fees, cnh).format()} / {Amount(suspense, cnh).format()}",
                  "")
    console.print(table)
    ok_bank = closing == cash - capital
    ok_chain = supply["difference_base_units"] == 0
    ok_books = closing == supply["ledger_outstanding_minor"] + fees + suspense
    report_inv = ctx.ledger.check_invariants()
    console.print(f"bank = ledger: {'[green]yes[/green]' if ok_bank else '[red]NO[/red]'}; "
                  f"ledger = chain: {'[green]yes[/green]' if ok_chain else '[red]NO[/red]'}; "
                  f"cash = coins + fees + suspense: {'[green]yes[/green]' if ok_books else '[red]NO[/red]'}; "
                  f"ledger invariants: {'[green]hold[/green]' if report_inv.ok else '[red]BROKEN[/red]'} "
                  f"({report_inv.transfers_checked} transfers)")
    for line in ctx.events:
        console.print(f"  [dim]{line}[/dim]")

    _step(9, "Cross-border trade: an invoice in CNH coins through escrow, one HKD/CNH swap")
    from bauhinia.entrypoints.trade_demo import trade_demo_steps

    trade_demo_steps(issuer, console)

    _step(10, "The reserve: coverage, three-way reconciliation, proof of liabilities")
    from bauhinia.entrypoints.reserve_demo import reserve_demo_steps

    reserve_demo_steps(issuer, console)

    from bauhinia.entrypoints.compliance_demo import compliance_demo_steps

    compliance_demo_steps(issuer, console, first_step=11)
    from bauhinia.entrypoints.service_demo import service_demo_steps

    ok_service = service_demo_steps(issuer, console, 15)
    c.close()
    if not (ok_bank and ok_chain and ok_books and report_inv.ok and ok_service):
        raise typer.Exit(1)
