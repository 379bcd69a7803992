"""Regulatory use cases: the daily statement, the monthly return, the incidents register with its regulator
notification step, and the register of requirements with the evidence the tests gave.

Figures come from the books, never from a second bookkeeping: coins outstanding, redemptions in flight and reserve
cash from the ledger; reserve assets from the reserves store; mints and redemptions from the issuance store;
alerts, cases and STRs from the compliance tables. Incidents that began in the reserves area (a reconciliation
break) are taken over by id and given their notification deadline (composition, not a copy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bauhinia.domain import issuance as iss
from bauhinia.domain import regulatory as reg
from bauhinia.domain import reserves as rsv
from bauhinia.domain.calendar import HK_TZ, from_ns, to_ns
from bauhinia.domain.errors import NotFoundError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.ports import AdjustmentsJournal, Clock, RegulatoryStore, ReservesStore
from bauhinia.services import reserves as reserves_svc

FIATS = (Currency.CNH, Currency.HKD)
RETURN_FORMAT = "bauhinia-monthly-return"
RETURN_VERSION = 1
redemptions_read_max = 1_000_000


@dataclass
class RegulatoryContext:
    """What the regulatory commands need, wired by bootstrap (Container.regulatory)."""

    store: RegulatoryStore
    ledger: Any  # LedgerReader: account(id).posted / .available
    issuance: Any  # SqlIssuanceStore: redemptions(...)
    reserves: ReservesStore
    clock: Clock
    licence_number: str = ""
    actor: str = "system"
    adjustments: AdjustmentsJournal | None = None


def _now(ctx: RegulatoryContext) -> int:
    return ctx.clock.now_ns()


def hk_today(now_ns: int) -> date:
    return from_ns(now_ns).astimezone(HK_TZ).date()


def hk_midnight_ns(day: date) -> int:
    return to_ns(datetime.combine(day, time(0), HK_TZ))


# ---------------------------------------------------------------------------------------------------------
# Daily statement
# ---------------------------------------------------------------------------------------------------------


def _posted(ctx: RegulatoryContext, fiat: Currency, book: iss.Book) -> int:
    try:
        return int(ctx.ledger.account(iss.book_account_id(fiat, book)).posted)
    except NotFoundError:
        return 0


def _cash_available(ctx: RegulatoryContext, fiat: Currency) -> int:
    try:
        return int(ctx.ledger.account(iss.book_account_id(fiat, iss.Book.RESERVE_CASH)).available)
    except NotFoundError:
        return 0


def daily_statement(ctx: RegulatoryContext, as_of: date | None = None) -> list[reg.StatementLine]:
    """Per coin: par value outstanding (frozen included), redemptions in flight, reserve value and composition
    (eligible assets after haircuts, plus reserve cash at bank available), coverage."""
    as_of = as_of or hk_today(_now(ctx))
    market = ctx.reserves.market_data(as_of)
    out = []
    for fiat in FIATS:
        coin = fiat.coin
        pool = rsv.value_pool(coin, ctx.reserves.list_assets(coin), market)
        composition = {k.value: v for k, v in pool.composition_minor().items()}
        cash = _cash_available(ctx, fiat)
        composition["cash_at_bank"] = composition.get("cash_at_bank", 0) + cash
        line = reg.statement_line(
            coin.value, fiat.value, as_of.isoformat(),
            outstanding_minor=_posted(ctx, fiat, iss.Book.COINS_OUTSTANDING),
            redemptions_in_flight_minor=_posted(ctx, fiat, iss.Book.REDEMPTIONS_PAYABLE),
            composition_minor=composition,
        )
        line.check_invariants()
        out.append(line)
    return out


def statement_dict(lines: Sequence[reg.StatementLine], *, generated_at_ns: int, licence_number: str) -> dict[str, Any]:
    return {"format": "bauhinia-daily-statement", "version": 1, "as_of": lines[0].as_of if lines else "",
            "licence_number": licence_number, "generated_at": from_ns(generated_at_ns).isoformat(),
            "coins": [{"coin": x.coin, "currency": x.fiat, "outstanding_minor": x.outstanding_minor,
                       "redemptions_in_flight_minor": x.redemptions_in_flight_minor,
                       "reserve_value_minor": x.reserve_value_minor, "composition_minor": x.composition_minor,
                       "coverage_bps": x.coverage_bps} for x in lines]}


# ---------------------------------------------------------------------------------------------------------
# Monthly return
# ---------------------------------------------------------------------------------------------------------


def _outstanding_at(current_minor: int, mints: Iterable[tuple[int, int, int]], burns: Iterable[tuple[int, int]],
                    t_ns: int) -> int:
    """Coins outstanding at instant t: today's figure with later mints taken out and later burns put back."""
    later_mints = sum(amount - fee for at, amount, fee in mints if at >= t_ns)
    later_burns = sum(amount for at, amount in burns if at >= t_ns)
    return current_minor - later_mints + later_burns


