"""`bauhinia issuance ...`: customers, bank files in, mint, redeem, deadlines and recovery.

Steps that touch the chain need a chain that outlives the command: set BAUHINIA_CHAIN_RPC_URL to a node. On the
embedded default (an in-process EVM that lives as long as one command) use `bauhinia demo`, or `issuance cycle`,
which runs the bank-in, mint and redeem steps in one process.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Amount, Currency, parse_currency, parse_decimal_amount
from bauhinia.entrypoints.formatting import progress_bar

app = typer.Typer(help="Subscription and redemption at par: customers, bank files, mint, redeem, deadlines.",
                  no_args_is_help=True)
customer_app = typer.Typer(help="Customers: open, clear, bank accounts, wallets.", no_args_is_help=True)
app.add_typer(customer_app, name="customer")
console = Console()


def _ctx() -> Any:
    """The issuance context, acting as the command's operator (what it records, and the maker of any approval a
    large mint opens), "system" for a command that changes nothing."""
    from dataclasses import replace

    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.cli import _identity

    ctx = Container().issuance
    actor = _identity.acting()
    return ctx if actor is None else replace(ctx, actor=actor.subject)


def _fiat(code: str) -> Currency:
    cur = parse_currency(code).fiat
    if cur not in (Currency.CNH, Currency.HKD):
        raise ValidationError(f"{code} is not a coin currency", code="unknown_coin")
    return cur


@app.command("configure-coin")
def configure_coin(currency: Annotated[str, typer.Option(help="CNH or HKD")],
                   licence: Annotated[str, typer.Option(help="the issuer's licence number")],
                   approval: Annotated[str | None, typer.Option(help="mainland approval reference (CNH coin)")] = None,
                   subscription_fee_bps: Annotated[int, typer.Option()] = 0,
                   redemption_fee_bps: Annotated[int, typer.Option()] = 0) -> None:
    """Record a coin's licence data and disclosed fees, and open its books."""
    from bauhinia.services import issuance as svc

    fiat = _fiat(currency)
    svc.configure_coin(_ctx(), iss.CoinConfig(fiat, licence, approval, subscription_fee_bps, redemption_fee_bps))
    warn = "" if fiat is not Currency.CNH or approval else " [yellow](no mainland approval: will not mint)[/yellow]"
    console.print(f"{fiat.coin.value} configured: licence {licence}, "
                  f"fees {subscription_fee_bps}/{redemption_fee_bps} bps{warn}")


@app.command("fund-capital")
def fund_capital(currency: Annotated[str, typer.Option()], amount: Annotated[str, typer.Option(help="e.g. 500000.00")],
                 reference: Annotated[str, typer.Option(help="unique reference; the same one never books twice")]
                 ) -> None:
    """Book the issuer's own capital paid into the reserve account (the coverage buffer)."""
    from bauhinia.services import issuance as svc

    fiat = _fiat(currency)
    svc.fund_issuer_capital(_ctx(), fiat, parse_decimal_amount(amount, fiat), reference)
    console.print(f"capital {Amount(parse_decimal_amount(amount, fiat), fiat).format()} booked ({reference})")


@customer_app.command("add")
def customer_add(customer_id: str, name: str) -> None:
    """Open a customer (status onboarding until due diligence clears it)."""
    from bauhinia.services import issuance as svc

    c = svc.onboard_customer(_ctx(), customer_id, name, cleared=False)
    console.print(f"customer {c.id}: {c.status.value}, deposit reference [bold]{c.deposit_reference}[/bold]")


@customer_app.command("status")
def customer_status(customer_id: str, status: Annotated[str, typer.Argument(help="onboarding|cleared|suspended")],
                    reason: Annotated[str, typer.Option(help="why (recorded in the audit log)")]) -> None:
    """Clear or suspend a customer."""
    from bauhinia.services import issuance as svc

    try:
        new = iss.CustomerStatus(status)
    except ValueError:
        raise ValidationError(f"unknown status {status!r}", code="bad_status") from None
    svc.set_customer_status(_ctx(), customer_id, new, reason)
    console.print(f"customer {customer_id}: {new.value}")


