"""Console sign-in throttling and server-side console sessions (tables in `security_tables`).

Sign-in failures are counted per key (a client id and the caller's address each have one) in a fixed window;
reaching the limit locks the key until `locked_until_ns`. The state is in the database, so every worker process
and a restart see the same counts.

A console session is an opaque random id (the cookie); the table keeps its SHA-256 digest, the client, the expiry
and, once signed out, when it was revoked. The id is not a token of the API: the API never accepts it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.security_tables import security_console_sessions, security_signin_failures

KEY_LENGTH_MAX = 200
SESSION_ID_BYTES = 32


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def locked_until(engine: Engine, keys: Iterable[str], now_ns: int) -> int | None:
    """The latest lockout still running among `keys`, or None."""
    wanted = [k[:KEY_LENGTH_MAX] for k in keys]
    with engine.connect() as conn:
        until = conn.execute(
            sa.select(sa.func.max(security_signin_failures.c.locked_until_ns))
            .where(security_signin_failures.c.key.in_(wanted), security_signin_failures.c.locked_until_ns > now_ns)
        ).scalar_one_or_none()
    return int(until) if until is not None else None


def record_failure(
    engine: Engine, keys: Iterable[str], now_ns: int, *, limit: int, window_ns: int, lockout_ns: int
) -> int | None:
    """Count one failed sign-in for each key; returns the lockout end when this failure locked a key."""
    t = security_signin_failures
    locked: int | None = None
    with engine.begin() as conn:
        for key in dict.fromkeys(k[:KEY_LENGTH_MAX] for k in keys):
            row = conn.execute(sa.select(t).where(t.c.key == key).with_for_update()).one_or_none()
            if row is None:
                failures, start, until = 1, now_ns, 0
            elif now_ns - int(row.window_start_ns) >= window_ns:
                failures, start, until = 1, now_ns, int(row.locked_until_ns)
            else:
                failures, start, until = int(row.failures) + 1, int(row.window_start_ns), int(row.locked_until_ns)
            if failures >= limit:
                until = now_ns + lockout_ns
                locked = max(locked or 0, until)
                failures, start = 0, now_ns  # the lockout starts a fresh count
            values = {"window_start_ns": start, "failures": failures, "locked_until_ns": until}
            if row is None:
                conn.execute(t.insert().values(key=key, **values))
            else:
                conn.execute(t.update().where(t.c.key == key).values(**values))
    return locked


def clear_failures(engine: Engine, key: str) -> None:
    """A successful sign-in clears its client's count (not the address's: one good account must not reset it)."""
    t = security_signin_failures
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.key == key[:KEY_LENGTH_MAX]))


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    client_id: str
    created_at_ns: int
    expires_at_ns: int


def open_session(engine: Engine, client_id: str, now_ns: int, ttl_ns: int) -> str:
    """A new console session; returns its opaque id (the cookie value, never stored)."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    with engine.begin() as conn:
        conn.execute(security_console_sessions.insert().values(
            id_sha256=_digest(session_id), client_id=client_id, created_at_ns=now_ns, expires_at_ns=now_ns + ttl_ns,
            revoked_at_ns=None,
        ))
    return session_id


def find_session(engine: Engine, session_id: str, now_ns: int) -> ConsoleSession | None:
    """The live session with this id: None when unknown, expired or revoked."""
    t = security_console_sessions
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id_sha256 == _digest(session_id))).one_or_none()
    if row is None or row.revoked_at_ns is not None or int(row.expires_at_ns) <= now_ns:
        return None
    return ConsoleSession(str(row.client_id), int(row.created_at_ns), int(row.expires_at_ns))


def revoke_session(engine: Engine, session_id: str, now_ns: int) -> bool:
    t = security_console_sessions
    with engine.begin() as conn:
        done = conn.execute(t.update().where(t.c.id_sha256 == _digest(session_id), t.c.revoked_at_ns.is_(None))
                            .values(revoked_at_ns=now_ns)).rowcount
    return bool(done)


def prune_sessions(engine: Engine, now_ns: int) -> int:
    """Delete sessions past their expiry (revoked or not)."""
    t = security_console_sessions
    with engine.begin() as conn:
        return int(conn.execute(t.delete().where(t.c.expires_at_ns <= now_ns)).rowcount)