def _coverage_figures(ctx: RegulatoryContext, fiat: Currency, start_iso: str, end_iso: str,
                      line: reg.StatementLine, filed_daily: Sequence[Mapping[str, Any]]) -> list[int]:
    """Every coverage figure of the period for one coin: the daily statements filed for its days, the coverage
    points the mint gate recorded, and the statement's own figure for the period's last day (or today). The
    minimum is taken over all of them, so it can never stand above a figure the same return reports."""
    covs = [int(c["coverage_bps"]) for body in filed_daily for c in body.get("coins", ())
            if c.get("coin") == fiat.coin.value and c.get("coverage_bps") is not None]
    last_day = date.fromisoformat(end_iso) - timedelta(days=1)
    covs += [p.coverage_bps for p in ctx.reserves.coverage_series(fiat.coin, date.fromisoformat(start_iso), last_day)
             if p.coverage_bps is not None]
    if line.coverage_bps is not None:
        covs.append(line.coverage_bps)
    return covs


def monthly_return(ctx: RegulatoryContext, year: int, month: int) -> dict[str, Any]:
    """The monthly return of `year`-`month` (Hong Kong time), as a dict in the documented format
    (adapters/reports/monthly_return.schema.json)."""
    start_iso, end_iso = reg.month_bounds(year, month)
    start_ns, end_ns = hk_midnight_ns(date.fromisoformat(start_iso)), hk_midnight_ns(date.fromisoformat(end_iso))
    now = _now(ctx)
    sync_reserve_incidents(ctx)
    last_day = date.fromisoformat(end_iso) - timedelta(days=1)
    statement_day = min(last_day, hk_today(now))
    lines = {x.fiat: x for x in daily_statement(ctx, statement_day)}
    filed_daily = [ctx.store.get_return(r["return_id"])["body"] for r in ctx.store.list_returns("daily")
                   if start_iso <= str(r["period"]) < end_iso]
    coins = []
    for fiat in FIATS:
        mints = ctx.store.minted(fiat.value)
        rows = [r for r in ctx.issuance.redemptions(fiat, limit=redemptions_read_max) if r.valid_at_ns is not None]
        burns = [(int(r.valid_at_ns), int(r.amount_minor)) for r in rows]
        current = _posted(ctx, fiat, iss.Book.COINS_OUTSTANDING)
        opening = _outstanding_at(current, mints, burns, start_ns)
        closing = _outstanding_at(current, mints, burns, end_ns)
        in_period = [(at, a, f) for at, a, f in mints if start_ns <= at < end_ns]
        minted_minor = sum(a - f for _, a, f in in_period)
        period_rows = [r for r in rows if start_ns <= int(r.valid_at_ns) < end_ns]
        burned_minor = sum(int(r.amount_minor) for r in period_rows)
        if opening + minted_minor - burned_minor != closing:
            raise ValidationError(f"{fiat.value}: supply roll-forward does not add up", code="return_inconsistent")
        stats = reg.redemption_stats(
            (reg.RedemptionFact(int(r.amount_minor), int(r.fee_minor), int(r.valid_at_ns),
                                int(r.deadline_ns) if r.deadline_ns is not None else None,
                                int(r.paid_at_ns) if r.paid_at_ns is not None else None) for r in period_rows),
            min(end_ns, now))
        line = lines[fiat.value]
        covs = _coverage_figures(ctx, fiat, start_iso, end_iso, line, filed_daily)
        coins.append({
            "coin": fiat.coin.value, "currency": fiat.value,
            "supply": {"opening_minor": opening, "minted_minor": minted_minor, "burned_minor": burned_minor,
                       "closing_minor": closing},
            "mints": {"count": len(in_period), "value_minor": minted_minor,
                      "fees_minor": sum(f for _, _, f in in_period)},
            "redemptions": {"count": stats.count, "value_minor": stats.value_minor, "fees_minor": stats.fees_minor,
                            "paid_count": stats.paid_count, "time_to_pay_s_median": stats.time_to_pay_s_median,
                            "time_to_pay_s_max": stats.time_to_pay_s_max, "deadline_breaches": stats.breaches},
            "reserve": {"as_of": line.as_of, "value_minor": line.reserve_value_minor,
                        "composition_minor": line.composition_minor, "coverage_bps": line.coverage_bps,
                        "coverage_bps_min_in_period": min(covs) if covs else None},
        })
    incidents = ctx.store.list_incidents(opened_from_ns=start_ns, opened_before_ns=end_ns)
    by_kind: dict[str, int] = {}
    for i in incidents:
        by_kind[i.kind.value] = by_kind.get(i.kind.value, 0) + 1
    counts = ctx.store.compliance_counts(start_ns, end_ns)
    adjustments = [] if ctx.adjustments is None else ctx.adjustments.between(start_ns, end_ns, limit=100_000)
    by_currency: dict[str, int] = {}
    for a in adjustments:
        by_currency[a.currency or "?"] = by_currency.get(a.currency or "?", 0) + a.amount_minor_total
    return {
        "format": RETURN_FORMAT, "version": RETURN_VERSION, "period": f"{year:04d}-{month:02d}",
        "period_start": start_iso, "period_end_exclusive": end_iso, "licence_number": ctx.licence_number,
        "generated_at": from_ns(now).isoformat(), "complete": now >= end_ns,
        "coins": coins,
        "incidents": {"count": len(incidents), "by_kind": by_kind,
                      "notified_late_or_overdue": sum(1 for i in incidents
                                                      if reg.notification_status(i, now) in ("notified_late",
                                                                                               "overdue")),
                      "items": [{"incident_id": i.incident_id, "kind": i.kind.value, "severity": i.severity.value,
                                 "coin": i.coin, "opened_at": from_ns(i.opened_at_ns).isoformat(),
                                 "notification": reg.notification_status(i, now), "state": i.state.value}
                                for i in incidents[:500]]},
        "compliance": counts,
        "adjustments": {"count": len(adjustments), "with_approval": sum(1 for a in adjustments if a.approval_id),
                        "value_minor_by_currency": by_currency,
                        "items": [{"adjustment_id": a.adjustment_id, "booked_at": from_ns(a.booked_at_ns).isoformat(),
                                   "maker": a.maker, "approvers": list(a.approvers), "approval_id": a.approval_id,
                                   "reason": a.reason, "currency": a.currency,
                                   "amount_minor_total": a.amount_minor_total, "transfer_count": len(a.transfers)}
                                  for a in adjustments[:500]]},
    }


