"""`bauhinia compliance ...`: onboarding (CDD + screening), re-screening, false-positive reviews, retention,
monitoring over event files, cases (show, assign, note, escalate, close), STR export and four-eyes freezes.

The database is the configured one (BAUHINIA_DATABASE_URL, or the embedded SQLite file). Lists come from
--lists / BAUHINIA_SANCTIONS_DIR; the acting person from --actor / BAUHINIA_ACTOR.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import monitoring as mon
from bauhinia.domain.errors import ValidationError
from bauhinia.entrypoints.formatting import human_duration, progress_bar, working
from bauhinia.services.regulatory import hk_today

app = typer.Typer(help="Due diligence, screening at onboarding, monitoring, cases and STRs.", no_args_is_help=True)
case_app = typer.Typer(help="One case: show, assign, note, escalate, close.", no_args_is_help=True)
freeze_app = typer.Typer(help="Wallet freezes: request, approve (a second person), reject.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(freeze_app, name="freeze")
console = Console()

events_file_lines_max = 1_000_000

ListsOpt = Annotated[
    Path | None,
    typer.Option("--lists", help="Folder of sanctions lists (default: the version `bauhinia screening update-lists`"
                 " made current, else the snapshot shipped in the package).", envvar="BAUHINIA_SANCTIONS_DIR"),
]
BlacklistOpt = Annotated[
    Path | None,
    typer.Option("--blacklist", help="Issuer blacklist (address[,reason] a line).", envvar="BAUHINIA_BLACKLIST"),
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who is acting (recorded in the audit log).",
                                       envvar="BAUHINIA_ACTOR")]
DEFAULT_LISTS: Path | None = None  # resolved at run time by _lists_dir


def _repo() -> Any:
    from bauhinia.adapters.store.compliance_repo import ComplianceRepository
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return ComplianceRepository(engine, pepper=_pepper())


def _pepper() -> str:
    from bauhinia.bootstrap import load_settings

    return load_settings().resolved_cdd_pepper()


def _lists_dir(lists: Path | None) -> Path:
    from bauhinia.entrypoints.cli.screening import _lists_dir as lists_dir

    return lists_dir(lists)


def _screener(lists: Path | None, blacklist: Path | None) -> Any:
    from bauhinia.adapters.screening.screener import ListScreener

    started = time.perf_counter()
    with working("loading and indexing the sanctions lists"):
        screener = ListScreener(_lists_dir(lists), blacklist)
    console.print(f"[dim]lists {screener.list_version}: {screener.matcher.list_names} names indexed in "
                  f"{human_duration(time.perf_counter() - started)}[/dim]")
    return screener


def _today(text: str | None) -> date:
    if not text:
        return hk_today(time.time_ns())
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"not an ISO date: {text!r}", code="bad_date") from None


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ValidationError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None


# ---------------------------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------------------------


@app.command("onboard")
def onboard(
    file: Annotated[Path, typer.Argument(help="A customer JSON object (or a list of them).")],
    lists: ListsOpt = DEFAULT_LISTS,
    blacklist: BlacklistOpt = None,
    actor: ActorOpt = "cli",
    today: Annotated[str | None, typer.Option(help="Assessment date (default: today).")] = None,
    risk_rules: Annotated[Path | None, typer.Option(help="Risk rules JSON (country lists, points...).")] = None,
) -> None:
    """Due diligence and screening: a sanctioned party is refused, a possible match held for an officer."""
    from bauhinia.services import compliance as svc

    data = _read_json(file)
    items = data if isinstance(data, list) else [data]
    customers = [cdd.customer_from_mapping(item, _pepper()) for item in items]
    rules = cdd.risk_rules_from_mapping(_read_json(risk_rules)) if risk_rules else cdd.DEFAULT_RISK_RULES
    repo, screener = _repo(), _screener(lists, blacklist)
    for customer in customers:
        result = svc.onboard_customer(repo, screener, customer, actor=actor, now_ns=time.time_ns(),
                                      today=_today(today), rules=rules)
        a = result.assessment
        colour = {"accepted": "green", "held": "yellow", "refused": "red"}[result.decision.value]
        console.print(f"{customer.customer_id} {customer.display_name}: [{colour}]{result.decision.value}[/{colour}]"
                      f" - {result.reason}")
        console.print(f"  risk {a.rating.value} ({a.points} points), next review {a.next_review_on}"
                      + (f", EDD: {', '.join(f.value for f in a.edd_flags)}" if a.edd_flags else ""))
        for reason in a.reasons:
            console.print(f"    +{reason.points} {reason.rule}: {reason.detail}")
        for owner in result.owners:
            console.print(f"  beneficial owner {owner.party_id}: {owner.effective_share_bps / 100:.2f}% "
                          f"({owner.basis})")


@app.command("customers")
def customers(
    status: Annotated[str | None, typer.Option(help="accepted, held or refused.")] = None,
) -> None:
    """Customers with their screening status, risk rating and next review date."""
    wanted = cdd.OnboardingDecision(status) if status else None
    table = Table("customer", "name", "status", "risk", "next review", "retention until")
    for s in _repo().list_customers(wanted):
        table.add_row(s.customer.customer_id, s.customer.display_name, s.status.value, s.risk_rating.value,
                      str(s.next_review_on), str(s.retention_until or "-"))
    console.print(table)


@app.command("customer")
def customer(customer_id: Annotated[str, typer.Argument()]) -> None:
    """One customer's CDD record: parties, beneficial owners, the latest risk assessment and screenings."""
    repo = _repo()
    s = repo.get_customer(customer_id)
    console.print(f"{customer_id} ({s.customer.kind.value}): {s.status.value} - {s.status_reason}")
    for p in s.customer.parties:
        docs = ", ".join(f"{d.doc_type.value} {d.number_masked}" for d in p.documents)
        console.print(f"  party {p.party_id}: {' / '.join(p.names)} {docs}")
    for owner in repo.beneficial_owners(customer_id):
        console.print(f"  beneficial owner {owner['party_id']}: {owner['effective_share_bps'] / 100:.2f}%")
    assessment = repo.latest_assessment(customer_id)
    console.print(f"  risk {assessment['rating']} ({assessment['points']} points), next review "
                  f"{assessment['next_review_on']}")
    for r in assessment["reasons"]:
        console.print(f"    +{r['points']} {r['rule']}: {r['detail']}")
    for record in repo.screenings(customer_id)[-len(s.customer.parties):]:
        best = record.hits[0] if record.hits else None
        console.print(f"  screened {record.party_id} ({record.context}, lists {record.list_version}): "
                      f"{record.decision.value}" + (f" {best.entity_id} {best.score:.2f}" if best else ""))


