"""`bauhinia events ...`: run the outbox relay, see the outbox lag, list and replay dead events and webhooks."""

from __future__ import annotations

import json
import threading
import time
from typing import Annotated

import typer

app = typer.Typer(help="Events: the outbox relay, dead events, webhook dead letters and replay.",
                  no_args_is_help=True)


def _container():  # type: ignore[no-untyped-def]
    from bauhinia.bootstrap import Container

    return Container()


@app.command()
def relay(
    once: Annotated[bool, typer.Option("--once", help="publish what is due, then stop")] = False,
    rounds: Annotated[int, typer.Option(help="stop after this many polling rounds (0: until interrupted)")] = 0,
) -> None:
    """Publish outbox events (in-process bus, NATS JetStream and webhooks as configured)."""
    from bauhinia.entrypoints.workers.outbox_relay import run_relay

    container = _container()
    if once:
        typer.echo(json.dumps({"published": container.relay.drain()}))
        return
    stop = threading.Event()
    try:
        total = run_relay(container, stop, rounds_max=rounds or None)
    except KeyboardInterrupt:
        stop.set()
        total = -1
    typer.echo(json.dumps({"published": total}))


@app.command()
def status() -> None:
    """Outbox lag: pending and dead events, age of the oldest pending one."""
    from bauhinia.adapters.events import outbox

    s = outbox.stats(_container().engine, time.time_ns())
    age_s = s.oldest_pending_age_ns / 1e9
    typer.echo(json.dumps({"pending": s.pending, "dead": s.dead, "oldest_pending_age_s": age_s}))


@app.command("replay-dead")
def replay_dead(ids: Annotated[list[int] | None, typer.Argument(help="event ids (default: all dead)")] = None) -> None:
    """Put dead outbox events back in line."""
    from bauhinia.adapters.events import outbox

    typer.echo(json.dumps({"requeued": outbox.replay_dead(_container().engine, ids or None)}))


@app.command("dead-letters")
def dead_letters() -> None:
    """Webhook deliveries that ran out of attempts."""
    for d in _container().webhooks.dead_letters(limit=1_000):
        typer.echo(json.dumps({"id": d.id, "event_id": d.event_id, "endpoint": d.endpoint, "topic": d.topic,
                               "attempts": d.attempts, "last_error": d.last_error}))


@app.command("replay-webhooks")
def replay_webhooks(dead_letter_id: Annotated[int | None, typer.Argument()] = None) -> None:
    """Re-send webhook dead letters (one, or all)."""
    delivered, failing = _container().webhooks.replay(dead_letter_id)
    typer.echo(json.dumps({"delivered": delivered, "still_failing": failing}))
