"""The demo's compliance scene, called by `bauhinia demo` after the issuance lifecycle:

    from bauhinia.entrypoints.compliance_demo import compliance_demo_steps
    compliance_demo_steps(issuer, console)          # issuer from entrypoints.scenario.make_issuer

It screens the demo's customers (due diligence and sanctions screening against the UN and OFAC lists shipped in
the package), shows a Chinese name matched across Simplified, Traditional and romanised forms and a prospective customer
refused for it, runs transaction monitoring over the demo's own flows plus a planted structuring pattern, and
works one alert into a case: assigned, noted, reported (STR, JSON and PDF) and closed. It returns the figures it
showed so a test can check them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bauhinia.domain import cases as cs
from bauhinia.domain import cdd
from bauhinia.domain import monitoring as mon
from bauhinia.domain.errors import NotFoundError
from bauhinia.domain.money import Currency
from bauhinia.services import compliance as svc
from bauhinia.services import issuance_compliance as gate_svc

DEMO_OFFICER = "officer:chan"
DEMO_MLRO = "mlro:wong"
HOUR_NS = 3_600 * 10**9
# The names screened on screen: one listed person in three writings, a clean customer for contrast.
CHINESE_NAME_PROBES = ("李方伟", "李方偉", "Li Fang-wei", "华信船务")


def _ctx(issuer: Any) -> Any:
    import dataclasses

    ctx = issuer.ctx
    return ctx if ctx.compliance is not None else dataclasses.replace(ctx, compliance=issuer.container.compliance_gate,
                                                                      events=[])


def _cdd_record(customer_id: str, name: str, today: date) -> cdd.Customer:
    company = name.rstrip(".").lower().endswith(("ltd", "limited", "co"))
    party: cdd.Party = (cdd.LegalPerson("p1", (name,), "HK", industry="trading_company", listed_on_exchange=True)
                        if company else cdd.NaturalPerson("p1", (name,), nationality="HK"))
    return cdd.Customer(customer_id, "p1", (party,), identity_verified=True, relationship_started_on=today,
                        expected_monthly_volume_hkd_minor=2_000_000_00, expected_monthly_transactions=20)


def _hk(amount_hkd_minor: int) -> str:
    return f"HK${amount_hkd_minor // 100:,}.{amount_hkd_minor % 100:02d}"


def compliance_demo_steps(issuer: Any, console: Console, *, first_step: int = 9) -> dict[str, Any]:
    """Screen the customers, show the Chinese-name matching, monitor the flows, handle one alert into a case."""
    container = issuer.container
    ctx = _ctx(issuer)
    gate = ctx.compliance
    store = gate.store
    now_ns = ctx.clock.now_ns()
    today = datetime.fromtimestamp(now_ns // 1_000_000_000).date()
    out: dict[str, Any] = {}

    def step(n: int, text: str) -> None:
        console.print(f"\n[bold cyan]{first_step + n}.[/bold cyan] [bold]{text}[/bold]")

    step(0, "Due diligence and sanctions screening of the demo's customers (packaged UN + OFAC lists)")
    screener = container.screener  # loads and indexes the lists once
    console.print(f"lists version {screener.list_version}: {screener.matcher.list_names:,} listed names indexed")
    decisions: dict[str, str] = {}
    for holder in issuer.holders.values():
        try:
            stored = store.get_customer(holder.customer_id)
            decisions[holder.customer_id] = stored.status.value
            rating = stored.risk_rating.value
        except NotFoundError:
            result, _record = gate_svc.onboard_with_due_diligence(
                ctx, _cdd_record(holder.customer_id, holder.name, today), today=today, actor=DEMO_OFFICER)
            decisions[holder.customer_id] = result.decision.value
            rating = result.assessment.rating.value
        colour = "green" if decisions[holder.customer_id] == "accepted" else "red"
        console.print(f"  {holder.name}: [{colour}]{decisions[holder.customer_id]}[/{colour}] (no list match), "
                      f"risk {rating}; wallet {holder.wallet[:10]}... "
                      f"{screener.screen_wallet(holder.wallet).decision.value}")
    out["customers"] = decisions

    step(1, "Chinese names across scripts and romanisations")
    table = Table()
    for col in ("name screened", "listed entity", "listed name", "score", "why"):
        table.add_column(col)
    probes: dict[str, float] = {}
    for name in CHINESE_NAME_PROBES:
        hits = screener.screen_name(name)
        top = hits[0] if hits else None
        probes[name] = top.score if top else 0.0
        table.add_row(name, top.entity_id if top else "-", top.matched_name if top else "-",
                      f"{top.score:.2f}" if top else "0.00", (top.explanation[0] if top else "no match")[:70])
    console.print(table)
    out["probes"] = probes
    prospect = cdd.Customer("prospect-li", "p1", (cdd.NaturalPerson("p1", ("李方偉", "LI Fang Wei"),
                                                                    nationality="CN"),),
                            identity_verified=True)
    try:
        result, _ = gate_svc.onboard_with_due_diligence(ctx, prospect, today=today, actor=DEMO_OFFICER)
        decision = result.decision.value
        reason = result.reason
    except Exception as exc:  # already onboarded in an earlier run of the scene
        decision, reason = store.get_customer("prospect-li").status.value, str(exc)
    console.print(f"prospective customer 李方偉 (LI Fang Wei): [red]{decision}[/red] - {reason[:140]}")
    out["prospect"] = decision

    step(2, "Transaction monitoring over the demo's flows and a planted structuring pattern")
    events: list[mon.MonitoredEvent] = []
    for s in ctx.store.subscriptions():
        amount = gate.hkd_minor(int(s.amount_minor), Currency(s.fiat))
        events.append(mon.MonitoredEvent(f"sub:{s.seq}", mon.EventKind.FIAT_IN, int(s.received_at_ns), amount,
                                         customer_id=s.customer_id, counterparty="bank transfer"))
        if s.status == "minted" and s.wallet:
            events.append(mon.MonitoredEvent(f"mint:{s.seq}", mon.EventKind.MINT, int(s.updated_at_ns), amount,
                                             customer_id=s.customer_id, to_address=s.wallet))
    for r in ctx.store.redemptions():
        amount = gate.hkd_minor(int(r.amount_minor), Currency(r.fiat))
        events.append(mon.MonitoredEvent(f"rdm:{r.seq}", mon.EventKind.REDEEM, int(r.requested_at_ns), amount,
                                         customer_id=r.customer_id, from_address=r.wallet))
    own_flows = len(events)
    planted = "kln-imp" if "kln-imp" in issuer.holders else next(iter(issuer.holders), "walk-in")
    for i, amount in enumerate((7_950_00, 7_880_00, 7_990_00, 7_700_00)):
        events.append(mon.MonitoredEvent(f"cash:{planted}:{i}", mon.EventKind.FIAT_IN, now_ns + i * 5 * HOUR_NS,
                                         amount, customer_id=planted, counterparty=f"cash deposit branch {i + 1}"))
    run = svc.run_monitoring(store, gate.screener, events, now_ns=now_ns + 24 * HOUR_NS, actor="monitoring")
    console.print(f"{own_flows} events from the demo's flows + 4 planted cash deposits: {len(run.alerts)} alert(s)")
    for alert in run.alerts:
        console.print(f"  [yellow]{alert.rule.value}[/yellow] on {alert.subject} ({alert.severity.value}): "
                      f"{alert.summary}")
    out["alerts"] = [a.rule.value for a in run.alerts]

    step(3, "One alert handled: case assigned, noted, reported to the JFIU (STR) and closed")
    # The case worked is the one on the planted deposits' alert, so the STR names the customer who made them.
    str_alert = next((a for a in run.alerts if a.subject == planted and a.rule is mon.RuleName.STRUCTURING),
                     next((a for a in run.alerts if a.subject == planted), None))
    open_cases = [c for c in store.list_cases() if c.is_open]
    case_id = next((c.case_id for c in open_cases if str_alert is not None and str_alert.alert_id in c.alert_ids),
                   next((c.case_id for c in open_cases if c.subject == planted), None))
    out["alert"] = {"rule": str_alert.rule.value, "subject": str_alert.subject} if str_alert else None
    if case_id is None:
        console.print("no open case")
        out["case"] = None
        return out
    t = now_ns + 25 * HOUR_NS
    svc.assign_case(store, case_id, DEMO_OFFICER, actor=DEMO_MLRO, now_ns=t)
    svc.note_case(store, case_id, "four cash deposits of HK$7,700-7,990 in 15 hours at four branches; "
                  "customer gave no business reason", actor=DEMO_OFFICER, now_ns=t + 1)
    from bauhinia.adapters.reports.str_pdf import write_str

    out_dir = container.settings.data_dir / "strs"
    written: list[str] = []

    def write(report: dict[str, Any]) -> str:
        json_path, pdf_path, sha256 = write_str(report, out_dir)
        written.extend([str(json_path), str(pdf_path)])
        return sha256

    report, sha256 = svc.export_str(store, case_id, reporter=DEMO_OFFICER,
                                    institution={"name": container.settings.issuer_name}, now_ns=t + 2, write=write)
    case = svc.close_case(store, case_id, cs.CloseReason.STR_FILED, "STR filed; relationship under review",
                          actor=DEMO_OFFICER, now_ns=t + 3)
    total = sum(e.amount_hkd_minor for e in events if e.event_id.startswith(f"cash:{planted}"))
    console.print(f"case {case_id} on {case.subject}: {len(store.case_events(case_id))} events, "
                  f"{case.state.value} ({case.close_reason.value if case.close_reason else '-'}); "
                  f"planted deposits total {_hk(total)}")
    console.print(f"STR {report['report_id']} sha256 {sha256[:16]}...: {', '.join(written)}")
    out["case"] = {"case_id": case_id, "subject": case.subject, "state": case.state.value, "str": report["report_id"],
                   "files": written, "report": report}
    return out