@app.command("rescreen")
def rescreen(
    lists: ListsOpt = DEFAULT_LISTS,
    blacklist: BlacklistOpt = None,
    actor: ActorOpt = "cli",
    force: Annotated[bool, typer.Option(help="Re-screen even if the lists did not change.")] = False,
) -> None:
    """Screen every customer again when the lists changed; customers now listed are refused or held."""
    from bauhinia.services import compliance as svc

    screener = _screener(lists, blacklist)
    with progress_bar("re-screening customers") as progress:
        result = svc.rescreen_all(_repo(), screener, actor=actor, now_ns=time.time_ns(), force=force,
                                  progress=progress)
    if result.skipped:
        console.print(f"lists {result.list_version} unchanged since the last re-screen; nothing to do")
        return
    console.print(f"re-screened {result.screened} customers against lists {result.list_version}")
    for change in result.changes:
        console.print(f"  {change.customer_id}: {change.before.value} -> {change.after.value} ({change.reason})")


@app.command("review-hit")
def review_hit(
    customer_id: Annotated[str, typer.Argument()],
    entity_id: Annotated[str, typer.Argument(help="The listed entity found to be someone else.")],
    reason: Annotated[str, typer.Option(help="Why it is a false positive.")],
    lists: ListsOpt = DEFAULT_LISTS,
    blacklist: BlacklistOpt = None,
    actor: ActorOpt = "cli",
) -> None:
    """Record a reviewed false positive (remembered for this customer and this listed record)."""
    from bauhinia.services import compliance as svc

    change = svc.review_false_positive(_repo(), _screener(lists, blacklist), customer_id, entity_id,
                                       reviewer=actor, reason=reason, now_ns=time.time_ns())
    console.print(f"{customer_id}: {entity_id} reviewed as a false positive"
                  + (f"; status {change.before.value} -> {change.after.value}" if change else ""))


