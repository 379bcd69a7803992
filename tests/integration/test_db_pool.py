"""PostgreSQL connection pool: a connection idle past the threshold is pinged and replaced before use; a recently
used one that the server dropped costs one failed statement, after which the pool connects afresh. SQLite file
writers of two processes queue on the writer lock file instead of failing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from bauhinia.adapters.store import db


def _kill(pg_admin_url: str, pid: int) -> None:
    dsn = pg_admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(%s)", (pid,))


def _pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("select pg_backend_pid()").scalar_one())


def test_an_idle_connection_is_pinged_and_replaced(pg_url: str, pg_admin_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every checkout counts as idle
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    first = _pid(engine)
    _kill(pg_admin_url, first)
    second = _pid(engine)  # the ping failed, the pool connected afresh: no error reaches the caller
    assert second != first
    engine.dispose()


def test_a_busy_connection_dropped_by_the_server_costs_one_statement(pg_url: str, pg_admin_url: str) -> None:
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)  # used just now: not pinged
    first = _pid(engine)
    _kill(pg_admin_url, first)
    with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
        conn.exec_driver_sql("select 1")
    assert _pid(engine) != first  # the pool was invalidated; the next checkout connects afresh
    engine.dispose()


WRITER = """
import sys
from bauhinia.adapters.store.db import make_engine
engine = make_engine(sys.argv[1])
for i in range(int(sys.argv[3])):
    with engine.begin() as conn:
        conn.exec_driver_sql("insert into t (who, n) values (?, ?)", (sys.argv[2], i))
"""


def test_sqlite_writers_of_two_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "w.sqlite3"
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (who text, n integer)")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, who, "300"], stderr=subprocess.PIPE)
             for who in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    with engine.connect() as conn:
        counts = dict(conn.exec_driver_sql("select who, count(*) from t group by who").all())
    assert counts == {"a": 300, "b": 300}
    assert (tmp_path / "w.sqlite3-writer.lock").exists()
    engine.dispose()
