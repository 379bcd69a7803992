"""`bauhinia ledger ...`: accounts, transfers, balances, history and the invariant check."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import AccountView, SqlLedger
from bauhinia.bootstrap import load_settings
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.ledger import Account, AccountKind, Transfer, TransferFlags
from bauhinia.domain.money import Amount, parse_currency
from bauhinia.entrypoints.formatting import progress_bar

app = typer.Typer(help="The double-entry ledger: accounts, transfers, balances, history, invariants.",
                  no_args_is_help=True)
console = Console()


def open_ledger() -> SqlLedger:
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    return SqlLedger(engine, time.time_ns)


def accounts_table(views: list[AccountView], title: str = "Accounts") -> Table:
    table = Table(title=title)
    for col in ("id", "reference", "kind", "posted", "available", "pending dr/cr"):
        table.add_column(col, justify="right" if col not in ("reference", "kind") else "left")
    for v in views:
        cur = parse_currency(v.account.currency)
        table.add_row(
            str(v.account.id),
            v.account.reference or "",
            v.account.kind.value,
            Amount(v.posted, cur).format(),
            Amount(v.available, cur).format(),
            f"{v.balance.debits_pending}/{v.balance.credits_pending}",
        )
    return table


@app.command("create-account")
def create_account(
    account_id: Annotated[int, typer.Argument(help="client-chosen positive integer id")],
    currency: Annotated[str, typer.Option(help="CNH, HKD, BCNH or BHKD")],
    kind: Annotated[str, typer.Option(help="asset, liability, equity, income or expense")],
    reference: Annotated[str | None, typer.Option(help="reference data, e.g. customer id")] = None,
    no_overdraft: Annotated[bool, typer.Option(help="the account's balance may never go below zero")] = False,
) -> None:
    """Open an account."""
    try:
        k = AccountKind(kind)
    except ValueError:
        raise ValidationError(f"unknown account kind {kind!r}", code="unknown_kind") from None
    flags = 0
    if no_overdraft:
        flags = 1 if not k.debit_normal else 2
    cur = parse_currency(currency).value
    result = open_ledger().create_accounts([Account(account_id, cur, k, flags, reference=reference)])[0]
    if result not in ("ok", "exists"):
        raise ValidationError(f"account {account_id} refused", code=result)
    console.print(f"account {account_id}: {result}")


ReasonOpt = Annotated[str, typer.Option("--reason", help="why (a manual adjustment needs one)")]


def _adjust(batch: list[Transfer], reason: str) -> list[str]:
    """Propose the transfers as one adjustment by the operator (services/adjustments.py, as the API does): booked
    at once (results), or waiting for a second person (nothing booked yet, no results), or refused."""
    from bauhinia.bootstrap import Container
    from bauhinia.domain.errors import RefusedError
    from bauhinia.entrypoints.cli import _identity

    actor = _identity.current()
    out = Container().adjustments.propose(batch, reason, maker=actor.subject, maker_roles=actor.roles)
    if out.status == "pending_approval":
        approval = out.approval.id if out.approval is not None else "-"
        console.print(f"adjustment {out.adjustment_id}: waiting for a second person (approval {approval}: "
                      f"{', '.join(out.needs_approval_because)}); nothing booked yet")
        return []
    if out.status == "refused":
        told = "; ".join(f"transfer {t.id}: {r}" for t, r in zip(batch, out.results, strict=False) if r != "ok")
        raise RefusedError(f"the ledger refused the adjustment, nothing was booked: {told}", code="adjustment_refused")
    return list(out.results)


@app.command("transfer")
def transfer(
    transfer_id: Annotated[int, typer.Argument(help="client-chosen id; resubmitting it changes nothing")],
    debit: Annotated[int, typer.Option(help="debit account id")],
    credit: Annotated[int, typer.Option(help="credit account id")],
    amount: Annotated[int, typer.Option(help="integer amount in the currency's smallest unit")],
    currency: Annotated[str, typer.Option()],
    reference: Annotated[str | None, typer.Option()] = None,
    pending: Annotated[bool, typer.Option(help="hold the amount; post or void later")] = False,
    timeout_s: Annotated[int, typer.Option(help="a pending transfer expires after this many seconds")] = 0,
    reason: ReasonOpt = "",
) -> None:
    """Create one transfer: a manual adjustment by the operator (reason, role limit, a second person when the
    adjustment policy says so), as on the API."""
    flags = int(TransferFlags.PENDING) if pending else 0
    cur = parse_currency(currency).value
    t = Transfer(transfer_id, debit, credit, amount, cur, reference=reference, flags=flags, timeout_s=timeout_s)
    for result in _adjust([t], reason):
        console.print(f"transfer {transfer_id}: {result}")


@app.command("import")
def import_transfers(file: Annotated[Path, typer.Argument(help="JSON lines, one transfer object each")],
                     reason: ReasonOpt = "") -> None:
    """Create transfers from a JSON-lines file in batches, each batch one manual adjustment by the operator;
    prints one result per line."""
    if not file.is_file():
        raise ValidationError(f"no such file: {file}", code="file_not_found")
    batch: list[Transfer] = []
    for n, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            batch.append(Transfer(**obj))
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"{file}:{n}: not a transfer: {exc}", code="bad_transfer_line") from None
    with progress_bar("importing transfers") as progress:
        for k in range(0, len(batch), 8_190):
            for t, r in zip(batch[k : k + 8_190], _adjust(batch[k : k + 8_190], reason), strict=False):
                console.print(f"{t.id}\t{r}")
            if progress is not None:
                progress(min(k + 8_190, len(batch)), len(batch))


@app.command("post")
def post_pending(
    transfer_id: int, pending_id: Annotated[int, typer.Option()], amount: Annotated[int, typer.Option()] = 0,
    reason: ReasonOpt = "",
) -> None:
    """Post a pending transfer (amount 0 = the full pending amount), as a manual adjustment."""
    t = Transfer(transfer_id, 0, 0, amount, "", flags=int(TransferFlags.POST_PENDING), pending_id=pending_id)
    for result in _adjust([t], reason):
        console.print(f"post {transfer_id}: {result}")


@app.command("void")
def void_pending(transfer_id: int, pending_id: Annotated[int, typer.Option()], reason: ReasonOpt = "") -> None:
    """Void a pending transfer, releasing what it holds, as a manual adjustment."""
    t = Transfer(transfer_id, 0, 0, 0, "", flags=int(TransferFlags.VOID_PENDING), pending_id=pending_id)
    for result in _adjust([t], reason):
        console.print(f"void {transfer_id}: {result}")


@app.command("balances")
def balances(account_ids: Annotated[list[int], typer.Argument()]) -> None:
    """Show accounts with their balances."""
    console.print(accounts_table(open_ledger().lookup_accounts(account_ids)))


@app.command("history")
def history(account_id: int, limit: Annotated[int, typer.Option()] = 50) -> None:
    """An account's transfers with its balance after each."""
    ledger = open_ledger()
    view = ledger.account(account_id)
    cur = parse_currency(view.account.currency)
    table = Table(title=f"History of account {account_id}")
    for col in ("timestamp", "transfer", "debit", "credit", "amount", "flags", "reference", "balance after"):
        table.add_column(col)
    for h in ledger.history(account_id, limit=limit):
        t = h.transfer
        table.add_row(str(t.timestamp), str(t.id), str(t.debit_account_id), str(t.credit_account_id),
                      Amount(t.amount, cur).format(), str(TransferFlags(t.flags).name or ""), t.reference or "",
                      Amount(h.balance.posted_for(view.account.kind), cur).format())
    console.print(table)


@app.command("check")
def check() -> None:
    """Recompute every balance from the transfers and check the invariants; exits 1 when one is broken."""
    report = open_ledger().check_invariants()
    for cur, b in sorted(report.totals_by_currency.items()):
        console.print(f"{cur}: posted debits {b.debits_posted:,} = credits {b.credits_posted:,}; "
                      f"pending {b.debits_pending:,} / {b.credits_pending:,}")
    if report.ok:
        console.print(f"[green]invariants hold[/green] over {report.accounts_checked} accounts and "
                      f"{report.transfers_checked} transfers")
        return
    for p in report.problems:
        console.print(f"[red]{p}[/red]")
    raise typer.Exit(1)
