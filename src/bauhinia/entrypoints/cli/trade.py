"""`bauhinia trade ...`: trade invoices through escrow, CNH/HKD quotes and swaps, the trade report, the demo.

Store-only commands (`invoice show`, `report`) read the configured database. Steps that move coins run on the
embedded EVM inside one command (`trade demo`); on a JSON-RPC node they need the settlement contracts' wiring
from bootstrap (not done yet), and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain import settlement as st
from bauhinia.domain.errors import NotFoundError, ValidationError
from bauhinia.domain.money import Amount, Currency, parse_currency

app = typer.Typer(help="Cross-border trade settlement: invoices, escrow, swaps, report.", no_args_is_help=True)
invoice_app = typer.Typer(help="Trade invoices paid through escrow.", no_args_is_help=True)
app.add_typer(invoice_app, name="invoice")
console = Console()

_NODE_NOTE = ("moving coins needs the settlement contracts on a node (bootstrap wiring pending); "
              "run `bauhinia trade demo` for the whole flow on the embedded EVM")


def _repo():  # type: ignore[no-untyped-def]
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.adapters.store.settlement_repo import SettlementRepository
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return SettlementRepository(engine)


def _needs_node(step: str) -> None:
    raise ValidationError(f"trade {step}: {_NODE_NOTE}", code="chain_not_wired")


@invoice_app.command("issue")
def invoice_issue(invoice_id: Annotated[str, typer.Argument()]) -> None:
    """Issue an invoice (needs the parties' chain balances: see `trade demo`)."""
    _needs_node(f"invoice issue {invoice_id}")


@invoice_app.command("accept")
def invoice_accept(invoice_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"invoice accept {invoice_id}")


@invoice_app.command("fund")
def invoice_fund(invoice_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"invoice fund {invoice_id}")


@invoice_app.command("release")
def invoice_release(invoice_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"invoice release {invoice_id}")


@invoice_app.command("refund")
def invoice_refund(invoice_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"invoice refund {invoice_id}")


@invoice_app.command("dispute")
def invoice_dispute(invoice_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"invoice dispute {invoice_id}")


@invoice_app.command("show")
def invoice_show(invoice_id: Annotated[str, typer.Argument()]) -> None:
    """An invoice and its audit trail, from the database."""
    repo = _repo()
    invoice = repo.get_invoice(invoice_id)
    if invoice is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", code="invoice_not_found")
    history = repo.history(invoice_id)
    st.check_history(invoice, history)
    console.print(f"{invoice.invoice_id}: {Amount(invoice.amount_minor, invoice.currency).format()} "
                  f"{invoice.exporter.name} <- {invoice.importer.name} ({invoice.corridor.value}), "
                  f"due {invoice.due_date}, state {invoice.state}")
    table = Table("seq", "from", "to", "actor", "reason", "reference")
    for r in history:
        table.add_row(str(r.sequence), r.from_state or "-", r.to_state, r.actor, r.reason, r.reference)
    console.print(table)


@app.command()
def quote(
    pay: Annotated[str, typer.Option(help="what the taker pays, e.g. 100000.00")],
    currency: Annotated[str, typer.Option(help="the taker's currency: HKD or CNH")],
    rate: Annotated[str, typer.Option(help="one unit of the taker's currency in the other, e.g. 0.9213")],
    rounding: Annotated[str, typer.Option(help="down, up or half_even")] = "down",
) -> None:
    """Price a quote exactly (integer ratio, explicit rounding). Signing and settling need a node."""
    coin = parse_currency(currency).coin
    other = Currency.BHKD if coin is Currency.BCNH else Currency.BCNH
    from bauhinia.domain.money import parse_decimal_amount

    amount = parse_decimal_amount(pay, coin)
    r = st.Rate.parse(coin.fiat, other.fiat, rate)
    out = st.convert(amount, r, st.Rounding(rounding))
    console.print(f"taker pays {Amount(amount, coin).format()}, receives {Amount(out, other).format()} "
                  f"(rate {r.numerator}/{r.denominator}, rounding {rounding})")


@app.command()
def swap(quote_id: Annotated[str, typer.Argument()]) -> None:
    _needs_node(f"swap {quote_id}")


@app.command()
def report(out_dir: Annotated[Path, typer.Option(help="where to write the PNG charts and HTML")] = Path(
        "var/reports")) -> None:
    """Volume by corridor, currency and month, active holders, from the settled payments in the database."""
    from bauhinia.adapters.reports.trade import write_report

    figures = st.trade_figures(_repo().list_payments(), {})
    for path in write_report(figures, out_dir):
        console.print(f"wrote {path}")
    console.print(f"payments {figures.payments}, active holders {figures.active_holders}")


@app.command()
def demo(report_dir: Annotated[Path | None, typer.Option(help="also write the trade report here")] = None) -> None:
    """Pay an invoice in CNH coins through escrow and settle one HKD/CNH swap on the embedded EVM."""
    from bauhinia.adapters.reports.trade import write_report
    from bauhinia.entrypoints.trade_demo import run_trade_demo

    result = run_trade_demo(console.print, payout_dir=report_dir)
    if report_dir is not None:
        for path in write_report(result["figures"], report_dir):
            console.print(f"wrote {path}")
