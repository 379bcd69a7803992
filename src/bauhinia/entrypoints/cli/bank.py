"""`bauhinia bank ...`: read ISO 20022 bank files, list Hong Kong business days, compute payout deadlines."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain.errors import ValidationError

app = typer.Typer(help="ISO 20022 bank files and the Hong Kong business-day calendar.", no_args_is_help=True)


def _entry_dict(e: Any) -> dict[str, Any]:
    return {
        "entry_key": e.entry_key,
        "index": e.index,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "credit_debit": e.credit_debit.value,
        "status": e.status,
        "reversal": e.reversal,
        "booking_date": e.booking_date.isoformat() if e.booking_date else None,
        "value_date": e.value_date.isoformat() if e.value_date else None,
        "entry_reference": e.entry_reference,
        "account_servicer_reference": e.account_servicer_reference,
        "bank_transaction_code": e.bank_transaction_code,
        "end_to_end_id": e.end_to_end_id,
        "debtor_name": e.debtor_name,
        "debtor_account": e.debtor_account.value if e.debtor_account else None,
        "remittance_unstructured": list(e.remittance_unstructured),
        "creditor_references": list(e.creditor_references),
        "additional_info": e.additional_info,
        "transactions": len(e.transactions),
    }


@app.command("parse")
def parse(
    file: Annotated[Path, typer.Argument(help="a camt.053 or camt.054 XML file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    schema: Annotated[str, typer.Option(help="binding check: auto, full, sample or off")] = "auto",
) -> None:
    """Parse a bank file; a bad file exits non-zero with one line saying why."""
    from bauhinia.adapters.bank.camt import parse_camt

    if schema not in ("auto", "full", "sample", "off"):
        raise ValidationError(f"--schema must be auto, full, sample or off, not {schema!r}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {file}: {exc.strerror}", code="file_unreadable") from None
    msg = parse_camt(data, schema=schema)  # type: ignore[arg-type]
    if as_json:
        out = {
            "kind": msg.kind.value,
            "version": msg.version,
            "message_id": msg.message_id,
            "message_key": msg.message_key,
            "created_at": msg.created_at.isoformat(),
            "content_hash": msg.content_hash,
            "reports": [
                {
                    "report_id": r.report_id,
                    "account": r.account.value,
                    "account_scheme": r.account.scheme,
                    "account_currency": r.account_currency,
                    "entries": [_entry_dict(e) for e in r.entries],
                    "balances": [
                        {"type": b.type_code, "amount_minor": b.amount_minor, "currency": b.currency,
                         "date": b.on.isoformat() if b.on else None}
                        for b in r.balances
                    ],
                }
                for r in msg.reports
            ],
        }
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(
        f"[bold]{msg.kind.value}.{msg.version}[/] message {msg.message_id} created {msg.created_at.isoformat()}"
        f"  sha256 {msg.content_hash[:16]}…"
    )
    for r in msg.reports:
        table = Table(title=f"{r.report_id} · account {r.account} {r.account_currency or ''}".rstrip())
        for col in ("#", "amount", "C/D", "status", "booked", "value", "servicer ref", "end-to-end", "debtor",
                    "remittance"):
            table.add_column(col, overflow="fold")
        for e in r.entries:
            d = 10 ** _decimals(e.currency)
            whole, frac = divmod(e.amount_minor, d)
            amount = f"{e.currency} {whole:,}" + (f".{frac:0{len(str(d)) - 1}d}" if d > 1 else "")
            table.add_row(
                str(e.index), amount, e.credit_debit.value, e.status,
                e.booking_date.isoformat() if e.booking_date else "",
                e.value_date.isoformat() if e.value_date else "",
                e.account_servicer_reference or "", e.end_to_end_id or "", e.debtor_name or "",
                e.remittance_text or (e.additional_info or ""),
            )
        console.print(table)


def _decimals(ccy: str) -> int:
    from bauhinia.domain.banking import currency_decimals

    return currency_decimals(ccy)


def _calendar(first: int, last: int, closures: Path | None) -> Any:
    from bauhinia.adapters.calendar_data import load_hk_calendar

    return load_hk_calendar(first, last, closures)


@app.command("calendar")
def calendar(
    from_: Annotated[str, typer.Option("--from", help="first date, YYYY-MM-DD")],
    days: Annotated[int, typer.Option("--days", help="how many calendar days to list")] = 14,
    closures: Annotated[Path | None, typer.Option(help="closures JSON (default: the shipped file)")] = None,
) -> None:
    """List the days from --from: business day or why not (weekend, holiday, typhoon / rainstorm closure)."""
    from datetime import timedelta

    try:
        start = date.fromisoformat(from_)
    except ValueError:
        raise ValidationError(f"--from must be YYYY-MM-DD, not {from_!r}") from None
    if not (1 <= days <= 3660):
        raise ValidationError("--days must be 1..3660")
    end = start + timedelta(days=days - 1)
    cal = _calendar(start.year, end.year + 1, closures)
    table = Table(title=f"Hong Kong business days {start} .. {end}")
    table.add_column("date")
    table.add_column("day")
    table.add_column("business day")
    table.add_column("why not")
    for i in range(days):
        d = start + timedelta(days=i)
        why = cal.why_closed(d)
        table.add_row(d.isoformat(), d.strftime("%a"), "yes" if why is None else "no", why or "")
    Console().print(table)


@app.command("deadline")
def deadline(
    requested_at: Annotated[str, typer.Option("--requested-at", help="ISO 8601 with offset; naive = HK")],
    closures: Annotated[Path | None, typer.Option(help="closures JSON (default: the shipped file)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The payout deadline of a redemption requested at --requested-at."""
    from bauhinia.domain.calendar import HK_TZ, payout_deadline

    try:
        at = datetime.fromisoformat(requested_at)
    except ValueError:
        raise ValidationError(f"--requested-at must be ISO 8601, not {requested_at!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=HK_TZ)
    year = at.astimezone(HK_TZ).year
    result = payout_deadline(_calendar(year, year + 1, closures), at)
    out = {
        "requested_at": result.requested_at.isoformat(),
        "request_day_hk": result.request_day_hk.isoformat(),
        "due_business_day": result.due_business_day.isoformat(),
        "deadline_utc": result.deadline.isoformat(),
        "deadline_hk": result.deadline.astimezone(HK_TZ).isoformat(),
        "deadline_ns": result.deadline_ns,
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        typer.echo(f"{k:18} {v}")
