"""Engines and schema migrations for both stores: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with synchronous=FULL (a committed transaction survives power loss), foreign keys on,
and a busy timeout so concurrent processes wait instead of failing. Every area of the product keeps its
tables in its own Alembic branch under migrations/versions; `migrate` upgrades all heads.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

try:
    import fcntl
except ImportError:  # not POSIX: writers of other processes meet SQLite's busy handler only
    fcntl = None  # type: ignore[assignment]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections kept open per engine. The API serves requests on a pool of worker threads (40 by default); each
# connection opened anew pays SQLite's schema parse or a PostgreSQL backend start, so the pool keeps as many open
# as a busy server uses instead of opening and closing one per request beyond a handful.
POOL_SIZE = 40
POOL_OVERFLOW = 20
IDLE_PING_S = 10.0  # PostgreSQL connections idle longer than this are pinged before use


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy-issued BEGIN statements control transactions (pysqlite's own handling is disabled).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA cache_size=-200000")
    cur.close()


class _WriterGate:
    """Queues SQLite writers on locks instead of SQLite's busy handler.

    SQLite has one writer at a time; a second BEGIN IMMEDIATE waits in a busy handler that sleeps in growing
    steps (up to 100 ms), so under many writers most of the time goes to sleeping and the tail latency is that of
    the unluckiest sleeper. Writers of one engine take a thread lock, and then (for a database file) an exclusive
    `flock` on a lock file beside it, before BEGIN IMMEDIATE, and give both back after COMMIT or ROLLBACK has
    reached the file. The kernel hands the file lock to the next waiting process at once, so writers in several
    processes (API workers, CLI, relay) queue in order too; SQLite's own lock and busy timeout stay underneath.
    """

    def __init__(self, lock_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.depth = 0  # nested holds of `lock` by its owner thread; the file lock is held while depth > 0
        self.holders: dict[int, int] = {}  # pooled connection id -> raw DBAPI connection id
        self.lock_path = lock_path if fcntl is not None else None
        self.lock_fd: int | None = None  # open (and locked) only while a writer holds the gate

    def _acquire(self) -> None:
        self.lock.acquire()
        if self.depth == 0 and self.lock_path is not None:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self.lock_fd = fd
            except BaseException:
                self.lock.release()
                raise
        self.depth += 1

    def _release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.lock_fd is not None:
            fd, self.lock_fd = self.lock_fd, None
            os.close(fd)  # closing the descriptor gives the file lock back
        self.lock.release()

    def begin(self, conn: sa.Connection) -> None:
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")  # a reader takes a snapshot and never blocks a writer
            return
        key = id(conn.connection)  # the pooled connection: what the dialect's commit / rollback receive
        self._acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock up front: no deadlock on lock upgrade
        except BaseException:
            self._release()
            raise
        self.holders[key] = id(conn.connection.dbapi_connection)

    def wrap(self, end: Any) -> Any:
        def ended(pooled_conn: Any) -> None:
            try:
                end(pooled_conn)
            finally:
                if self.holders.pop(id(pooled_conn), None) is not None:
                    self._release()

        return ended

    def invalidated(self, dbapi_conn: Any, *_: Any) -> None:
        """A connection thrown away mid-transaction (no COMMIT / ROLLBACK follows) gives the locks back too."""
        for key, raw in list(self.holders.items()):
            if raw == id(dbapi_conn):
                del self.holders[key]
                self._release()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with the durability settings this project relies on."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database or ""
        on_disk = bool(path) and path != ":memory:" and not path.startswith("file:")
        if on_disk:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if on_disk and "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        engine = sa.create_engine(url, **kwargs)
        gate = _WriterGate(f"{path}-writer.lock" if on_disk else None)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", gate.begin)
        engine.dialect.do_commit = gate.wrap(engine.dialect.do_commit)  # type: ignore[method-assign]
        engine.dialect.do_rollback = gate.wrap(engine.dialect.do_rollback)  # type: ignore[method-assign]
        event.listen(engine.pool, "invalidate", gate.invalidated)
        event.listen(engine.pool, "soft_invalidate", gate.invalidated)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, IDLE_PING_S)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float = IDLE_PING_S) -> None:
    """Check a pooled connection before use only when it has been idle for `idle_s`.

    A ping on every checkout (SQLAlchemy's pool_pre_ping) is a round trip per checkout: about a millisecond here,
    a quarter of a small request. A connection in use within the last seconds is alive unless the server has just
    restarted; then the first statement on it fails, SQLAlchemy invalidates the whole pool, and the next checkouts
    connect afresh, so a restart costs at most one failed request per process (clients retry with their
    Idempotency-Key). A connection idle for longer (a quiet night, a firewall dropping idle sessions) is pinged and
    replaced before it is handed out.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("checked_in_at")
        if last is not None and time.monotonic() - last < idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("a pooled connection did not answer its ping")  # the pool retries


def read_connection(engine: Engine) -> sa.Connection:
    """A connection for reads only: one consistent snapshot per transaction, no write lock on SQLite."""
    return engine.connect().execution_options(readonly=True)


def is_sqlite(engine: Engine | sa.Connection) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema of every area up to date (alembic upgrade heads). Idempotent."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
