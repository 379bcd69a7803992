"""`bauhinia run`: the always-on service. One process serves the API and runs the issuer's day as named jobs.

Every job runs on one replica at a time: the scheduler takes the job's lease (adapters/store/jobs_repo.py: a
conditional write in the database, with a fencing token that grows with every take), re-checks in the shared run
log that the job is still due, runs it, logs the run with its token, and gives the lease back. The lease is
renewed while the job runs; a replica that dies stops renewing and its lease is taken over within the lease's
time to live. The work itself is claimed row by row (issue 14), so even a job that ran twice would not mint or
pay twice: the lease keeps replicas from doing the same work side by side and keeps calendar jobs (the daily
statement) to one run per slot.

Several replicas share one PostgreSQL database. On SQLite (the embedded single-host default) one replica runs:
a second refuses to start. The schedule of each job is configuration (Settings.jobs_schedule, see
domain/jobs.py for the text form), on the project's Hong Kong business-day calendar.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bauhinia.domain.errors import BauhiniaError, ConfigError
from bauhinia.domain.jobs import Schedule, next_due_ns, parse_schedule
from bauhinia.domain.money import Currency

log = logging.getLogger("bauhinia.service")

FIATS = (Currency.CNH, Currency.HKD)
# name -> default schedule; Settings.jobs_schedule overrides any of them ("off" turns one off)
JOB_DEFAULTS: dict[str, str] = {
    "bank_inbox": "every 5s",  # read complete camt files from the inbox and book them
    "chain_indexer": "every 5s",  # follow each coin's events (confirmed blocks)
    "mint": "every 5s",  # mint every ready subscription
    "redemptions": "every 10s",  # burn received coins; instruct payouts whose burns are final
    "recover": "every 60s",  # re-drive any flow a crash left half-way
    "outbox_relay": "every 2s",  # publish committed events (bus, NATS JetStream, webhooks)
    "deadline_watcher": "every 60s",  # alerts before and at each payout deadline; incidents
    "pending_expiry": "every 60s",  # release ledger holds whose timeout passed
    "daily_reconciliation": "at 17:30 business",  # bank vs ledger vs chain, per coin
    "daily_statement": "at 18:00",  # the daily statement to the regulator, written and filed
    "weekly_disclosure": "weekly fri 18:30",  # the public weekly disclosure
    "list_update": "at 07:00",  # fetch the sanctions lists; re-screen everyone against what changed
    # post the bank's reserve figure to each coin's guard (BAUHINIA_RESERVE_ATTESTER=separate). Off: the attester is
    # a process of its own holding only the attestor key (`bauhinia reserves attester --every 30`); turn it on
    # only where one host may hold both the minter's and the attestor's keys.
    "reserve_attest": "off",
}


# Events that make a job due at once (through NATS JetStream, when configured): a credit booked wakes the mint,
# coins received wake the payouts; the schedule stays the fallback.
WAKES: dict[str, str] = {"subscriptions.received": "mint", "redemptions.coins_received": "redemptions",
                         "redemption.requested": "chain_indexer"}


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[Any], str]  # container -> a one-line summary


# --- the jobs: each calls the same services the CLI and the API call ------------------------------------------


def _per_fiat(container: Any, step: Callable[[Any, Currency], Any], describe: Callable[[Any], str]) -> str:
    out = []
    for fiat in FIATS:
        try:
            out.append(f"{fiat.value}: {describe(step(container.issuance, fiat))}")
        except BauhiniaError as exc:  # one coin's refusal (not mintable, breaker) never stops the other's
            out.append(f"{fiat.value}: {exc.code}")
    return "; ".join(out)


def _bank_inbox(c: Any) -> str:
    from bauhinia.services import issuance as svc

    r = svc.ingest_bank_files(c.issuance)
    return f"{r.files} file(s), {r.subscriptions} subscription(s), {r.suspense} suspense, " \
           f"{r.payouts_settled} payout(s) settled, {len(r.quarantined)} quarantined"


def _indexer(c: Any) -> str:
    return _per_fiat(c, lambda ctx, fiat: ctx.index(fiat), lambda n: f"{n} event(s)")


def _mint(c: Any) -> str:
    from bauhinia.services import issuance as svc

    return _per_fiat(c, svc.run_subscriptions, lambda r: f"{r.minted} minted, {r.held} held")


def _redemptions(c: Any) -> str:
    from bauhinia.services import issuance as svc

    return _per_fiat(c, svc.run_redemptions, lambda r: f"{r.burned} burned, {len(r.payout_files)} payout file(s)")


def _recover(c: Any) -> str:
    from bauhinia.services import issuance as svc

    done = svc.recover(c.issuance)
    return ", ".join(f"{k} {v}" for k, v in done.items())


def _relay(c: Any) -> str:
    return f"{c.relay.drain(batch=500, rounds_max=20)} event(s) published"


def _deadlines(c: Any) -> str:
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context
    from bauhinia.services import regulatory as reg_svc
    from bauhinia.services.issuance import redemption_tracker

    ages = redemption_tracker(c.issuance)
    opened = reg_svc.detect_incidents(regulatory_context(c, "service"), ages)
    return f"{len(ages)} unpaid redemption(s), {sum(a.level != 'ok' for a in ages)} near or past deadline, " \
           f"{len(opened)} incident(s) opened"


def _expiry(c: Any) -> str:
    return f"{c.ledger.expire_pending()} hold(s) expired"


def _today(c: Any) -> date:
    from bauhinia.services.regulatory import hk_today

    return hk_today(c.clock.now_ns())


def _reconciliation(c: Any) -> str:
    from bauhinia.entrypoints.reserve_context import reserve_context
    from bauhinia.services import reconciliation as rec

    rctx = reserve_context(c)
    out = []
    for fiat in FIATS:
        daily = rec.run_daily(rctx, fiat, _today(c))
        out.append(f"{fiat.value}: {len(daily.outcome.result.breaks)} break(s)")
    return "; ".join(out)


def _returns_dir(c: Any) -> Path:
    return Path(c.settings.data_dir) / "returns"


def _daily_statement(c: Any) -> str:
    from bauhinia.adapters.reports import returns
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context
    from bauhinia.services import regulatory as reg_svc

    ctx = regulatory_context(c, "service")
    lines = reg_svc.daily_statement(ctx, _today(c))
    doc = reg_svc.statement_dict(lines, generated_at_ns=ctx.clock.now_ns(), licence_number=ctx.licence_number)
    sha, new = reg_svc.file_return(ctx, "daily", doc["as_of"], doc)
    returns.write_return(_returns_dir(c), f"daily-statement-{doc['as_of']}", doc, returns.daily_statement_csv(doc))
    return f"daily statement {doc['as_of']} {'filed' if new else 'already filed'} (sha256 {sha[:12]})"


def _weekly_disclosure(c: Any) -> str:
    from bauhinia.adapters.reports.attestation import weekly_disclosure_html, weekly_disclosure_json
    from bauhinia.entrypoints.reserve_reports import build_attestation

    day = _today(c)
    data = build_attestation(c, day)
    out = _returns_dir(c) / f"disclosure-{day.isoformat()}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "disclosure.json").write_text(weekly_disclosure_json(data), encoding="utf-8")
    (out / "disclosure.html").write_text(weekly_disclosure_html(data), encoding="utf-8")
    return f"weekly disclosure {day} written to {out}"


def _list_update(c: Any) -> str:
    """What `bauhinia screening update-lists` does, unattended: fetch and verify the publishers' lists, store a
    new version when they changed, and re-screen every customer and wallet against the delta (alerts, cases,
    suspensions and freeze requests for new hits)."""
    from datetime import UTC, datetime

    from bauhinia.adapters.screening import list_update as lu
    from bauhinia.adapters.screening.lists import current_lists_dir
    from bauhinia.services import issuance_compliance as gate_svc

    settings = c.settings
    if settings.sanctions_dir is not None:
        return "skipped: BAUHINIA_SANCTIONS_DIR pins the lists"
    urls = {f"BAUHINIA_{k.upper()}": str(v) for k, v in settings.model_dump().items()
            if k.startswith("list_url_") and v}
    result = lu.update_lists(settings.data_dir, current_lists_dir(settings.data_dir), lu.sources_from_env(urls),
                             now=datetime.now(UTC))
    if result.unchanged:
        return f"lists unchanged (version {result.previous_version})"
    c.__dict__.pop("screener", None)  # the next screening reads the new version
    gate, ctx = c.compliance_gate, c.gated_issuance()
    cdd_ids = {x.customer.customer_id for x in gate.store.list_customers()}
    names = [(x.id, x.name) for x in ctx.store.customers() if x.id not in cdd_ids]
    wallets = [(w.address, w.customer_id) for w in ctx.store.wallets()]
    enforced = gate_svc.rescreen_delta_and_enforce(gate, ctx, lu.DeltaScreener(result), wallets=wallets,
                                                   names=names, actor="service", now_ns=int(c.clock.now_ns()))
    return (f"lists {result.previous_version} -> {result.version}: {len(enforced.run.alerts)} new alert(s), "
            f"{len(enforced.suspended)} suspended, {len(enforced.freezes)} freeze request(s)")


def _reserve_attest(c: Any) -> str:
    from bauhinia.services import attester

    if c.settings.resolved_reserve_attester() == attester.INLINE:
        return "skipped: BAUHINIA_RESERVE_ATTESTER is inline (the mint posts the ledger's figure)"
    return "; ".join(f"{r.coin} {'posted ' + str(r.figure.reserve_base_units) if r.posted and r.figure else 'kept'}"
                     f": {r.reason}" for r in attester.attest_all(c.attester))


RUNNERS: dict[str, Callable[[Any], str]] = {
    "bank_inbox": _bank_inbox, "chain_indexer": _indexer, "mint": _mint, "redemptions": _redemptions,
    "recover": _recover, "outbox_relay": _relay, "deadline_watcher": _deadlines, "pending_expiry": _expiry,
    "daily_reconciliation": _reconciliation, "daily_statement": _daily_statement,
    "weekly_disclosure": _weekly_disclosure, "list_update": _list_update, "reserve_attest": _reserve_attest,
}


def configured_jobs(overrides: dict[str, str] | None = None) -> list[Job]:
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(JOB_DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown job(s) in BAUHINIA_JOBS_SCHEDULE: {', '.join(unknown)} "
                          f"(jobs: {', '.join(JOB_DEFAULTS)})", code="unknown_job")
    return [Job(name, parse_schedule(overrides.get(name, spec)), RUNNERS[name]) for name, spec in JOB_DEFAULTS.items()]


# --- the scheduler ------------------------------------------------------------------------------------------


@dataclass
class JobMetrics:
    """Prometheus metrics per job (runs, failures, duration, last success), on the API's registry."""

    registry: Any = None
    runs: Any = None
    failures: Any = None
    duration: Any = None
    last_success: Any = None

    @classmethod
    def on(cls, registry: Any) -> JobMetrics:
        from prometheus_client import Counter, Gauge, Histogram

        return cls(
            registry,
            Counter("bauhinia_job_runs_total", "Job runs on this replica", ["job"], registry=registry),
            Counter("bauhinia_job_failures_total", "Job runs that failed", ["job"], registry=registry),
            Histogram("bauhinia_job_duration_seconds", "Job run duration", ["job"], registry=registry,
                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)),
            Gauge("bauhinia_job_last_success_timestamp_seconds", "When each job last succeeded here", ["job"],
                  registry=registry),
        )


