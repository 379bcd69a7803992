"""NATS JetStream publisher for the outbox relay (nats-py).

Each event goes to subject `<prefix>.<topic>` on a stream that captures `<prefix>.>`, with the outbox id as
`Nats-Msg-Id`, so a publish repeated after a crash is de-duplicated by the server within its duplicate window.
nats-py is asyncio; this publisher runs its own event loop on a daemon thread and waits (bounded) for each ack,
so the synchronous relay can call it. The server URL is never logged (it may carry credentials).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bauhinia.adapters.events.outbox import OutboxEvent
from bauhinia.domain.errors import ValidationError

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
