"""`bauhinia run` (the always-on service) and `bauhinia jobs status|run NAME`."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bauhinia.domain.errors import NotFoundError

app = typer.Typer(help="The service's scheduled jobs: status, and running one now.", no_args_is_help=True)
console = Console()


def _when(ns: int | None) -> str:
    from bauhinia.domain.calendar import HK_TZ

    return "-" if not ns else datetime.fromtimestamp(ns / 1e9, HK_TZ).strftime("%m-%d %H:%M:%S HKT")


def _container() -> Any:
    from bauhinia.bootstrap import Container, load_settings

    return Container(load_settings())


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every job: its schedule, the replica holding it now, last run and result, next run, last error."""
    from bauhinia.entrypoints.service import configured_jobs, jobs_status

    c = _container()
    rows = jobs_status(c, configured_jobs(c.settings.jobs_schedule))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table("job", "schedule", "held by", "last run", "ok", "next run", "last error", title="jobs")
    for r in rows:
        ok = "-" if r["last_ok"] is None else ("yes" if r["last_ok"] else "[red]no[/red]")
        t.add_row(r["job"], r["schedule"], r["holder"] or "-", _when(r["last_started_at_ns"]), ok,
                  _when(r["next_due_at_ns"]) if r["next_due_at_ns"] else "never",
                  (r["last_error"] or "-")[:80])
    console.print(t)


@app.command("run")
def run_now(name: Annotated[str, typer.Argument(help="a job name (see `bauhinia jobs status`)")]) -> None:
    """Run one job now, here, under its lease (refused while another replica runs it)."""
    from bauhinia.entrypoints.service import Scheduler, configured_jobs

    c = _container()
    jobs = {j.name: j for j in configured_jobs(c.settings.jobs_schedule)}
    if name not in jobs:
        raise NotFoundError(f"no job {name!r} (jobs: {', '.join(jobs)})", code="unknown_job")
    result = Scheduler(c, list(jobs.values()), lease_ttl_s=c.settings.jobs_lease_ttl_s).run_job(jobs[name],
                                                                                                 force=True)
    if result is None:
        console.print(f"[yellow]{name} is running on another replica now[/yellow]")
        raise typer.Exit(1)
    console.print(f"{name}: {'ok' if result['ok'] else 'failed'} in {result['seconds']} s: "
                  f"{result['summary'] or result['error']}")
    if not result["ok"]:
        raise typer.Exit(1)


def run(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    api: Annotated[bool, typer.Option(help="serve the REST API in this process")] = True,
    duration_s: Annotated[float, typer.Option(help="stop after this long (0: until SIGTERM/SIGINT)")] = 0.0,
    drain_s: Annotated[float, typer.Option(help="on stop, wait this long for the running job")] = 30.0,
) -> None:
    """The always-on service: the API, and the issuer's day as scheduled jobs (bank inbox, mint, redemptions
    and payouts, indexer, outbox relay, deadlines, reconciliation, daily statement, weekly disclosure...).
    Start it on several hosts against one PostgreSQL database to share and take over the work."""
    import logging

    from bauhinia.bootstrap import Container, load_settings
    from bauhinia.entrypoints.api.observability import configure_logging
    from bauhinia.entrypoints.service import JobMetrics, Scheduler, configured_jobs, single_replica_guard

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    log = logging.getLogger("bauhinia.service")
    with single_replica_guard(settings):
        container = Container(settings)
        jobs = configured_jobs(settings.jobs_schedule)
        api_app = None
        registry = None
        if api:
            from bauhinia.entrypoints.api.app import create_app

            api_app = create_app(settings, container=container)
            registry = api_app.state.metrics.registry
        scheduler = Scheduler(container, jobs, lease_ttl_s=settings.jobs_lease_ttl_s, tick_s=settings.jobs_tick_s,
                              metrics=JobMetrics.on(registry) if registry is not None else None)
        if api_app is not None:
            api_app.state.scheduler = scheduler
        worker = threading.Thread(target=scheduler.run_forever, name="scheduler", daemon=True)
        worker.start()
        if settings.nats_url:  # events wake the jobs that have work at once; the schedules stay the fallback
            from bauhinia.entrypoints.service import consume_wakeups

            threading.Thread(target=consume_wakeups, args=(scheduler, settings.nats_url, scheduler.stop),
                             name="event-wakeups", daemon=True).start()
        log.info("bauhinia run: replica %s, %d job(s)%s", scheduler.holder, len(jobs),
                 f", API on {host}:{port}" if api_app is not None else "")
        typer.echo(f"replica {scheduler.holder} running {len(jobs)} job(s)"
                   + (f"; API on http://{host}:{port}" if api_app is not None else ""))
        stopped = threading.Event()
        if duration_s:
            threading.Timer(duration_s, stopped.set).start()
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):  # a stop request: finish in order, exit 0
                signal.signal(sig, lambda *_: stopped.set())
            if api_app is not None:
                import uvicorn

                class _Server(uvicorn.Server):
                    @contextlib.contextmanager
                    def capture_signals(self) -> Any:  # ours above; uvicorn would re-raise SIGTERM at exit
                        yield

                server = _Server(uvicorn.Config(api_app, host=host, port=port, log_config=None, access_log=False))
                threading.Thread(target=lambda: (stopped.wait(), setattr(server, "should_exit", True)),
                                 daemon=True).start()
                server.run()
            else:
                stopped.wait()
        finally:
            scheduler.stop.set()  # finish (or give back) the running job within the bound
            worker.join(drain_s)
            log.info("bauhinia run: replica %s stopped", scheduler.holder)
            container.close()


def register(root: typer.Typer) -> None:
    root.command("run")(run)
