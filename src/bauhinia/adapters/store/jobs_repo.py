"""Job leases with fencing tokens, and the job-run log, on SQLite or PostgreSQL.

A lease names the replica that may run a job now. It is taken with one conditional write (free, expired, or
already ours), so two replicas can never both hold it; every take increments the job's fencing token, and every
run is logged with the token it ran under, so "no job ran on two replicas at once" can be checked from the log.
A holder renews while the job runs; one that dies stops renewing, and its lease expires and is taken over
within the lease's time to live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.jobs_tables import job_leases, job_runs

TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    token: int
    expires_at_ns: int


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- leases ----------------------------------------------------------------------------------------------

    def acquire(self, name: str, holder: str, ttl_ns: int, now_ns: int) -> Lease | None:
        """Take (or keep) the lease of `name` for `holder` until now + ttl; None when another holder has it."""
        expires = now_ns + ttl_ns
        with self.engine.begin() as conn:
            taken = conn.execute(
                job_leases.update()
                .where(job_leases.c.name == name,
                       sa.or_(job_leases.c.expires_at_ns <= now_ns, job_leases.c.holder == holder))
                .values(holder=holder, expires_at_ns=expires, renewed_at_ns=now_ns,
                        token=sa.case((job_leases.c.holder == holder, job_leases.c.token),
                                      else_=job_leases.c.token + 1),
                        acquired_at_ns=sa.case((job_leases.c.holder == holder, job_leases.c.acquired_at_ns),
                                               else_=now_ns))
            )
            if not taken.rowcount:
                exists = conn.execute(sa.select(job_leases.c.name).where(job_leases.c.name == name)).first()
                if exists is not None:
                    return None
                try:
                    with conn.begin_nested():
                        conn.execute(job_leases.insert().values(name=name, holder=holder, token=1,
                                                                acquired_at_ns=now_ns, renewed_at_ns=now_ns,
                                                                expires_at_ns=expires))
                except sa.exc.IntegrityError:  # another replica created it first: theirs
                    return None
            row = conn.execute(sa.select(job_leases).where(job_leases.c.name == name)).one()
        if row.holder != holder:
            return None
        return Lease(name, holder, int(row.token), int(row.expires_at_ns))

    def renew(self, lease: Lease, ttl_ns: int, now_ns: int) -> Lease | None:
        """Extend a held lease; None when it was lost (expired and taken by another replica)."""
        with self.engine.begin() as conn:
            done = conn.execute(job_leases.update().where(
                job_leases.c.name == lease.name, job_leases.c.holder == lease.holder,
                job_leases.c.token == lease.token).values(expires_at_ns=now_ns + ttl_ns, renewed_at_ns=now_ns))
        return Lease(lease.name, lease.holder, lease.token, now_ns + ttl_ns) if done.rowcount else None

    def release(self, lease: Lease, now_ns: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(job_leases.update().where(
                job_leases.c.name == lease.name, job_leases.c.holder == lease.holder,
                job_leases.c.token == lease.token).values(expires_at_ns=now_ns))

    def leases(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(job_leases).order_by(job_leases.c.name))]

    # --- the run log -----------------------------------------------------------------------------------------

    def run_started(self, lease: Lease, now_ns: int) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(job_runs.insert().values(name=lease.name, holder=lease.holder, token=lease.token,
                                                           started_at_ns=now_ns))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def run_finished(self, run_id: int, now_ns: int, ok: bool, summary: str = "", error: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(job_runs.update().where(job_runs.c.id == run_id).values(
                finished_at_ns=now_ns, ok=ok, summary=summary[:TEXT_MAX] or None, error=error[:TEXT_MAX] or None))

    def runs(self, name: str | None = None, limit: int = 1_000) -> list[dict[str, Any]]:
        q = sa.select(job_runs).order_by(job_runs.c.id.desc()).limit(limit)
        if name is not None:
            q = q.where(job_runs.c.name == name)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """Per job: its latest run, and its latest failed run's error."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            latest = sa.select(job_runs.c.name, sa.func.max(job_runs.c.id).label("id")).group_by(job_runs.c.name)
            for name, run_id in conn.execute(latest):
                row = conn.execute(sa.select(job_runs).where(job_runs.c.id == run_id)).one()
                out[str(name)] = dict(row._mapping)
            failed = (sa.select(job_runs.c.name, sa.func.max(job_runs.c.id).label("id"))
                      .where(job_runs.c.ok.is_(False)).group_by(job_runs.c.name))
            for name, run_id in conn.execute(failed):
                err = conn.execute(sa.select(job_runs.c.error, job_runs.c.finished_at_ns)
                                   .where(job_runs.c.id == run_id)).one()
                out.setdefault(str(name), {})["last_error"] = err.error
                out[str(name)]["last_error_at_ns"] = err.finished_at_ns
        return out
