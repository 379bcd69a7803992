"""`bauhinia regulatory ...`: the requirements register, periodic returns (daily statement, monthly return),
the incidents register with its regulator-notification step, and the records export for auditors.

`bauhinia compliance controls-report` (the evidence pack) and `bauhinia audit verify-export` (the export check)
are registered under their areas' commands and call into this module.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain import regulatory as reg
from bauhinia.domain.errors import BauhiniaError

app = typer.Typer(help="Regulatory evidence: register, returns, incidents, records export.", no_args_is_help=True)
returns_app = typer.Typer(help="Periodic returns: daily statement, monthly return.", no_args_is_help=True)
incident_app = typer.Typer(help="The incidents register and the regulator-notification step.", no_args_is_help=True)
app.add_typer(returns_app, name="returns")
app.add_typer(incident_app, name="incident")
console = Console()

ActorOpt = Annotated[str, typer.Option("--actor", envvar="BAUHINIA_ACTOR", help="Who acts (audited).")]


def _container() -> Any:
    from bauhinia.bootstrap import Container

    return Container()


def _ctx(actor: str = "system") -> Any:
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context

    return regulatory_context(_container(), actor)


# --- register and evidence pack ----------------------------------------------------------------------------


@app.command("register")
def register_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the requirements register."""
    from bauhinia.adapters.reports.evidence import load_register

    register = load_register()
    if as_json:
        print(json.dumps([{"id": r.id, "requirement": r.requirement, "source": r.source, "controls": r.controls,
                           "tests": r.tests} for r in register.requirements], indent=2))
        return
    table = Table("id", "requirement", "controls", "tests", title=f"register {register.version}")
    for r in register.requirements:
        table.add_row(r.id, r.requirement, "\n".join(r.controls), str(len(r.tests)))
    console.print(table)


def controls_report(out: Path, only: list[str] | None = None, register_file: Path | None = None,
                    pytest_args: str = "") -> int:
    """Run the marked tests and write the evidence pack; returns the exit code (0 only if all proven)."""
    from datetime import UTC, datetime

    from bauhinia.adapters.reports import evidence

    register = evidence.load_register(register_file)
    if only:
        register = reg.Register(register.version, tuple(register.get(i) for i in only))
    root = evidence.repo_root()
    console.print(f"running the tests marked with a requirement ({len(register.requirements)} requirements)...")
    run = evidence.run_marked_tests(register, only=tuple(only or ()), root=root,
                                    extra_args=tuple(pytest_args.split()) if pytest_args else ())
    found = evaluate_or_explain(register, run.results)
    doc = evidence.pack_dict(found, {
        "register_version": register.version, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": evidence.git_commit(root), "command": run.command, "seconds": round(run.seconds, 1),
        "pytest_exit_code": run.exit_code})
    paths = evidence.write_pack(out, doc)
    table = Table("", "requirement", "status", "passed", "failed", "skipped")
    for e in found:
        mark = "[green]✔[/green]" if e.status is reg.Status.PROVEN else "[red]✘[/red]"
        table.add_row(mark, e.requirement.id, e.status.value, str(e.passed), str(e.failed), str(e.skipped))
    console.print(table)
    console.print(f"evidence pack: {paths['html']} {paths['pdf']} {paths['json']}")
    bad = [e.requirement.id for e in found if e.status is not reg.Status.PROVEN]
    if bad:
        print(f"error: {len(bad)} requirement(s) without a passing test or with a failing one: {', '.join(bad)}",
              file=sys.stderr)
        return 1
    return 0


def evaluate_or_explain(register: reg.Register, results: Any) -> tuple[reg.RequirementEvidence, ...]:
    return reg.evaluate(register, results)


# --- returns ---------------------------------------------------------------------------------------------