def canonical_sha256(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def file_return(ctx: RegulatoryContext, kind: str, period: str, doc: Mapping[str, Any]) -> tuple[str, bool]:
    """Record a produced return (after the caller validated it against its schema); returns (sha256, new)."""
    sha = canonical_sha256(doc)
    new = ctx.store.put_return(f"{kind}:{period}", kind, period, dict(doc), sha, actor=ctx.actor, now_ns=_now(ctx))
    return sha, new


# ---------------------------------------------------------------------------------------------------------
# Incidents
# ---------------------------------------------------------------------------------------------------------


def open_incident(ctx: RegulatoryContext, kind: reg.IncidentKind, coin: str, summary: str, *,
                  severity: reg.Severity | None = None, incident_id: str | None = None) -> reg.RegIncident:
    """Register an incident. With a coin, the base record goes into the reserves incidents table (the existing
    incidents register) and this store adds the regulator's view under the same id. Idempotent by id."""
    now = _now(ctx)
    incident_id = incident_id or f"{kind.value}-{coin.lower()}-{now}"
    try:
        return ctx.store.get_incident(incident_id)
    except NotFoundError:
        pass
    inc = reg.open_incident(incident_id, kind, coin, summary, actor=ctx.actor, now_ns=now, severity=severity)
    origin = "regulatory"
    if coin in (Currency.BCNH.value, Currency.BHKD.value):
        existing = {i.incident_id for i in ctx.reserves.list_incidents()}
        if incident_id not in existing:
            reserves_svc.open_incident(ctx.reserves, incident_id=incident_id, coin=Currency(coin), kind=kind.value,
                                       summary=summary, details={"registered_by": "regulatory"}, now_ns=now,
                                       severity=inc.severity.value)
    ctx.store.add_incident(inc, origin=origin, actor=ctx.actor, now_ns=now)
    return inc


def sync_reserve_incidents(ctx: RegulatoryContext) -> list[reg.RegIncident]:
    """Give every incident the reserves area opened (reconciliation breaks) its notification step."""
    known = ctx.store.incident_ids()
    out = []
    for r in ctx.reserves.list_incidents():
        if r.incident_id in known:
            continue
        kind = reg.kind_for_reserves_incident(r.kind) or reg.IncidentKind.RECONCILIATION_BREAK
        inc = reg.open_incident(r.incident_id, kind, r.coin.value, r.summary, actor="reserves",
                                now_ns=r.opened_at_ns, severity=reg.Severity(r.severity))
        if ctx.store.add_incident(inc, origin="reserves", actor=ctx.actor, now_ns=_now(ctx)):
            out.append(inc)
    return out


def detect_incidents(ctx: RegulatoryContext, redemption_ages: Iterable[Any] = ()) -> list[reg.RegIncident]:
    """Open the incidents the books show: a coin whose reserve is below what is owed (shortfall), and each
    redemption past its deadline (inability to pay: `redemption_ages` from services.issuance.redemption_tracker).
    Both are notified immediately. Idempotent: one incident per coin and day, one per redemption."""
    opened = sync_reserve_incidents(ctx)
    for line in daily_statement(ctx):
        if line.coverage_bps is not None and line.coverage_bps < 10_000:
            opened.append(open_incident(
                ctx, reg.IncidentKind.RESERVE_SHORTFALL, line.coin,
                f"{line.coin} reserve {line.reserve_value_minor} below liabilities "
                f"{line.outstanding_minor + line.redemptions_in_flight_minor} ({line.fiat} minor units) on "
                f"{line.as_of}", incident_id=f"shortfall-{line.coin.lower()}-{line.as_of}"))
    for age in redemption_ages:
        if age.level == "breached":
            coin = Currency(age.fiat).coin.value
            opened.append(open_incident(
                ctx, reg.IncidentKind.REDEMPTION_DEADLINE_BREACH, coin,
                f"redemption {age.seq} of {age.amount_minor} {age.fiat} minor units not paid by "
                f"{age.deadline.isoformat()}", incident_id=f"redemption-breach-{age.seq}"))
    return opened


def _change(ctx: RegulatoryContext, incident_id: str, action: str,
            step: Callable[[reg.RegIncident, int], reg.RegIncident]) -> reg.RegIncident:
    now = _now(ctx)
    inc = step(ctx.store.get_incident(incident_id), now)
    ctx.store.save_incident(inc, action=action, actor=ctx.actor, now_ns=now)
    return inc


def notify_regulator(ctx: RegulatoryContext, incident_id: str, reference: str) -> reg.RegIncident:
    return _change(ctx, incident_id, "notified",
                   lambda i, now: reg.record_notification(i, reference, actor=ctx.actor, now_ns=now))


def update_incident(ctx: RegulatoryContext, incident_id: str, text: str) -> reg.RegIncident:
    return _change(ctx, incident_id, "update", lambda i, now: reg.add_update(i, text, actor=ctx.actor, now_ns=now))


def close_incident(ctx: RegulatoryContext, incident_id: str, resolution: str) -> reg.RegIncident:
    return _change(ctx, incident_id, "closed",
                   lambda i, now: reg.close_incident(i, resolution, actor=ctx.actor, now_ns=now))


def incident_dict(inc: reg.RegIncident, now_ns: int) -> dict[str, Any]:
    return reg.incident_to_dict(inc, now_ns)
