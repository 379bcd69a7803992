"""The outbox relay worker: a bounded polling loop publishing outbox events (bus, NATS, webhooks)."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)
BATCH = 200


def run_relay(container: Any, stop: threading.Event, *, rounds_max: int | None = None) -> int:
    """Publish until `stop` is set (or rounds_max rounds ran); sleeps settings.outbox_relay_interval_s when idle."""
    total = 0
    rounds = 0
    while not stop.is_set() and (rounds_max is None or rounds < rounds_max):
        rounds += 1
        try:
            n = container.relay.run_once(BATCH)
        except Exception:  # the database may be briefly unavailable: log, wait, try again
            log.exception("outbox relay round failed")
            n = 0
        total += n
        if n < BATCH:
            stop.wait(container.settings.outbox_relay_interval_s)
    return total
