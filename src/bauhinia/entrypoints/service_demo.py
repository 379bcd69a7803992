"""The demo's last step: the service runs the issuer's day by itself (what `bauhinia run` does), here in the
demo's own process because the embedded chain lives in it. New deposits arrive in the bank inbox and a holder
sends coins in to redeem; nobody runs a command: the scheduled jobs book, mint, burn, pay and file the daily
statement, each under its lease."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bauhinia.domain import issuance as iss
from bauhinia.domain.jobs import slot_just_passed
from bauhinia.domain.money import Amount, Currency, minor_to_base_units
from bauhinia.entrypoints.service import Scheduler, configured_jobs

DEMO_SCHEDULE = {"bank_inbox": "every 1s", "chain_indexer": "every 1s", "mint": "every 1s",
                 "redemptions": "every 1s", "outbox_relay": "every 1s",
                 "daily_reconciliation": "off", "weekly_disclosure": "off", "list_update": "off"}
wait_s_max = 60.0


def service_demo_steps(issuer: Any, console: Console, step_no: int) -> bool:
    from bauhinia.services import issuance as svc

    console.print(f"\n[bold cyan]{step_no}.[/bold cyan] [bold]Unattended: the service runs the day by itself "
                  "(bauhinia run)[/bold]")
    ctx = issuer.ctx
    cnh = Currency.CNH
    chain = ctx.chains[cnh]
    importer = issuer.holders["kln-imp"]
    exporter = issuer.holders["szx-hk"]
    issuer.drop_notification([issuer.deposit(importer, 75_000_00, "HSBC-IN-0101")], datetime.now(UTC),
                             message_id="HSBC-NTF-0101")
    red = svc.request_redemption(ctx, iss.RedemptionRequest("szx-hk", Currency.BCNH, 20_000_00, exporter.wallet,
                                                            exporter.bank_account, "demo:service-redeem"))
    chain.transfer_as(exporter.key, chain.redemption_address, minor_to_base_units(20_000_00),
                      idempotency_key="demo:service-redeem:send")
    console.print("a camt.054 with a CNH 75,000.00 deposit is in the bank inbox; the exporter asked to redeem "
                  "CNH 20,000.00 and sent the coins in. No further command:")
    sub_seen = {s.seq for s in ctx.store.subscriptions(limit=100_000)}
    # the daily statement's slot just passed: the service files it once, now
    schedule = {**DEMO_SCHEDULE, "daily_statement": slot_just_passed(int(ctx.clock.now_ns()))}
    scheduler = Scheduler(issuer.container, configured_jobs(schedule), holder="demo-replica",
                          lease_ttl_s=10, tick_s=0.2)
    worker = threading.Thread(target=scheduler.run_forever, name="demo-scheduler", daemon=True)
    started = time.monotonic()
    worker.start()
    minted = paid = filed = False
    try:
        while time.monotonic() - started < wait_s_max and not (minted and paid and filed):
            time.sleep(0.25)
            new = [s for s in ctx.store.subscriptions(limit=100_000) if s.seq not in sub_seen]
            minted = bool(new) and all(s.status == "minted" for s in new)
            paid = ctx.store.redemption(red.seq).status == "payout_instructed"
            filed = bool(scheduler.store.runs("daily_statement", limit=1))
    finally:
        scheduler.stop.set()
        worker.join(30)
    table = Table("job", "runs", "last result", title=f"jobs run by the service in {time.monotonic() - started:.1f} s")
    runs = scheduler.store.runs(limit=10_000)
    for job in scheduler.jobs:
        mine = [r for r in runs if r["name"] == job.name]
        if mine:
            table.add_row(job.name, str(len(mine)), (mine[0]["summary"] or mine[0]["error"] or "")[:90])
    console.print(table)
    balance = Amount(chain.balance_of(importer.wallet), Currency.BCNH).format()
    console.print(f"deposit minted: {'[green]yes[/green]' if minted else '[red]NO[/red]'} (importer holds "
                  f"{balance}); redemption {red.seq} payout instructed: "
                  f"{'[green]yes[/green]' if paid else '[red]NO[/red]'}; daily statement filed: "
                  f"{'[green]yes[/green]' if filed else '[red]NO[/red]'}")
    return minted and paid and filed
