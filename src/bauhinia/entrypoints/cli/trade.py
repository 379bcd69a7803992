"""`bauhinia trade ...`: trade invoices through escrow, CNH/HKD quotes and swaps, the trade report, the demo.

Store-only commands (`invoice show`, `report`) read the configured database. Steps that move coins (`party`,
`invoice issue|accept|fund|release|refund|dispute`, `quote-create`, `swap`) run against the JSON-RPC node of
BAUHINIA_CHAIN_RPC_URL through the container's settlement wiring (escrow and swap deployed once per chain,
the relayer/treasury/agent keys in the keystore); a party's own key comes from `--keystore`. On the embedded
default the EVM lives only as long as one command, so those steps explain that and `trade demo` runs the whole
flow in one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

_NODE_NOTE = ("needs a JSON-RPC node (set BAUHINIA_CHAIN_RPC_URL): the embedded EVM lives only as long as one "
              "command; run `bauhinia trade demo` for the whole flow in one process")
KEY_PASSWORD_ENV = "BAUHINIA_TRADE_KEY_PASSWORD"  # noqa: S105 (the variable's name, not a secret)


def _repo():  # type: ignore[no-untyped-def]
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.adapters.store.settlement_repo import SettlementRepository
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return SettlementRepository(engine)


def _needs_node(step: str) -> None:
    raise ValidationError(f"trade {step} {_NODE_NOTE}", code="chain_not_wired")


def _node(step: str, keystore: Path | None = None) -> Any:
    """The container on the configured node, with the acting party's key when one is given (a keystore file,
    its password in BAUHINIA_TRADE_KEY_PASSWORD)."""

    from bauhinia.bootstrap import Container, load_settings

    settings = load_settings()
    if not settings.chain_rpc_url:
        _needs_node(step)
    container = Container(settings)
    if keystore is not None:
        import json

        from eth_account import Account

        if not keystore.is_file():
            raise NotFoundError(f"no keystore file {keystore}", code="keystore_missing")
        try:
            key = Account.from_key(Account.decrypt(json.loads(keystore.read_text(encoding="utf-8")),
                                                   settings.trade_key_password))
        except (ValueError, KeyError):
            raise ValidationError(f"cannot decrypt {keystore} (set {KEY_PASSWORD_ENV})",
                                  code="keystore_locked") from None
        container.settlement.chain.add_key(key)
    return container


KeystoreOpt = Annotated[Path | None, typer.Option(help="keystore JSON of the acting party's wallet "
                                                       f"(password in {KEY_PASSWORD_ENV})")]


def _show(invoice: st.TradeInvoice) -> None:
    console.print(f"{invoice.invoice_id}: {Amount(invoice.amount_minor, invoice.currency).format()} "
                  f"({invoice.corridor.value}) state {invoice.state}, documents hash {invoice.documents_hash}")


@app.command("party")
def party(customer_id: Annotated[str, typer.Argument()],
          country: Annotated[str, typer.Option(help="ISO 3166 alpha-2, e.g. CN or HK")],
          wallet: Annotated[str, typer.Option(help="one of the customer's verified wallets")]) -> None:
    """Make a cleared customer a trade party on one of its verified wallets (screened)."""
    from bauhinia.domain.errors import RefusedError
    from bauhinia.services import settlement as svc

    c = _node(f"party {customer_id}")
    customer = c.issuance.store.customer(customer_id)
    customer.require_cleared()
    if not any(w.address == wallet.lower() for w in c.issuance.store.wallets(customer_id)):
        raise RefusedError(f"{wallet} is not a verified wallet of {customer_id}", code="wallet_not_verified")
    p = svc.register_party(c.settlement, customer_id, customer.name, country, wallet)
    console.print(f"trade party {p.party_id}: {p.name} ({p.country}) {p.address}, screened clear")


@invoice_app.command("issue")
def invoice_issue(
    invoice_id: Annotated[str, typer.Argument()],
    exporter: Annotated[str, typer.Option(help="the exporter's party id")],
    importer: Annotated[str, typer.Option(help="the importer's party id")],
    currency: Annotated[str, typer.Option(help="CNH or HKD")],
    due: Annotated[str, typer.Option(help="due date, YYYY-MM-DD")],
    item: Annotated[list[str], typer.Option(help="a line item: 'description|quantity|amount', repeatable")],
    bill_of_lading_hash: Annotated[str, typer.Option(help="SHA-256 of the bill of lading")],
    packing_list_hash: Annotated[str, typer.Option(help="SHA-256 of the packing list")],
    no_agent: Annotated[bool, typer.Option(help="appoint no documents agent")] = False,
) -> None:
    """Issue an invoice (the issuer's documents agent is appointed unless --no-agent)."""
    from datetime import date

    from bauhinia.domain.money import parse_decimal_amount
    from bauhinia.services import settlement as svc

    c = _node(f"invoice issue {invoice_id}")
    fiat = parse_currency(currency).fiat
    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise ValidationError(f"due date must be YYYY-MM-DD, got {due!r}", code="bad_date") from None
    lines = []
    for text in item:
        parts = text.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            raise ValidationError(f"a line item is 'description|quantity|amount', got {text!r}", code="bad_line_item")
        lines.append((parts[0].strip(), int(parts[1]), parse_decimal_amount(parts[2].strip(), fiat)))
    deps = c.settlement
    agent = deps.chain.agent.address if deps.chain.agent and not no_agent else None
    _show(svc.issue_invoice(deps, invoice_id=invoice_id, exporter_id=exporter, importer_id=importer, currency=fiat,
                            due_date=due_date, line_items=lines, bill_of_lading_hash=bill_of_lading_hash,
                            packing_list_hash=packing_list_hash, agent_address=agent))


def _invoice(c: Any, invoice_id: str) -> st.TradeInvoice:
    invoice = c.settlement_store.get_invoice(invoice_id)
    if invoice is None:
        raise NotFoundError(f"no invoice {invoice_id!r}", code="invoice_not_found")
    return invoice  # type: ignore[no-any-return]


@invoice_app.command("accept")
def invoice_accept(invoice_id: Annotated[str, typer.Argument()]) -> None:
    """The importer accepts the invoice."""
    from bauhinia.services import settlement as svc

    c = _node(f"invoice accept {invoice_id}")
    _show(svc.accept_invoice(c.settlement, invoice_id, _invoice(c, invoice_id).importer.address))


@invoice_app.command("fund")
def invoice_fund(
    invoice_id: Annotated[str, typer.Argument()],
    method: Annotated[str, typer.Option(help="authorization (EIP-3009, relayed) or permit (EIP-2612)")] = (
        "authorization"),
    signature: Annotated[str | None, typer.Option(help="the importer's EIP-3009 signature, signed elsewhere "
                                                       "over `invoice authorization`'s typed data")] = None,
    valid_after: Annotated[int | None, typer.Option()] = None,
    valid_before: Annotated[int | None, typer.Option()] = None,
    expiry: Annotated[int | None, typer.Option(help="escrow expiry (Unix s) the signature was made for")] = None,
    keystore: KeystoreOpt = None,
) -> None:
    """Lock the invoice's coins in escrow: with a signature made elsewhere, or signed here with --keystore."""
    from bauhinia.services import settlement as svc

    c = _node(f"invoice fund {invoice_id}", keystore)
    auth = None
    if signature is not None:
        if valid_after is None or valid_before is None or expiry is None:
            raise ValidationError("--signature comes with --valid-after, --valid-before and --expiry",
                                  code="authorization_incomplete")
        auth = svc.SignedAuthorization(valid_after, valid_before, signature)
    _show(svc.fund_invoice(c.settlement, invoice_id, method=method, escrow_expiry_s=expiry, authorization=auth))


@invoice_app.command("authorization")
def invoice_authorization(invoice_id: Annotated[str, typer.Argument()]) -> None:
    """Print the EIP-712 typed data the importer signs to fund the escrow (JSON), with its escrow expiry."""
    import json

    from bauhinia.services import settlement as svc

    c = _node(f"invoice authorization {invoice_id}")
    expiry_s, typed = svc.funding_authorization(c.settlement, invoice_id)
    typer.echo(json.dumps({"escrow_expiry_s": expiry_s, "typed_data": typed}, indent=2))


@invoice_app.command("release")
def invoice_release(
    invoice_id: Annotated[str, typer.Argument()],
    documents_hash: Annotated[str, typer.Option(help="the commitment of the documents presented")],
    by: Annotated[str, typer.Option(help="agent (the issuer's documents agent) or importer")] = "agent",
    keystore: KeystoreOpt = None,
) -> None:
    """Accept the documents and pay the exporter; a hash that does not match the one locked is refused."""
    from bauhinia.services import settlement as svc

    c = _node(f"invoice release {invoice_id}", keystore)
    invoice = _invoice(c, invoice_id)
    if by not in ("agent", "importer"):
        raise ValidationError("--by is agent or importer", code="bad_actor")
    agent = c.settlement.chain.agent
    actor = invoice.importer.address if by == "importer" else (agent.address if agent else "")
    _show(svc.release_invoice(c.settlement, invoice_id, actor, documents_hash))


@invoice_app.command("refund")
def invoice_refund(invoice_id: Annotated[str, typer.Argument()]) -> None:
    """Return the coins to the importer after the escrow's expiry (the agent decides a disputed one)."""
    from bauhinia.services import settlement as svc

    c = _node(f"invoice refund {invoice_id}")
    invoice = _invoice(c, invoice_id)
    agent = c.settlement.chain.agent
    actor = agent.address if invoice.state is st.InvoiceState.DISPUTED and agent else None
    _show(svc.refund_invoice(c.settlement, invoice_id, actor))


@invoice_app.command("dispute")
def invoice_dispute(
    invoice_id: Annotated[str, typer.Argument()],
    party_id: Annotated[str, typer.Option("--party", help="the importer's or exporter's party id")],
    reason: Annotated[str, typer.Option()],
    keystore: KeystoreOpt = None,
) -> None:
    """The importer or the exporter disputes a funded invoice (submitting with its own key)."""
    from bauhinia.services import settlement as svc

    c = _node(f"invoice dispute {invoice_id}", keystore)
    invoice = _invoice(c, invoice_id)
    parties = {invoice.importer.party_id: invoice.importer, invoice.exporter.party_id: invoice.exporter}
    if party_id not in parties:
        raise ValidationError(f"{party_id} is not a party to {invoice_id}", code="not_a_party")
    _show(svc.dispute_invoice(c.settlement, invoice_id, parties[party_id].address, reason))


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


@app.command("quote-create")
def quote_create(
    taker: Annotated[str, typer.Option(help="the taker's party id")],
    pay: Annotated[str, typer.Option(help="what the taker pays, e.g. 100000.00")],
    currency: Annotated[str, typer.Option(help="the taker's currency: HKD or CNH")],
    rate: Annotated[str, typer.Option(help="one unit of the taker's currency in the other, e.g. 0.9213")],
    ttl_s: Annotated[int, typer.Option(help="seconds the quote stays firm")] = 60,
) -> None:
    """A firm quote signed by the issuer's treasury (EIP-712) for a trade party to settle with `trade swap`."""
    from bauhinia.domain.money import parse_decimal_amount
    from bauhinia.services import settlement as svc

    c = _node("quote-create")
    deps = c.settlement
    party = deps.store.get_party(taker)
    if party is None:
        raise NotFoundError(f"no trade party {taker!r}", code="party_not_found")
    if deps.chain.treasury is None:
        raise ValidationError("no treasury key here", code="no_key")
    coin = parse_currency(currency).coin
    q, _ = svc.create_quote(deps, maker=deps.chain.treasury.address, taker=party.address, taker_coin=coin,
                            taker_amount_base_units=parse_decimal_amount(pay, coin), rate=rate, ttl_s=ttl_s)
    console.print(f"quote {q.quote_id}: {party.name} pays {Amount(q.taker_amount_base_units, q.taker_coin).format()}"
                  f", receives {Amount(q.maker_amount_base_units, q.maker_coin).format()}, until {q.expiry_s}")


@app.command()
def swap(quote_id: Annotated[str, typer.Argument()], keystore: KeystoreOpt = None) -> None:
    """Settle a quote as its taker: both legs in one transaction or neither."""
    from bauhinia.services import settlement as svc

    c = _node(f"swap {quote_id}", keystore)
    result = svc.settle_swap(c.settlement, quote_id)
    q = result.quote
    console.print(f"swap {quote_id} settled in {result.tx_hash}: taker paid "
                  f"{Amount(q.taker_amount_base_units, q.taker_coin).format()}, received "
                  f"{Amount(q.maker_amount_base_units, q.maker_coin).format()}")


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
