"""Assemble the attestation report and the weekly disclosure from the real sources (a bootstrap.Container):
coverage per coin from the books as of the end of the date (ledger balances as of then, the pool valued with
that day's market data), the coverage series recorded on each mint run and reconciliation, supply per coin and
chain, redemption statistics from the issuance records, the latest reconciliation runs and published roots."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from bauhinia.adapters.reports.attestation import AttestationData, PoolSummary, RedemptionStats, SupplyLine
from bauhinia.domain.calendar import HK_TZ
from bauhinia.domain.money import Currency
from bauhinia.services import reserves as reserves_svc

series_days = 90
holders_frozen_checked_max = 2_000


def end_of_day_ns(day: date) -> int:
    """The first nanosecond after `day` ends in Hong Kong."""
    return int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=HK_TZ).timestamp()) * 1_000_000_000


class LedgerAsOf:
    """A LedgerReader whose balances are those at a past moment (the ledger keeps every posting)."""

    def __init__(self, ledger: Any, timestamp_ns: int) -> None:
        self._ledger = ledger
        self._ts = timestamp_ns

    def account(self, account_id: int) -> Any:
        from bauhinia.adapters.store.ledger_store import AccountView

        view = self._ledger.account(account_id)
        return AccountView(view.account, self._ledger.balance_as_of(account_id, self._ts))


def redemption_stats(rows: Sequence[Any], coin: Currency, start_ns: int, end_ns: int, now_ns: int) -> RedemptionStats:
    """Redemptions that became valid (coins received) in [start, end): count, value paid out, time to pay,
    how many were paid within the deadline (one HK business day) and how many breached it."""
    valid = [r for r in rows if r.valid_at_ns is not None and start_ns <= int(r.valid_at_ns) < end_ns]
    paid = [r for r in valid if r.paid_at_ns is not None]
    hours_x100 = [(int(r.paid_at_ns) - int(r.valid_at_ns)) * 100 // 3_600_000_000_000 for r in paid]
    on_time = sum(1 for r in paid if r.deadline_ns is not None and int(r.paid_at_ns) <= int(r.deadline_ns))
    late_paid = sum(1 for r in paid if r.deadline_ns is not None and int(r.paid_at_ns) > int(r.deadline_ns))
    late_open = sum(1 for r in valid if r.paid_at_ns is None and r.deadline_ns is not None
                    and min(now_ns, end_ns) > int(r.deadline_ns))
    return RedemptionStats(
        coin=coin,
        count=len(valid),
        total_minor=sum(int(r.amount_minor) - int(r.fee_minor) for r in paid),
        paid_within_1_business_day=on_time,
        median_hours_x100=int(statistics.median(hours_x100)) if hours_x100 else 0,
        max_hours_x100=max(hours_x100, default=0),
        deadline_breaches=late_paid + late_open,
    )


def build_attestation(container: Any, as_of: date, *, auditor: str = "Independent auditor",
                      chain_name: str | None = None, period_days: int = 7) -> AttestationData:
    settings = container.settings
    ictx = container.issuance
    store = container.reserves
    now = container.clock.now_ns()
    cutoff = min(end_of_day_ns(as_of), now)
    live = end_of_day_ns(as_of) >= now
    ledger = container.ledger if live else LedgerAsOf(container.ledger, cutoff)
    chain_label = chain_name or ("JSON-RPC node" if settings.chain_rpc_url else "embedded EVM")
    pools: list[PoolSummary] = []
    series: dict[Currency, list[tuple[date, int]]] = {}
    supply: list[SupplyLine] = []
    stats: list[RedemptionStats] = []
    lines: list[str] = []
    run_ids: list[str] = []
    breaks = 0
    roots: dict[Currency, tuple[str, int]] = {}
    start_ns = end_of_day_ns(as_of - timedelta(days=period_days))
    for fiat in (Currency.HKD, Currency.CNH):
        coin = fiat.coin
        report = reserves_svc.coin_coverage(store, ledger, fiat, as_of, now_ns=now, record=live,
                                            cash_bank=settings.reserve_bank_bic)
        pools.append(PoolSummary(
            coin, {k.value: v for k, v in report.pool.composition_minor().items()}, report.pool.market_value_minor,
            report.pool.reserve_value_minor, report.liabilities_base_units, report.coverage_bps,
            {r.bucket.value: r.amount_minor for r in report.ladder}, report.concentration_bps,
            [f"{asset_id}: {'; '.join(r.reason for r in why)}" for asset_id, why in report.pool.excluded]))
        series[coin] = [(p.as_of, p.coverage_bps) for p in store.coverage_series(
            coin, as_of - timedelta(days=series_days), as_of) if p.coverage_bps is not None]
        chain_supply = report.outstanding_base_units
        frozen = 0
        if live:
            chain = ictx.chains[fiat]
            chain_supply = int(chain.total_supply())
            from bauhinia.adapters.chain.indexer import holder_balances_of

            holders = holder_balances_of(container.engine, ictx.coin_cursors[fiat])
            for address, balance in list(holders.items())[:holders_frozen_checked_max]:
                if balance and chain.is_frozen(address):
                    frozen += balance
        supply.append(SupplyLine(coin, chain_label, chain_supply, frozen))
        rows = ictx.store.redemptions(fiat, None, limit=1_000_000)
        stats.append(redemption_stats(rows, coin, start_ns, cutoff, now))
        runs = [r for r in store.list_recon_runs(coin, limit=50) if r.ran_at_ns <= cutoff][:1]
        for run in runs:
            run_ids.append(run.run_id)
            breaks += run.break_count
            for b in json.loads(run.breaks_json)[:10]:
                lines.append(f"{coin.value}: {b['source']} {b['kind']} {b['key']}: expected {b['expected']} "
                             f"{b['unit']} (per {b['against']}), found {b['actual']}")
        root = store.latest_liability_root(coin)
        if root is not None and root.as_of <= as_of:
            roots[coin] = (root.root_hash_hex, root.total_base_units)
    return AttestationData(
        as_of=as_of, issuer=settings.issuer_name, pools=pools, coverage_series=dict(series), supply=supply,
        redemptions=stats, reconciliation_breaks=breaks, reconciliation_run_id=", ".join(run_ids),
        reconciliation_lines=lines, liability_roots=roots, auditor=auditor,
        period_start=as_of - timedelta(days=period_days - 1),
    )