@customer_app.command("bank-account")
def customer_bank_account(customer_id: str, account: str,
                          holder: Annotated[str, typer.Option(help="account holder's name (the customer's own)")],
                          currency: Annotated[str, typer.Option()], bic: Annotated[str | None, typer.Option()] = None,
                          scheme: Annotated[str, typer.Option()] = "BBAN",
                          override_reason: Annotated[str | None, typer.Option(
                              help="the holder is not the customer's legal name: why it is the customer's "
                                   "(a second person approves it)")] = None) -> None:
    """Record a bank account verified to be in the customer's own name."""
    from bauhinia.services import issuance as svc

    ctx = _ctx()
    record = iss.VerifiedBankAccount(customer_id, account, scheme, holder, _fiat(currency), bic)
    if override_reason is not None:
        approval = svc.request_bank_account_override(ctx, record, override_reason, maker=ctx.actor)
        console.print(f"bank account ****{account[-4:]} for {customer_id} awaits a second person: approval {approval}")
        return
    svc.add_bank_account(ctx, record)
    console.print(f"bank account ****{account[-4:]} recorded for {customer_id}")


@customer_app.command("wallet-challenge")
def wallet_challenge(customer_id: str, address: str) -> None:
    """Print the message to sign (EIP-191) with the wallet's key, and its nonce."""
    import secrets

    nonce = secrets.token_hex(16)
    console.print(f"nonce: {nonce}\n---\n{iss.wallet_challenge(customer_id, address, nonce)}")


@customer_app.command("wallet")
def wallet(customer_id: str, address: str, nonce: Annotated[str, typer.Option()],
           signature: Annotated[str, typer.Option()]) -> None:
    """Whitelist a wallet from the customer's signature of the challenge."""
    from bauhinia.services import issuance as svc

    svc.verify_wallet(_ctx(), customer_id, address, nonce, signature)
    console.print(f"wallet {address.lower()} verified for {customer_id}")


@customer_app.command("show")
def customer_show(customer_id: str) -> None:
    """A customer with its accounts, wallets, subscriptions and redemptions."""
    ctx = _ctx()
    c = ctx.store.customer(customer_id)
    console.print(f"[bold]{c.name}[/bold] ({c.id}) {c.status.value}, deposit reference {c.deposit_reference}")
    for a in ctx.store.bank_accounts(customer_id):
        console.print(f"  bank account ****{a.account[-4:]} {a.currency.value} ({a.holder_name})")
    for w in ctx.store.wallets(customer_id):
        console.print(f"  wallet {w.address}")
    for r in ctx.store.redemptions(customer_id=customer_id):
        console.print(f"  redemption {r.seq}: {Amount(r.amount_minor, Currency(r.fiat)).format()} {r.status}")


@app.command("ingest")
def ingest(files: Annotated[list[Path] | None, typer.Argument(help="camt.054/camt.053 files to take in")] = None
           ) -> None:
    """Book bank files: those given (copied into the bank inbox) and any already waiting there."""
    from bauhinia.services import issuance as svc

    ctx = _ctx()
    from bauhinia.bootstrap import load_settings

    inbox = load_settings().bank_dir() / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for f in files or []:
        if not f.is_file():
            raise ValidationError(f"no such file: {f}", code="file_not_found")
        shutil.copyfile(f, inbox / f.name)
    with progress_bar("booking bank entries") as progress:
        rep = svc.ingest_bank_files(ctx, progress=progress)
    console.print(f"{rep.files} file(s) booked: {rep.subscriptions} subscription(s), {rep.suspense} to suspense, "
                  f"{rep.payouts_settled} payout(s) settled, {rep.duplicate_entries} duplicate entr(ies)")
    for name, code, reason in rep.quarantined:
        console.print(f"[yellow]quarantined[/yellow] {name}: {code}: {reason}")
    if rep.quarantined and not rep.files:
        raise typer.Exit(1)


suspense_app = typer.Typer(help="Bank receipts that matched no customer: list, assign.", no_args_is_help=True)
app.add_typer(suspense_app, name="suspense")


@suspense_app.command("list")
def suspense_list(status: Annotated[str, typer.Option(help="open, assigned or all")] = "open") -> None:
    """Bank receipts held in suspense, with the payer and remittance the bank gave."""
    from rich.table import Table

    from bauhinia.bootstrap import Container

    rows = Container().issuance.store.suspense(None if status == "all" else status)
    table = Table("seq", "currency", "amount", "payer", "remittance", "status", title=f"suspense ({status})")
    for r in rows:
        table.add_row(str(r.seq), r.fiat, Amount(int(r.amount_minor), Currency(r.fiat)).format(),
                      r.debtor_name or "", (r.remittance or "")[:60], r.status)
    console.print(table)


