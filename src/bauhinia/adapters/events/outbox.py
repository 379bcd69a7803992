"""The transactional outbox and its relay.

A service writes its event with `enqueue(conn, ...)` inside the transaction that changes the state, so the event
exists if and only if the change committed. `OutboxRelay.run_once(limit)` then publishes unpublished events in
id order through a publisher (the in-process bus by default, NATS JetStream or signed webhooks when configured)
and marks them published. Delivery is at least once: consumers de-duplicate on the event id (JetStream does it
for us with the `Nats-Msg-Id` header).

A failed publish stops the batch (so order is kept), counts an attempt and schedules the next one with
exponential backoff; after `max_attempts` the event is set aside as `dead` and the stream moves on;
`replay_dead` puts dead events back in line. Every loop, batch and wait is bounded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.events_tables import outbox_events
from bauhinia.domain.errors import ValidationError

log = logging.getLogger(__name__)

TOPIC_LENGTH_MAX = 128
KEY_LENGTH_MAX = 128
PAYLOAD_BYTES_MAX = 256 * 1024
RELAY_BATCH_MAX = 1_000
ERROR_TEXT_MAX = 500

PENDING = "pending"
PUBLISHED = "published"
DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    topic: str
    key: str | None
    payload: dict[str, Any]
    created_at_ns: int

    def body(self) -> bytes:
        """The canonical JSON envelope every transport carries."""
        envelope = {
            "id": self.id,
            "topic": self.topic,
            "key": self.key,
            "created_at_ns": self.created_at_ns,
            "payload": self.payload,
        }
        return canonical_json(envelope).encode()


class Publisher(Protocol):
    """Delivers one event or raises. Must be safe to call again with the same event (at least once)."""

    def publish(self, event: OutboxEvent) -> None: ...


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_I_EVENT = outbox_events.insert()  # built once: every unit of work that emits runs it


def enqueue(conn: sa.Connection, topic: str, payload: dict, *, now_ns: int, key: str | None = None) -> int:
    """Write one event inside the caller's transaction; returns its id (the publish order)."""
    if not topic or len(topic) > TOPIC_LENGTH_MAX or any(c.isspace() for c in topic):
        raise ValidationError(f"event topic must be 1..{TOPIC_LENGTH_MAX} characters without spaces: {topic!r}")
    if key is not None and len(key) > KEY_LENGTH_MAX:
        raise ValidationError(f"event key longer than {KEY_LENGTH_MAX} characters")
    try:
        body = canonical_json(payload)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"event payload is not JSON: {exc}") from exc
    if len(body.encode()) > PAYLOAD_BYTES_MAX:
        raise ValidationError(f"event payload larger than {PAYLOAD_BYTES_MAX} bytes")
    result = conn.execute(_I_EVENT, {"topic": topic, "key": key, "payload": body, "created_at_ns": now_ns,
                                     "status": PENDING, "attempts": 0, "next_attempt_at_ns": 0})
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