@app.command("end-relationship")
def end_relationship(
    customer_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Date the relationship ended (default: today).")] = None,
    actor: ActorOpt = "cli",
) -> None:
    until = _repo().end_relationship(customer_id, _today(on), actor, time.time_ns())
    console.print(f"{customer_id}: relationship ended; records kept until {until}")


@app.command("delete-customer")
def delete_customer(
    customer_id: Annotated[str, typer.Argument()],
    actor: ActorOpt = "cli",
    today: Annotated[str | None, typer.Option(help="Today's date (default: the real one).")] = None,
) -> None:
    """Delete a customer's CDD records: refused before 5 years after the relationship ended."""
    from bauhinia.services import compliance as svc

    svc.delete_customer(_repo(), customer_id, actor=actor, today=_today(today), now_ns=time.time_ns())
    console.print(f"{customer_id}: records deleted")


# ---------------------------------------------------------------------------------------------------------------
# Monitoring and alerts
# ---------------------------------------------------------------------------------------------------------------


def _read_events(path: Path) -> list[mon.MonitoredEvent]:
    if not path.is_file():
        raise ValidationError(f"{path}: file not found")
    events: list[mon.MonitoredEvent] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > events_file_lines_max:
                raise ValidationError(f"{path}: more than {events_file_lines_max} lines")
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}: line {lineno} is not JSON ({exc.msg})") from None
            try:
                events.append(mon.event_from_mapping(data))
            except ValidationError as exc:
                raise ValidationError(f"{path}: line {lineno}: {exc.detail}") from None
    return events


@app.command("monitor")
def monitor(
    file: Annotated[Path, typer.Argument(help="Events, one JSON object a line (event_id, kind, at_ns, "
                                             "amount_hkd_minor, customer_id, from_address, to_address).")],
    lists: ListsOpt = DEFAULT_LISTS,
    blacklist: BlacklistOpt = None,
    config: Annotated[Path | None, typer.Option(help="Rule thresholds JSON.")] = None,
    no_cases: Annotated[bool, typer.Option("--no-cases", help="Raise alerts without opening cases.")] = False,
) -> None:
    """Run the monitoring rules over a batch of events; new alerts open (or join) a case per subject."""
    from bauhinia.services import compliance as svc

    events = _read_events(file)
    cfg = mon.monitoring_config_from_mapping(_read_json(config)) if config else None
    run = svc.run_monitoring(_repo(), _screener(lists, blacklist), events, now_ns=time.time_ns(), config=cfg,
                             open_cases=not no_cases)
    console.print(f"{len(events)} events ({run.events_new} new), {len(run.alerts)} new alerts")
    for a in run.alerts:
        console.print(f"  [{a.severity.value}] {a.alert_id} {a.rule.value} {a.subject}: {a.summary}")
        console.print(f"      events {', '.join(a.event_ids[:10])}; " + ", ".join(f"{k}={v}" for k, v in a.facts))
    for case_id in run.cases_opened:
        console.print(f"  opened {case_id}")
    for case_id in run.cases_updated:
        console.print(f"  updated {case_id}")


@app.command("alerts")
def alerts(without_case: Annotated[bool, typer.Option(help="Only alerts not in a case.")] = False) -> None:
    table = Table("alert", "rule", "severity", "subject", "case", "summary")
    for a, case_id in _repo().list_alerts(without_case):
        table.add_row(a.alert_id, a.rule.value, a.severity.value, a.subject, case_id or "-", a.summary)
    console.print(table)


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------


@app.command("cases")
def cases(state: Annotated[str | None, typer.Option(help="open, assigned, escalated or closed.")] = None) -> None:
    """Cases with their state, severity, subject and assignee."""
    wanted = cs.CaseState(state) if state else None
    table = Table("case", "state", "severity", "subject", "assignee", "alerts", "close reason")
    for c in _repo().list_cases(wanted):
        table.add_row(c.case_id, c.state.value, c.severity.value, c.subject, c.assignee or "-",
                      str(len(c.alert_ids)), c.close_reason.value if c.close_reason else "-")
    console.print(table)