@suspense_app.command("assign")
def suspense_assign(seq: Annotated[int, typer.Argument(help="the suspense credit's number")],
                    customer: Annotated[str, typer.Option(help="the customer it belongs to")],
                    reason: Annotated[str, typer.Option(help="how you know it is theirs")]) -> None:
    """Ask a second person to credit a suspense receipt to a customer (approval suspense_assignment); it is then
    minted to them through every usual check."""
    from bauhinia.services import issuance as svc

    ctx = _ctx()
    approval = svc.request_suspense_assignment(ctx, seq, customer, reason, maker=ctx.actor)
    console.print(f"suspense credit {seq} -> {customer}: awaits a second person: approval {approval}")


refund_app = typer.Typer(help="Money sent back to the account that paid it: request, list.", no_args_is_help=True)
app.add_typer(refund_app, name="refund")


@refund_app.command("request")
def refund_request(source: Annotated[str, typer.Argument(help="suspense or subscription")],
                   seq: Annotated[int, typer.Argument(help="the suspense credit's or the subscription's number")],
                   reason: Annotated[str, typer.Option(help="why the money goes back")],
                   to_name: Annotated[str | None, typer.Option(help="the payer's name, only when the bank's file "
                                                                    "gave none")] = None,
                   to_account: Annotated[str | None, typer.Option(help="the payer's account, only when the "
                                                                       "bank's file gave none")] = None,
                   to_bic: Annotated[str | None, typer.Option(help="the payer's bank (BIC)")] = None) -> None:
    """Ask a second person (approval refund) to send a suspense credit or a held subscription back to the account
    that paid it; once approved a pain.001 is written and the reserve cash held until the bank pays."""
    from bauhinia.domain import banking as bnk
    from bauhinia.services import refunds

    if (to_name is None) != (to_account is None):
        raise ValidationError("--to-name and --to-account go together", code="bad_refund_account")
    creditor = None if to_account is None else bnk.Party(str(to_name), bnk.AccountId(to_account, "OTHR"), to_bic)
    ctx = _ctx()
    approval = refunds.request_refund(ctx, source, seq, reason, maker=ctx.actor, creditor=creditor)
    console.print(f"refund of {source} {seq}: awaits a second person: approval {approval}")


@refund_app.command("list")
def refund_list(status: Annotated[str, typer.Option(help="instructed, written, paid or all")] = "all") -> None:
    """Refunds with their payer account and state."""

    rows = _ctx().store.refunds(None if status == "all" else [status], limit=10_000)
    table = Table("seq", "of", "amount", "to", "account", "status", "file", title=f"refunds ({status})")
    for r in rows:
        table.add_row(str(r.seq), f"{r.source} {r.source_seq}", Amount(int(r.amount_minor), Currency(r.fiat)).format(),
                      r.creditor_name, r.creditor_account, r.status, r.file_name or "")
    console.print(table)


@app.command("payout-retry")
def payout_retry(redemption: Annotated[int, typer.Argument(help="the redemption whose payout was returned")],
                 reason: Annotated[str, typer.Option(help="why it can be paid now (the customer gave a new "
                                                          "account, ...)")],
                 bank_account: Annotated[str | None, typer.Option(help="one of the customer's verified accounts "
                                                                        "(default: the one it was sent to)")] = None
                 ) -> None:
    """Ask a second person (approval payout_retry) to pay again a redemption whose payout the payee's bank
    returned; once approved the next payout run instructs it, to the account named."""
    from bauhinia.services import payout_returns

    ctx = _ctx()
    approval = payout_returns.request_payout_retry(ctx, redemption, reason, maker=ctx.actor,
                                                   bank_account=bank_account)
    console.print(f"redemption {redemption}: paying it again awaits a second person: approval {approval}")


@app.command("release-hold")
def release_hold(subscription: Annotated[int, typer.Argument(help="the held subscription's number")],
                 reason: Annotated[str, typer.Option(help="what the case review found (the payer is the "
                                                          "customer's own account, ...)")],
                 case: Annotated[str | None, typer.Option(help="the case that reviewed it")] = None) -> None:
    """Ask a second compliance officer to let a deposit the payer check held be minted (approval
    payer_hold_release); the next mint run then takes it through every other check."""
    from bauhinia.services import issuance as svc

    ctx = _ctx()
    approval = svc.request_payer_hold_release(ctx, subscription, reason, maker=ctx.actor, case_id=case)
    console.print(f"subscription {subscription}: release awaits a second compliance officer: approval {approval}")