class InProcessBus:
    """The default publisher: calls subscribers in this process, synchronously, in subscription order.

    A subscriber is a callable taking an OutboxEvent; `pattern` is a topic, a prefix ending in `.*`, or `*`.
    A subscriber that raises makes the publish fail, so the relay retries the event later."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Callable[[OutboxEvent], Any]]] = []

    def subscribe(self, pattern: str, handler: Callable[[OutboxEvent], Any]) -> None:
        self._subscribers.append((pattern, handler))

    def publish(self, event: OutboxEvent) -> None:
        for pattern, handler in list(self._subscribers):
            if topic_matches(pattern, event.topic):
                handler(event)


def topic_matches(pattern: str, topic: str) -> bool:
    if pattern in ("*", ">"):
        return True
    if pattern.endswith(".*") or pattern.endswith(".>"):
        return topic.startswith(pattern[:-1])
    return pattern == topic


class FanoutPublisher:
    """Publishes each event through every publisher in turn (e.g. the bus and the webhooks)."""

    def __init__(self, publishers: Sequence[Publisher]) -> None:
        self.publishers = list(publishers)

    def publish(self, event: OutboxEvent) -> None:
        for publisher in self.publishers:
            publisher.publish(event)


def _row_event(row: Any) -> OutboxEvent:
    return OutboxEvent(
        id=int(row.id),
        topic=row.topic,
        key=row.key,
        payload=json.loads(row.payload),
        created_at_ns=int(row.created_at_ns),
    )


try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

_RELAY_LOCK_KEY = 0x6268_6F75_7462_6F78  # "bhoutbox": the PostgreSQL advisory lock of the relay
_memory_claims: dict[int, threading.Lock] = {}
_memory_claims_guard = threading.Lock()


@contextmanager
def relay_claim(engine: Engine) -> Iterator[bool]:
    """The relay's claim on a database's outbox, held for one round: True when this relay has it. Relays on
    several hosts or processes never publish the same events side by side (order and at-most-one-in-flight per
    event); one that finds the claim taken publishes nothing this round. PostgreSQL: a session advisory lock on
    a connection kept for the round (given back if the process dies); a SQLite file: an exclusive `flock` on a
    file beside it; an in-memory database: a lock per engine."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.exec_driver_sql(f"select pg_try_advisory_lock({_RELAY_LOCK_KEY})").scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.exec_driver_sql(f"select pg_advisory_unlock({_RELAY_LOCK_KEY})")
                    conn.commit()
        return
    database = engine.url.database or ""
    if database and database != ":memory:" and fcntl is not None:
        fd = os.open(f"{database}.relay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
            except BlockingIOError:
                got = False
            yield got
        finally:
            os.close(fd)  # gives the lock back
        return
    with _memory_claims_guard:
        lock = _memory_claims.setdefault(id(engine), threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


class OutboxRelay:
    """Publishes pending outbox events in order. Any number of relays may run (API workers, `bauhinia run` on
    several hosts): each round is claimed (`relay_claim`), so one relay at a time publishes a database's
    events."""

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        backoff_base_ns: int = 1_000_000_000,
        backoff_max_ns: int = 300_000_000_000,
        max_attempts: int = 10,
        on_published: Callable[[OutboxEvent, int], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValidationError("max_attempts must be at least 1")
        self.engine = engine
        self.publisher = publisher
        self.clock_ns = clock_ns
        self.backoff_base_ns = backoff_base_ns
        self.backoff_max_ns = backoff_max_ns
        self.max_attempts = max_attempts
        self.on_published = on_published

    def backoff_ns(self, attempts: int) -> int:
        return int(min(self.backoff_max_ns, self.backoff_base_ns * (2 ** max(0, attempts - 1))))

    def run_once(self, limit: int = 100) -> int:
        """Publish up to `limit` due events in id order; returns how many were published (0 when another relay
        holds this round)."""
        limit = max(1, min(int(limit), RELAY_BATCH_MAX))
        with relay_claim(self.engine) as mine:
            return self._round(limit) if mine else 0

    def _round(self, limit: int) -> int:
        now_ns = self.clock_ns()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox_events)
                .where(outbox_events.c.status == PENDING)
                .order_by(outbox_events.c.id)
                .limit(limit)
            ).all()
        published = 0
        for row in rows:
            if int(row.next_attempt_at_ns) > now_ns:
                break  # the head of the line is backing off: keep order, wait for it
            event = _row_event(row)
            try:
                self.publisher.publish(event)
            except Exception as exc:  # any transport failure: count it, back off, keep order
                if self._failed(row, exc):
                    continue  # set aside as dead: the stream moves on
                break
            done_ns = self.clock_ns()
            with self.engine.begin() as conn:
                conn.execute(
                    outbox_events.update()
                    .where(outbox_events.c.id == event.id, outbox_events.c.status == PENDING)
                    .values(status=PUBLISHED, published_at_ns=done_ns, attempts=int(row.attempts) + 1)
                )
            if self.on_published is not None:
                self.on_published(event, done_ns - event.created_at_ns)
            published += 1
        return published

    def _failed(self, row: Any, exc: Exception) -> bool:
        """Record a failed attempt; True when the event ran out of attempts and is now dead."""
        attempts = int(row.attempts) + 1
        now_ns = self.clock_ns()
        error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if attempts >= self.max_attempts:
            values["status"] = DEAD
            log.error("outbox event %s (%s) is dead after %s attempts: %s", row.id, row.topic, attempts, error)
        else:
            values["next_attempt_at_ns"] = now_ns + self.backoff_ns(attempts)
            log.warning("outbox event %s (%s) attempt %s failed: %s", row.id, row.topic, attempts, error)
        with self.engine.begin() as conn:
            conn.execute(
                outbox_events.update()
                .where(outbox_events.c.id == row.id, outbox_events.c.status == PENDING)
                .values(**values)
            )
        return attempts >= self.max_attempts

    def drain(self, *, batch: int = 100, rounds_max: int = 1_000) -> int:
        """Run batches until nothing is due (bounded by rounds_max); returns the total published."""
        total = 0
        for _ in range(rounds_max):
            n = self.run_once(batch)
            total += n
            if n == 0:
                break
        return total


def replay_dead(engine: Engine, ids: Iterable[int] | None = None) -> int:
    """Put dead events (all, or the given ids) back in line for publishing; returns how many."""
    stmt = outbox_events.update().where(outbox_events.c.status == DEAD)
    if ids is not None:
        stmt = stmt.where(outbox_events.c.id.in_(list(ids)))
    with engine.begin() as conn:
        return int(conn.execute(stmt.values(status=PENDING, attempts=0, next_attempt_at_ns=0)).rowcount)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    dead: int
    oldest_pending_age_ns: int


def stats(engine: Engine, now_ns: int) -> OutboxStats:
    """Outbox lag: how many events wait, how many are dead, and the age of the oldest waiting one."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_events.c.status, sa.func.count(), sa.func.min(outbox_events.c.created_at_ns))
            .where(outbox_events.c.status != PUBLISHED)
            .group_by(outbox_events.c.status)
        ).all()
    pending = dead = 0
    oldest = 0
    for status, count, min_created in rows:
        if status == PENDING:
            pending = int(count)
            oldest = max(0, now_ns - int(min_created)) if min_created is not None else 0
        elif status == DEAD:
            dead = int(count)
    return OutboxStats(pending=pending, dead=dead, oldest_pending_age_ns=oldest)


def list_events(engine: Engine, *, status: str | None = None, after_id: int = 0, limit: int = 100) -> list[dict]:
    limit = max(1, min(limit, RELAY_BATCH_MAX))
    stmt = sa.select(outbox_events).where(outbox_events.c.id > after_id).order_by(outbox_events.c.id).limit(limit)
    if status is not None:
        stmt = stmt.where(outbox_events.c.status == status)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