@app.command("open-case")
def open_case(
    alert_ids: Annotated[list[str], typer.Argument(help="Alerts (one subject) to open a case from.")],
    actor: ActorOpt = "cli",
) -> None:
    from bauhinia.services import compliance as svc

    case = svc.open_case_from_alerts(_repo(), alert_ids, actor=actor, now_ns=time.time_ns())
    console.print(f"opened {case.case_id} for {case.subject}")


@case_app.command("show")
def case_show(case_id: Annotated[str, typer.Argument()]) -> None:
    """The case, its alerts (why each fired) and its full history."""
    repo = _repo()
    c = repo.get_case(case_id)
    console.print(f"{c.case_id}: {c.state.value}, severity {c.severity.value}, subject {c.subject}, "
                  f"assignee {c.assignee or '-'}" + (f", closed as {c.close_reason.value}" if c.close_reason else ""))
    for a in repo.get_alerts(c.alert_ids):
        console.print(f"  alert {a.alert_id} {a.rule.value}: {a.summary}")
        console.print(f"      events {', '.join(a.event_ids[:10])}; " + ", ".join(f"{k}={v}" for k, v in a.facts))
    for f in repo.list_freezes(case_id):
        console.print(f"  freeze {f.request_id}: {', '.join(f.addresses)} {f.state.value} (requested by "
                      f"{f.requested_by}, decided by {f.decided_by or '-'}) {f.chain_tx_hash}")
    for e in repo.case_events(case_id):
        details = "; ".join(f"{k}={v}" for k, v in e.details)
        console.print(f"  #{e.seq} {cs.iso_utc(e.at_ns)} {e.actor} {e.action.value} {details}")


@case_app.command("assign")
def case_assign(case_id: Annotated[str, typer.Argument()], assignee: Annotated[str, typer.Argument()],
                actor: ActorOpt = "cli") -> None:
    from bauhinia.services import compliance as svc

    c = svc.assign_case(_repo(), case_id, assignee, actor=actor, now_ns=time.time_ns())
    console.print(f"{c.case_id}: {c.state.value}, assigned to {c.assignee}")


@case_app.command("note")
def case_note(case_id: Annotated[str, typer.Argument()], text: Annotated[str, typer.Argument()],
              actor: ActorOpt = "cli") -> None:
    from bauhinia.services import compliance as svc

    c = svc.note_case(_repo(), case_id, text, actor=actor, now_ns=time.time_ns())
    console.print(f"{c.case_id}: note added ({c.seq} events)")


@case_app.command("escalate")
def case_escalate(case_id: Annotated[str, typer.Argument()], to: Annotated[str, typer.Option(help="Escalate to.")],
                  reason: Annotated[str, typer.Option(help="Why.")], actor: ActorOpt = "cli") -> None:
    from bauhinia.services import compliance as svc

    c = svc.escalate_case(_repo(), case_id, to, reason, actor=actor, now_ns=time.time_ns())
    console.print(f"{c.case_id}: escalated to {c.escalated_to}")


@case_app.command("close")
def case_close(
    case_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help=", ".join(r.value for r in cs.CloseReason))],
    note: Annotated[str, typer.Option(help="Why, in words.")],
    actor: ActorOpt = "cli",
) -> None:
    from bauhinia.services import compliance as svc

    c = svc.close_case(_repo(), case_id, cs.parse_close_reason(reason), note, actor=actor, now_ns=time.time_ns())
    console.print(f"{c.case_id}: closed ({c.close_reason.value if c.close_reason else ''})")


