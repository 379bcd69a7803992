"""Engines and schema migrations for both stores: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with synchronous=FULL (a committed transaction survives power loss), foreign keys on,
and a busy timeout so concurrent processes wait instead of failing. Every area of the product keeps its
tables in its own Alembic branch under migrations/versions; `migrate` upgrades all heads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


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


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # Writers: BEGIN IMMEDIATE takes the write lock up front, so two writers never deadlock on lock upgrade.
    # Readers (connections from `read_connection`) take a plain snapshot and never block a writer.
    if conn.get_execution_options().get("readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with the durability settings this project relies on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


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