@app.command("subscriptions")
def subscriptions(status: Annotated[str | None, typer.Option()] = None,
                  limit: Annotated[int, typer.Option()] = 100) -> None:
    """List subscriptions."""
    rows = _ctx().store.subscriptions(statuses=[status] if status else None, limit=limit)
    table = Table(title="Subscriptions")
    for col in ("seq", "customer", "amount", "status", "reason"):
        table.add_column(col)
    for s in rows:
        table.add_row(str(s.seq), s.customer_id or "", Amount(s.amount_minor, Currency(s.fiat)).format(), s.status,
                      s.reason or "")
    console.print(table)


@app.command("mint")
def mint(currency: Annotated[str, typer.Option()] = "CNH") -> None:
    """Mint every ready subscription (needs a chain that outlives the command: BAUHINIA_CHAIN_RPC_URL)."""
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    rep = controls.run_mint(_ctx(), _fiat(currency), _identity.current())
    console.print(f"{rep.minted} minted in {rep.batches} batch(es), {rep.held} held")
    for why in rep.refused:
        console.print(f"[yellow]refused:[/yellow] {why}")


@app.command("redeem")
def redeem(customer_id: str, amount: Annotated[str, typer.Option(help="e.g. 100000.00")],
           wallet: Annotated[str, typer.Option()], bank_account: Annotated[str, typer.Option()],
           key: Annotated[str, typer.Option(help="idempotency key: the same key never redeems twice")],
           currency: Annotated[str, typer.Option()] = "CNH") -> None:
    """Request a redemption; prints where to send the coins."""
    from bauhinia.services import issuance as svc

    fiat = _fiat(currency)
    ctx = _ctx()
    r = svc.request_redemption(ctx, iss.RedemptionRequest(customer_id, fiat.coin, parse_decimal_amount(amount, fiat),
                                                           wallet, bank_account, key))
    pays, fee = Amount(r.amount_minor - r.fee_minor, fiat).format(), Amount(r.fee_minor, fiat).format()
    console.print(f"redemption {r.seq}: {r.status}; pays {pays} (fee {fee}); "
                  f"send the coins to {ctx.chains[fiat].redemption_address}")


@app.command("run-redemptions")
def run_redemptions(currency: Annotated[str, typer.Option()] = "CNH") -> None:
    """Match coins received, burn, book and write the payout file."""
    from bauhinia.services import issuance as svc

    rep = svc.run_redemptions(_ctx(), _fiat(currency))
    console.print(f"{rep.burned} burned, {rep.unmatched} unmatched, payout files: {', '.join(rep.payout_files)}")


@app.command("deadlines")
def deadlines() -> None:
    """Every unpaid redemption with its age and time left; breaches in red."""
    from bauhinia.services import issuance as svc

    table = Table(title="Redemption deadlines (end of the next Hong Kong business day)")
    for col in ("seq", "customer", "amount", "status", "age", "time left", "deadline (UTC)"):
        table.add_column(col)
    for a in svc.redemption_tracker(_ctx()):
        style = {"ok": "", "warning": "yellow", "breached": "red"}[a.level]
        table.add_row(str(a.seq), a.customer_id, Amount(a.amount_minor, Currency(a.fiat)).format(), a.status,
                      f"{a.age_s // 3600} h {a.age_s % 3600 // 60} min",
                      f"{a.time_left_s // 3600} h {a.time_left_s % 3600 // 60} min", a.deadline.isoformat(),
                      style=style)
    console.print(table)


@app.command("recover")
def recover() -> None:
    """Re-drive every flow from what was committed (after a crash). Idempotent."""
    from bauhinia.services import issuance as svc

    console.print(svc.recover(_ctx()))


@app.command("cycle")
def cycle(currency: Annotated[str, typer.Option()] = "CNH") -> None:
    """Book waiting bank files, mint, and redeem, in one process (the embedded EVM lives only that long)."""
    from bauhinia.services import issuance as svc

    ctx = _ctx()
    fiat = _fiat(currency)
    svc.recover(ctx)
    svc.ingest_bank_files(ctx)
    svc.run_subscriptions(ctx, fiat)
    svc.run_redemptions(ctx, fiat)
    for line in ctx.events:
        console.print(line)