@app.command("str-export")
def str_export(
    case_id: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option("--out", help="Folder for <report>.json and <report>.pdf.")],
    actor: ActorOpt = "cli",
    institution: Annotated[str, typer.Option(help="Reporting institution name.",
                                             envvar="BAUHINIA_INSTITUTION_NAME")] = "Bauhinia Issuer Limited",
) -> None:
    """Export the case's suspicious transaction report (JSON validated against its schema, and PDF)."""
    from bauhinia.adapters.reports.str_pdf import write_str
    from bauhinia.services import compliance as svc

    paths: list[Path] = []

    def write(report: dict[str, Any]) -> str:
        json_path, pdf_path, sha256 = write_str(report, out)
        paths.extend([json_path, pdf_path])
        return sha256

    report, sha256 = svc.export_str(_repo(), case_id, reporter=actor, institution={"name": institution},
                                    now_ns=time.time_ns(), write=write)
    console.print(f"{report['report_id']}: {len(report['grounds'])} grounds, {len(report['transactions'])} "
                  f"transactions, sha256 {sha256}")
    for path in paths:
        console.print(f"  wrote {path}")


# ---------------------------------------------------------------------------------------------------------------
# Freezes
# ---------------------------------------------------------------------------------------------------------------


@freeze_app.command("request")
def freeze_request(
    case_id: Annotated[str, typer.Argument()],
    addresses: Annotated[list[str], typer.Argument(help="Wallet addresses to freeze.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    actor: ActorOpt = "cli",
) -> None:
    """Request a freeze (as the operator): an approval request; it goes to the chain only after a second person
    approves it."""
    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    r, sub = controls.request_freeze(Container().compliance_gate, case_id, list(addresses), reason,
                                     _identity.current(), time.time_ns())
    approval = sub.request.id if sub.request is not None else "executed"
    console.print(f"{r.request_id}: freeze of {', '.join(r.addresses)} requested by {r.requested_by}; "
                  f"approval {approval}: a second person must approve it")


def _freeze_approval(container: Any, request_id: str) -> str:
    from bauhinia.services import controls

    container.compliance.get_freeze(request_id)  # not found: one line
    return controls.open_approval_for(container.approvals, "freeze", "freeze_request", request_id)


@freeze_app.command("approve")
def freeze_approve(
    request_id: Annotated[str, typer.Argument()],
    actor: ActorOpt = "cli",
    note: Annotated[str, typer.Option(help="Approval note.")] = "",
) -> None:
    """Approve as the operator (a second person, never the requester): the approvals service then freezes the
    addresses on every coin's chain; if the chain refuses, the approval stays open with the error."""
    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    container = Container()
    done = controls.approve(container.approvals, _freeze_approval(container, request_id), _identity.current(),
                            note)
    r = container.compliance.get_freeze(request_id)
    txs = ", ".join((done.result or {}).get("tx_hashes", []) or [])
    console.print(f"{r.request_id}: {r.state.value} by {r.decided_by}; approval {done.id} {done.status.value}"
                  + (f"; on chain {txs}" if txs else ""))


@freeze_app.command("reject")
def freeze_reject(
    request_id: Annotated[str, typer.Argument()],
    note: Annotated[str, typer.Option(help="Why not.")],
    actor: ActorOpt = "cli",
) -> None:
    """Reject as the operator (not the requester): the approval and the freeze request are closed."""
    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    container = Container()
    controls.reject(container.approvals, _freeze_approval(container, request_id), _identity.current(), note)
    r = container.compliance.get_freeze(request_id)
    console.print(f"{r.request_id}: {r.state.value} by {r.decided_by}")


# --- Regulatory evidence (issue 9; implemented in entrypoints/cli/regulatory.py) ------------------------------


@app.command("controls-report")
def controls_report(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for evidence.html, evidence.pdf, evidence.json (default <data dir>/evidence, which "
        "the console's Controls page reads)")] = None,
    requirement: Annotated[list[str] | None, typer.Option("--requirement", help="Only these ids (repeatable)")] = None,
    register: Annotated[Path | None, typer.Option("--register", help="Another register file")] = None,
    pytest_args: Annotated[str, typer.Option("--pytest-args", help="Extra pytest arguments")] = "",
) -> None:
    """Run the tests marked with a requirement and write the evidence pack; non-zero unless all are proven."""
    from bauhinia.bootstrap import load_settings
    from bauhinia.entrypoints.cli.regulatory import controls_report as run

    code = run(out or load_settings().data_dir / "evidence", requirement or None, register, pytest_args)
    if code:
        raise typer.Exit(code)
