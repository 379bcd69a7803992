"""NATS JetStream publisher for the outbox relay (nats-py).

Each event goes to subject `<prefix>.<topic>` on a stream that captures `<prefix>.>`, with the outbox id as
`Nats-Msg-Id`, so a publish repeated after a crash is de-duplicated by the server within its duplicate window.
nats-py is asyncio; this publisher runs its own event loop on a daemon thread and waits (bounded) for each ack,
so the synchronous relay can call it. The server URL is never logged (it may carry credentials).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from bauhinia.adapters.events.outbox import OutboxEvent
from bauhinia.domain.errors import ValidationError

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5.0
PUBLISH_TIMEOUT_S = 5.0


class JetStreamPublisher:
    def __init__(
        self,
        url: str,
        *,
        stream: str = "BAUHINIA",
        subject_prefix: str = "bauhinia",
        duplicate_window_s: float = 120.0,
        timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        if not url:
            raise ValidationError("NATS url is empty")
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.duplicate_window_s = duplicate_window_s
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-publisher", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._lock = threading.Lock()

    def _run(self, coro: Any, timeout_s: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout_s)

    async def _connect(self) -> None:
        import nats
        from nats.js.api import StreamConfig

        nc = await nats.connect(
            self.url,
            connect_timeout=min(CONNECT_TIMEOUT_S, self.timeout_s),
            max_reconnect_attempts=3,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
        )
        js = nc.jetstream(timeout=self.timeout_s)
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.subject_prefix}.>"],
            duplicate_window=self.duplicate_window_s,
        )
        try:
            await js.add_stream(config)
        except Exception:
            await js.update_stream(config)
        self._nc, self._js = nc, js

    def connect(self) -> None:
        with self._lock:
            if self._js is None:
                self._run(self._connect(), CONNECT_TIMEOUT_S + self.timeout_s)

    def subject(self, topic: str) -> str:
        return f"{self.subject_prefix}.{topic}"

    def publish(self, event: OutboxEvent) -> None:
        self.connect()

        async def send() -> Any:
            return await self._js.publish(
                self.subject(event.topic),
                event.body(),
                timeout=self.timeout_s,
                stream=self.stream,
                headers={"Nats-Msg-Id": f"outbox-{event.id}", "Bauhinia-Topic": event.topic},
            )

        self._run(send(), self.timeout_s + 1.0)

    def close(self) -> None:
        async def shut() -> None:
            if self._nc is not None:
                await self._nc.drain()

        try:
            self._run(shut(), self.timeout_s)
        finally:
            self._nc = self._js = None
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout_s)


class JetStreamConsumer:
    """A durable pull consumer of the events stream (nats-py): every replica that opens the same durable name
    shares its messages (each message goes to one of them), and a message is acknowledged only after its handler
    returned, so one a replica died holding is delivered again after `ack_wait_s`. Runs its own event loop on a
    daemon thread, like the publisher; `fetch` is synchronous and bounded."""

    def __init__(self, url: str, durable: str, *, stream: str = "BAUHINIA", subject_prefix: str = "bauhinia",
                 topics: tuple[str, ...] = (">",), ack_wait_s: float = 30.0, timeout_s: float = PUBLISH_TIMEOUT_S
                 ) -> None:
        if not url or not durable:
            raise ValidationError("NATS url and a durable consumer name are required")
        self.url = url
        self.durable = durable
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.topics = topics
        self.ack_wait_s = ack_wait_s
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"nats-{durable}", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._subs: list[Any] = []
        self._lock = threading.Lock()

    def _run(self, coro: Any, timeout_s: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout_s)

    async def _connect(self) -> None:
        import nats
        from nats.js.api import ConsumerConfig, StreamConfig

        nc = await nats.connect(self.url, connect_timeout=min(CONNECT_TIMEOUT_S, self.timeout_s),
                                max_reconnect_attempts=3, reconnect_time_wait=0.5, allow_reconnect=True)
        js = nc.jetstream(timeout=self.timeout_s)
        try:
            await js.add_stream(StreamConfig(name=self.stream, subjects=[f"{self.subject_prefix}.>"]))
        except Exception as exc:  # it exists (made by the publisher): keep its configuration
            log.debug("stream %s not added (%s): using the one there", self.stream, type(exc).__name__)
        subs = []
        for i, topic in enumerate(self.topics):
            name = self.durable if len(self.topics) == 1 else f"{self.durable}-{i}"
            subs.append(await js.pull_subscribe(f"{self.subject_prefix}.{topic}", durable=name, stream=self.stream,
                                                config=ConsumerConfig(ack_wait=self.ack_wait_s)))
        self._nc, self._subs = nc, subs

    def connect(self) -> None:
        with self._lock:
            if not self._subs:
                self._run(self._connect(), CONNECT_TIMEOUT_S + self.timeout_s)

    def fetch(self, handler: Any, *, batch: int = 50, wait_s: float = 1.0) -> int:
        """Hand up to `batch` messages per topic to `handler(topic, payload_bytes)`, acknowledging each after the
        handler returned (a handler that raises leaves it for redelivery). Returns how many were handled."""
        self.connect()
        prefix = self.subject_prefix + "."

        async def pull() -> list[Any]:
            import nats.errors

            got: list[Any] = []
            for sub in self._subs:
                try:
                    got += await sub.fetch(batch, timeout=wait_s)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
            return got

        handled = 0
        for msg in self._run(pull(), wait_s * max(1, len(self._subs)) + self.timeout_s):
            topic = msg.subject[len(prefix):] if msg.subject.startswith(prefix) else msg.subject
            handler(topic, bytes(msg.data))
            self._run(msg.ack(), self.timeout_s)
            handled += 1
        return handled

    def close(self) -> None:
        async def shut() -> None:
            if self._nc is not None:  # every handled message is acked already: close, do not drain the pulls
                await self._nc.close()

        try:
            self._run(shut(), self.timeout_s)
        finally:
            self._nc, self._subs = None, []
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout_s)