@returns_app.command("daily")
def returns_daily(
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (Hong Kong); default today")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write daily-statement-<date>.json/.csv")] = None,
    actor: ActorOpt = "system",
) -> None:
    """The daily statement: par value outstanding, reserve value and composition, coverage, per coin."""
    from bauhinia.adapters.reports import returns
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    day = date.fromisoformat(as_of) if as_of else None
    lines = svc.daily_statement(ctx, day)
    doc = svc.statement_dict(lines, generated_at_ns=ctx.clock.now_ns(), licence_number=ctx.licence_number)
    table = Table("coin", "outstanding (minor)", "in flight", "reserve (minor)", "coverage", "composition",
                  title=f"daily statement {doc['as_of']}")
    for c in doc["coins"]:
        cov = "n/a" if c["coverage_bps"] is None else f"{c['coverage_bps'] / 100:.2f}%"
        table.add_row(c["coin"], f"{c['outstanding_minor']:,}", f"{c['redemptions_in_flight_minor']:,}",
                      f"{c['reserve_value_minor']:,}", cov,
                      ", ".join(f"{k} {v:,}" for k, v in c["composition_minor"].items()))
    console.print(table)
    if out:
        sha, _ = svc.file_return(ctx, "daily", doc["as_of"], doc)
        j, c = returns.write_return(out, f"daily-statement-{doc['as_of']}", doc, returns.daily_statement_csv(doc))
        console.print(f"wrote {j} and {c} (sha256 {sha[:16]}...)")


@returns_app.command("monthly")
def returns_monthly(
    period: Annotated[str, typer.Argument(help="YYYY-MM")],
    out: Annotated[Path, typer.Option(help="Folder for monthly-return-<period>.json/.csv")] = Path("returns"),
    actor: ActorOpt = "system",
) -> None:
    """The monthly return (JSON validated against its schema, and CSV); recorded with its SHA-256."""
    from bauhinia.adapters.reports import returns
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    year, month = reg.parse_period(period)
    doc = svc.monthly_return(ctx, year, month)
    returns.validate_monthly_return(doc)
    sha, new = svc.file_return(ctx, "monthly", doc["period"], doc) if doc["complete"] else \
        (svc.canonical_sha256(doc), False)
    j, c = returns.write_return(out, f"monthly-return-{doc['period']}", doc, returns.monthly_return_csv(doc))
    for coin in doc["coins"]:
        r, sup = coin["redemptions"], coin["supply"]
        console.print(f"{coin['coin']}: supply {sup['opening_minor']:,} -> {sup['closing_minor']:,}"
                      f"; mints {coin['mints']['count']}; redemptions {r['count']} (breaches {r['deadline_breaches']})"
                      f"; coverage {coin['reserve']['coverage_bps']}")
    console.print(f"incidents {doc['incidents']['count']}; alerts {doc['compliance']['alerts_raised']}; "
                  f"STRs {doc['compliance']['strs_filed']}")
    state = "filed" if new else ("already filed" if doc["complete"] else "not filed: the month is still running")
    console.print(f"wrote {j} and {c} (schema-valid, sha256 {sha[:16]}..., {state})")


# --- incidents -------------------------------------------------------------------------------------------


def _print_incident(d: dict[str, Any]) -> None:
    console.print(f"[bold]{d['incident_id']}[/bold] {d['kind']} ({d['severity']}) {d['coin']}: {d['summary']}")
    console.print(f"  state {d['state']}; notify by {d['notify_by']}: {d['notification']}"
                  + (f" ({d['notification_ref']})" if d["notification_ref"] else ""))
    for e in d["timeline"]:
        console.print(f"  {e['at']}  {e['actor']:<12} {e['action']:<9} {e['text']}")


@incident_app.command("open")
def incident_open(
    kind: Annotated[str, typer.Argument(help=", ".join(k.value for k in reg.IncidentKind))],
    coin: Annotated[str, typer.Argument(help="BCNH, BHKD or ALL")],
    summary: Annotated[str, typer.Argument()],
    severity: Annotated[str | None, typer.Option(help="high, medium or low (default by kind)")] = None,
    actor: ActorOpt = "system",
) -> None:
    """Register an incident; prints when the regulator must be notified."""
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    inc = svc.open_incident(ctx, reg.parse_kind(kind), coin.upper(), summary,
                            severity=reg.Severity(severity) if severity else None)
    _print_incident(svc.incident_dict(inc, ctx.clock.now_ns()))


