"""Shared fixtures. A missing service or tool (PostgreSQL, NATS, the Hardhat node, chromium, wrk) goes through
`service_missing`: under CI=true it fails the run, elsewhere its tests skip with the reason. Data the tests read
(sanctions snapshot, ISO 20022 samples) is in the tree, so a missing file fails everywhere."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

# Tests are demo runs: they may use the demo licence, accounts and CDD pepper, and keep screening out of the issuance
# flow unless a test is about it (the lists take seconds to load). test_fail_closed.py checks the real defaults by
# building Settings with demo=False. Subprocesses (the CLI and server tests) inherit these.
os.environ.setdefault("BAUHINIA_DEMO", "1")
os.environ.setdefault("BAUHINIA_SCREEN_ISSUANCE", "0")
# Tests write whole bank files and read them at once: a file that does not parse is judged on sight (the bank
# tests that are about files still arriving set the settle time themselves).
os.environ.setdefault("BAUHINIA_BANK_INBOX_SETTLE_S", "0")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("BAUHINIA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def service_missing(what: str, why: str) -> None:
    """Fail under CI, skip elsewhere."""
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        service_missing("PostgreSQL", f"{dsn}: {exc}")
    return PG_ADMIN_URL


@pytest.fixture()
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    dsn = pg_admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bauhinia_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    base, _, _ = pg_admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture()
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/bauhinia.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both stores: the embedded SQLite file and PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))