def replica_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Scheduler:
    container: Any
    jobs: list[Job]
    holder: str = field(default_factory=replica_id)
    lease_ttl_s: float = 30.0
    tick_s: float = 0.5
    metrics: JobMetrics | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    held: set[str] = field(default_factory=set)
    last_error: dict[str, str] = field(default_factory=dict)
    woken: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        from bauhinia.adapters.store.jobs_repo import JobStore

        self.store = JobStore(self.container.engine)
        self.calendar = self.container.issuance.calendar

    def _now(self) -> int:
        return int(self.container.clock.now_ns())

    def _last_started(self, name: str) -> int | None:
        runs = self.store.runs(name, limit=1)
        return int(runs[0]["started_at_ns"]) if runs else None

    def wake(self, name: str) -> None:
        """Make a job due now on this replica (an event said there is work); it still runs under its lease."""
        self.woken.add(name)

    def due(self, job: Job, now_ns: int) -> bool:
        if job.name in self.woken and not job.schedule.off:
            return True
        at = next_due_ns(job.schedule, self._last_started(job.name), now_ns, self.calendar.is_business_day)
        return at is not None and at <= now_ns

    def run_forever(self, workers: int = 4) -> None:
        """Until `stop`: start each due job on a small pool of threads, at most one run of a job at a time here
        (and, through its lease, on all replicas), so a slow job (a list download) never holds up the mint."""
        from concurrent.futures import Future, ThreadPoolExecutor

        log.info("scheduler %s: %d job(s)", self.holder, len(self.jobs))
        running: dict[str, Future[Any]] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
            while not self.stop.is_set():
                for name in [n for n, f in running.items() if f.done()]:
                    running.pop(name)
                for job in self.jobs:
                    if self.stop.is_set() or job.name in running or len(running) >= workers:
                        continue
                    try:
                        if self.due(job, self._now()):
                            running[job.name] = pool.submit(self._run_logged, job)
                    except Exception:  # the database away for a moment: log, and try again next tick
                        log.exception("scheduler: job %s could not be started", job.name)
                self.stop.wait(self.tick_s)

    def _run_logged(self, job: Job) -> None:
        try:
            self.run_job(job)
        except Exception:
            log.exception("scheduler: job %s could not run", job.name)

    def run_job(self, job: Job, *, force: bool = False) -> dict[str, Any] | None:
        """Run `job` here if its lease can be taken and (unless forced) it is still due; the run's record, or
        None when another replica holds it or it is no longer due."""
        ttl_ns = int(self.lease_ttl_s * 1e9)
        lease = self.store.acquire(job.name, self.holder, ttl_ns, self._now())
        if lease is None:
            return None
        try:
            if not force and not self.due(job, self._now()):  # another replica ran it meanwhile
                return None
            self.held.add(job.name)
            self.woken.discard(job.name)
            with self._renewing(lease, ttl_ns) as lost:
                started = time.monotonic()
                run_id = self.store.run_started(lease, self._now())
                ok, summary, error = True, "", ""
                try:
                    summary = job.run(self.container)
                except Exception as exc:  # a job's failure is recorded and retried on its schedule
                    ok, error = False, f"{type(exc).__name__}: {exc}"
                    log.warning("job %s failed: %s", job.name, error)
                if lost.is_set():
                    ok, error = False, (error + "; " if error else "") + "lease lost while running"
                self.store.run_finished(run_id, self._now(), ok, summary, error)
                seconds = time.monotonic() - started
            if error:
                self.last_error[job.name] = error
            if self.metrics is not None:
                self.metrics.runs.labels(job.name).inc()
                self.metrics.duration.labels(job.name).observe(seconds)
                if ok:
                    self.metrics.last_success.labels(job.name).set(time.time())
                else:
                    self.metrics.failures.labels(job.name).inc()
            return {"job": job.name, "ok": ok, "summary": summary, "error": error, "token": lease.token,
                    "seconds": round(seconds, 3)}
        finally:
            self.held.discard(job.name)
            self.store.release(lease, self._now())

    @contextmanager
    def _renewing(self, lease: Any, ttl_ns: int) -> Iterator[threading.Event]:
        done, lost = threading.Event(), threading.Event()

        def renew() -> None:
            current = lease
            while not done.wait(self.lease_ttl_s / 3):
                try:
                    renewed = self.store.renew(current, ttl_ns, self._now())
                except Exception:  # keep trying until the lease would expire
                    log.exception("renewing the lease of %s failed", lease.name)
                    continue
                if renewed is None:
                    lost.set()
                    log.error("lease of %s lost while running (another replica took it)", lease.name)
                    return
                current = renewed

        thread = threading.Thread(target=renew, name=f"lease-{lease.name}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            done.set()
            thread.join(5)


def consume_wakeups(scheduler: Scheduler, url: str, stop: threading.Event, *, durable: str = "bauhinia-run",
                    wait_s: float = 1.0) -> None:
    """Wake jobs from the events stream until `stop`: a durable JetStream consumer shared by every replica (each
    event reaches one of them). The NATS connection failing is logged and retried; the schedules go on."""
    from bauhinia.adapters.events.nats_jetstream import JetStreamConsumer

    consumer: Any = None
    while not stop.is_set():
        try:
            if consumer is None:
                consumer = JetStreamConsumer(url, durable, topics=tuple(WAKES))
            consumer.fetch(lambda topic, _body: scheduler.wake(WAKES[topic]) if topic in WAKES else None,
                           wait_s=wait_s)
        except Exception as exc:  # NATS away: the schedules still run every job
            log.warning("event wake-ups: %s: %s", type(exc).__name__, exc)
            if consumer is not None:
                with contextlib.suppress(Exception):  # closing a broken connection: nothing else to do
                    consumer.close()
                consumer = None
            stop.wait(5.0)
    if consumer is not None:
        consumer.close()


# --- one replica per SQLite database ---------------------------------------------------------------------------


@contextmanager
def single_replica_guard(settings: Any) -> Iterator[None]:
    """On SQLite only one `bauhinia run` may serve a database: a second refuses to start with a clear message.
    PostgreSQL takes any number of replicas."""
    url = settings.resolved_database_url()
    if not url.startswith("sqlite"):
        yield
        return
    import fcntl

    path = Path(str(settings.sqlite_path()) if url == f"sqlite:///{settings.sqlite_path()}" else
                url.split("sqlite:///", 1)[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.run.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another `bauhinia run` already serves the SQLite database {path}: SQLite takes one "
                              "replica; run several on PostgreSQL (BAUHINIA_DATABASE_URL)",
                              code="replica_already_running") from None
        yield
    finally:
        os.close(fd)


def jobs_status(container: Any, jobs: list[Job]) -> list[dict[str, Any]]:
    """Every job: schedule, holder (if running now), last run, next due time, last error."""
    from bauhinia.adapters.store.jobs_repo import JobStore

    store = JobStore(container.engine)
    leases = {row["name"]: row for row in store.leases()}
    last = store.last_runs()
    now = int(container.clock.now_ns())
    calendar = container.issuance.calendar
    out = []
    for job in jobs:
        lease = leases.get(job.name)
        run = last.get(job.name, {})
        started = run.get("started_at_ns")
        nxt = next_due_ns(job.schedule, started, now, calendar.is_business_day)
        out.append({
            "job": job.name, "schedule": job.schedule.describe(),
            "holder": lease["holder"] if lease and int(lease["expires_at_ns"]) > now else None,
            "token": int(lease["token"]) if lease else 0,
            "last_started_at_ns": started, "last_ok": run.get("ok"), "last_summary": run.get("summary"),
            "next_due_at_ns": None if nxt is None else max(nxt, now),
            "last_error": run.get("last_error"), "last_error_at_ns": run.get("last_error_at_ns"),
        })
    return out
