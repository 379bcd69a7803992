"""Signed webhooks: each event is POSTed as JSON to every endpoint subscribed to its topic.

Signature: header `Bauhinia-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>` (the
timestamp is signed with the body, so a captured request cannot be replayed later than the receiver's
tolerance). Receivers check it with `verify_signature`. A delivery is retried with exponential backoff up to
`attempts_max` times; one that still fails goes to the dead-letter list (table `webhook_dead_letters`) and the
stream moves on, so one broken receiver never blocks the others. `replay` re-sends dead letters.
Secrets and signatures are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.events.outbox import ERROR_TEXT_MAX, OutboxEvent, topic_matches
from bauhinia.adapters.store.events_tables import webhook_dead_letters
from bauhinia.domain.errors import NotFoundError, ValidationError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Bauhinia-Signature"
EVENT_ID_HEADER = "Bauhinia-Event-Id"
TOPIC_HEADER = "Bauhinia-Topic"
TOLERANCE_S_DEFAULT = 300
REPLAY_BATCH_MAX = 1_000


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    name: str
    url: str
    secret: str = field(repr=False)
    topics: tuple[str, ...] = ("*",)

    def wants(self, topic: str) -> bool:
        return any(topic_matches(p, topic) for p in self.topics)


def sign(secret: str, timestamp_s: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now_s: int, tolerance_s: int = TOLERANCE_S_DEFAULT
) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance_s` of now."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp_s = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - timestamp_s) > tolerance_s:
        return False
    expected = sign(secret, timestamp_s, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    event_id: int
    endpoint: str
    topic: str
    body: str
    attempts: int
    last_error: str
    created_at_ns: int
    replayed_at_ns: int | None


class WebhookPublisher:
    """An outbox publisher that fans each event out to subscribed webhook endpoints."""

    def __init__(
        self,
        engine: Engine,
        endpoints: Sequence[WebhookEndpoint],
        *,
        attempts_max: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock_s: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
    ) -> None:
        if attempts_max < 1:
            raise ValidationError("attempts_max must be at least 1")
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValidationError("webhook endpoint names must be unique")
        self.engine = engine
        self.endpoints = {e.name: e for e in endpoints}
        self.attempts_max = attempts_max
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.sleep = sleep
        self.clock_s = clock_s
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def backoff_s(self, attempt: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * (2 ** max(0, attempt - 1))))

    def _post_once(self, endpoint: WebhookEndpoint, event_id: int, topic: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(endpoint.secret, int(self.clock_s()), body),
            EVENT_ID_HEADER: str(event_id),
            TOPIC_HEADER: topic,
        }
        response = self.client.post(endpoint.url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"receiver answered HTTP {response.status_code}")

    def deliver(self, endpoint: WebhookEndpoint, event_id: int, topic: str, body: bytes) -> tuple[bool, int, str]:
        """Try up to attempts_max times with backoff; returns (delivered, attempts, last error)."""
        error = ""
        for attempt in range(1, self.attempts_max + 1):
            try:
                self._post_once(endpoint, event_id, topic, body)
                return True, attempt, ""
            except (httpx.HTTPError, RuntimeError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]
                log.warning("webhook %s event %s attempt %s failed: %s", endpoint.name, event_id, attempt, error)
                if attempt < self.attempts_max:
                    self.sleep(self.backoff_s(attempt))
        return False, self.attempts_max, error

    def publish(self, event: OutboxEvent) -> None:
        body = event.body()
        for endpoint in self.endpoints.values():
            if not endpoint.wants(event.topic):
                continue
            ok, attempts, error = self.deliver(endpoint, event.id, event.topic, body)
            if not ok:
                with self.engine.begin() as conn:
                    conn.execute(
                        webhook_dead_letters.insert().values(
                            event_id=event.id,
                            endpoint=endpoint.name,
                            topic=event.topic,
                            body=body.decode(),
                            attempts=attempts,
                            last_error=error or "failed",
                            created_at_ns=time.time_ns(),
                        )
                    )

    def dead_letters(self, *, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]:
        stmt = sa.select(webhook_dead_letters).order_by(webhook_dead_letters.c.id).limit(min(limit, 1_000))
        if not include_replayed:
            stmt = stmt.where(webhook_dead_letters.c.replayed_at_ns.is_(None))
        with self.engine.connect() as conn:
            return [DeadLetter(**dict(r._mapping)) for r in conn.execute(stmt)]

    def replay(self, dead_letter_id: int | None = None) -> tuple[int, int]:
        """Re-send one dead letter (or all not yet replayed, bounded); returns (delivered, still failing)."""
        stmt = sa.select(webhook_dead_letters).where(webhook_dead_letters.c.replayed_at_ns.is_(None))
        if dead_letter_id is not None:
            stmt = stmt.where(webhook_dead_letters.c.id == dead_letter_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(webhook_dead_letters.c.id).limit(REPLAY_BATCH_MAX)).all()
        if dead_letter_id is not None and not rows:
            raise NotFoundError(f"no pending dead letter {dead_letter_id}")
        delivered = failing = 0
        for row in rows:
            endpoint = self.endpoints.get(row.endpoint)
            if endpoint is None:
                failing += 1
                continue
            ok, attempts, error = self.deliver(endpoint, int(row.event_id), row.topic, row.body.encode())
            with self.engine.begin() as conn:
                if ok:
                    delivered += 1
                    values: dict = {"replayed_at_ns": time.time_ns()}
                else:
                    failing += 1
                    values = {"attempts": int(row.attempts) + attempts, "last_error": error}
                conn.execute(
                    webhook_dead_letters.update().where(webhook_dead_letters.c.id == row.id).values(**values)
                )
        return delivered, failing