@incident_app.command("notify")
def incident_notify(incident_id: str, reference: str, actor: ActorOpt = "system") -> None:
    """Record that the regulator was notified, with the notification's reference."""
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    _print_incident(svc.incident_dict(svc.notify_regulator(ctx, incident_id, reference), ctx.clock.now_ns()))


@incident_app.command("update")
def incident_update(incident_id: str, text: str, actor: ActorOpt = "system") -> None:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    _print_incident(svc.incident_dict(svc.update_incident(ctx, incident_id, text), ctx.clock.now_ns()))


@incident_app.command("close")
def incident_close(incident_id: str, resolution: str, actor: ActorOpt = "system") -> None:
    from bauhinia.services import regulatory as svc

    ctx = _ctx(actor)
    _print_incident(svc.incident_dict(svc.close_incident(ctx, incident_id, resolution), ctx.clock.now_ns()))


@incident_app.command("list")
def incident_list(state: Annotated[str | None, typer.Option(help="open or closed")] = None) -> None:
    """Every incident with its notification status (reserves incidents are taken over first)."""
    from bauhinia.services import regulatory as svc

    ctx = _ctx()
    svc.sync_reserve_incidents(ctx)
    now = ctx.clock.now_ns()
    table = Table("incident", "kind", "sev", "coin", "state", "notify by", "notification")
    for inc in ctx.store.list_incidents(state):
        d = svc.incident_dict(inc, now)
        colour = "red" if d["notification"] in ("overdue", "notified_late") else "green"
        table.add_row(d["incident_id"], d["kind"], d["severity"], d["coin"], d["state"], d["notify_by"],
                      f"[{colour}]{d['notification']}[/{colour}]")
    console.print(table)


@incident_app.command("show")
def incident_show(incident_id: str) -> None:
    from bauhinia.services import regulatory as svc

    ctx = _ctx()
    _print_incident(svc.incident_dict(ctx.store.get_incident(incident_id), ctx.clock.now_ns()))


@incident_app.command("detect")
def incident_detect(actor: ActorOpt = "system") -> None:
    """Open the incidents the books show: reserve shortfalls and redemptions past their deadline."""
    from bauhinia.services import regulatory as svc

    container = _container()
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context

    ctx = regulatory_context(container, actor)
    from bauhinia.services.issuance import redemption_tracker

    ages: list[Any] = redemption_tracker(container.issuance)  # no switch skips the deadline control
    opened = svc.detect_incidents(ctx, ages)
    console.print(f"{len(opened)} incident(s) opened")
    for inc in opened:
        _print_incident(svc.incident_dict(inc, ctx.clock.now_ns()))


# --- records ---------------------------------------------------------------------------------------------


@app.command("export-records")
def export_records(
    archive: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz)")],
) -> None:
    """Export the records for auditors: audit log, retention dates, incidents, returns, register + manifest."""
    from bauhinia.adapters.reports import records

    container = _container()
    manifest = records.export_records(container.engine, archive, container.clock.now_ns())
    console.print(f"wrote {archive}: {len(manifest['files'])} files, listing sha256 {manifest['listing_sha256']}")
    console.print(json.dumps(manifest["retention"], indent=2))


def verify_export_cmd(archive: Path) -> None:
    """Check an export archive offline: every file's hash against the manifest, then the audit chain."""
    from bauhinia.adapters.reports import records

    report = records.verify_archive(archive)
    print(json.dumps(report, indent=2))
    if not report["ok"]:
        raise BauhiniaError(f"export {archive} fails verification: {'; '.join(report['problems'][:5])}",
                            code="export_invalid")
