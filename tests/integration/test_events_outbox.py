"""Outbox relay over SQLite and PostgreSQL, the in-process bus, NATS JetStream and signed webhooks."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bauhinia.adapters.events import outbox
from bauhinia.adapters.events.webhooks import (
    SIGNATURE_HEADER,
    WebhookEndpoint,
    WebhookPublisher,
    sign,
    verify_signature,
)
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain.errors import ValidationError
from conftest import service_missing  # tests/conftest.py


@pytest.fixture()
def engine(db_url: str):
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def sqlite_engine(sqlite_url: str):
    eng = make_engine(sqlite_url)
    migrate(eng)
    yield eng
    eng.dispose()


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000_000_000

    def __call__(self) -> int:
        return self.t


def test_events_publish_in_order_only_after_commit(engine) -> None:
    bus = outbox.InProcessBus()
    seen: list[tuple[int, str, dict]] = []
    bus.subscribe("ledger.*", lambda e: seen.append((e.id, e.topic, e.payload)))
    with engine.begin() as conn:
        a = outbox.enqueue(conn, "ledger.transfer", {"n": 1}, now_ns=1)
        b = outbox.enqueue(conn, "ledger.transfer", {"n": 2}, now_ns=2, key="k")
        outbox.enqueue(conn, "other.thing", {"n": 3}, now_ns=3)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        outbox.enqueue(conn, "ledger.transfer", {"n": 99}, now_ns=4)
        raise RuntimeError("rolled back")
    relay = outbox.OutboxRelay(engine, bus)
    assert relay.run_once(10) == 3
    assert [s[0] for s in seen] == [a, b]
    assert [s[2]["n"] for s in seen] == [1, 2]
    assert relay.run_once(10) == 0  # nothing published twice
    assert outbox.stats(engine, 10).pending == 0


def test_two_relays_never_publish_side_by_side(engine, db_url: str) -> None:
    """Two relays (two API workers, two hosts) on one database: while one holds its round, the other publishes
    nothing; every event is published once. Before: both read the same pending rows and published them twice."""
    with engine.begin() as conn:
        for n in range(5):
            outbox.enqueue(conn, "ledger.transfer", {"n": n}, now_ns=n + 1)
    other_engine = make_engine(db_url)  # the second relay's own connections, as in another process
    seen: list[int] = []
    inside, release = threading.Event(), threading.Event()

    class Slow:
        def publish(self, event: outbox.OutboxEvent) -> None:
            seen.append(event.id)
            inside.set()
            assert release.wait(10)

    first = outbox.OutboxRelay(engine, Slow())
    second = outbox.OutboxRelay(other_engine, outbox.InProcessBus())
    second_bus_seen: list[int] = []
    second.publisher.subscribe("*", lambda e: second_bus_seen.append(e.id))  # type: ignore[attr-defined]
    worker = threading.Thread(target=first.run_once, args=(10,))
    worker.start()
    try:
        assert inside.wait(10)
        assert second.run_once(10) == 0  # the round is claimed by the first relay
    finally:
        release.set()
        worker.join(20)
    assert len(seen) == 5 and second_bus_seen == []
    assert second.run_once(10) == 0 and outbox.stats(engine, 10).pending == 0
    other_engine.dispose()


def test_enqueue_refuses_bad_input(sqlite_engine) -> None:
    with sqlite_engine.begin() as conn:
        with pytest.raises(ValidationError):
            outbox.enqueue(conn, "has space", {}, now_ns=1)
        with pytest.raises(ValidationError):
            outbox.enqueue(conn, "t", {"x": {1, 2}}, now_ns=1)


def test_failure_backs_off_keeps_order_and_dies_after_max_attempts(sqlite_engine) -> None:
    clock = Clock()
    delivered: list[int] = []
    fail = {"on": True}

    def handler(e: outbox.OutboxEvent) -> None:
        if fail["on"] and e.payload["n"] == 1:
            raise ConnectionError("down")
        delivered.append(e.payload["n"])

    bus = outbox.InProcessBus()
    bus.subscribe("*", handler)
    with sqlite_engine.begin() as conn:
        for n in range(3):
            outbox.enqueue(conn, "t", {"n": n}, now_ns=0)
    relay = outbox.OutboxRelay(sqlite_engine, bus, clock_ns=clock, backoff_base_ns=1_000, max_attempts=3)
    assert relay.run_once(10) == 1 and delivered == [0]
    assert relay.run_once(10) == 0  # event 1 backs off; event 2 waits behind it
    clock.t += 1_000
    assert relay.run_once(10) == 0
    ev = outbox.list_events(sqlite_engine)[1]
    assert ev["attempts"] == 2 and "ConnectionError" in ev["last_error"]
    assert ev["next_attempt_at_ns"] == clock.t + 2_000  # exponential: 1000, 2000
    clock.t += 2_000
    assert relay.run_once(10) == 1  # third failure: dead, the stream moves on
    assert delivered == [0, 2]
    assert outbox.stats(sqlite_engine, clock.t).dead == 1
    fail["on"] = False
    assert outbox.replay_dead(sqlite_engine) == 1
    assert relay.run_once(10) == 1 and delivered == [0, 2, 1]


def test_run_once_is_bounded_by_limit(sqlite_engine) -> None:
    bus = outbox.InProcessBus()
    with sqlite_engine.begin() as conn:
        for n in range(25):
            outbox.enqueue(conn, "t", {"n": n}, now_ns=0)
    relay = outbox.OutboxRelay(sqlite_engine, bus)
    assert relay.run_once(10) == 10
    assert relay.drain(batch=10) == 15


# --- NATS JetStream -----------------------------------------------------------------------------------------

NATS_URL = "nats://127.0.0.1:4222"


def _nats_up() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=2):
            pass
    except OSError as exc:
        service_missing("NATS", f"{NATS_URL}: {exc}")


def test_relay_to_jetstream(sqlite_engine) -> None:
    _nats_up()
    import asyncio

    import nats

    from bauhinia.adapters.events.nats_jetstream import JetStreamPublisher

    stream = f"BT{uuid.uuid4().hex[:10].upper()}"
    prefix = f"bt{uuid.uuid4().hex[:8]}"
    publisher = JetStreamPublisher(NATS_URL, stream=stream, subject_prefix=prefix)
    try:
        with sqlite_engine.begin() as conn:
            ids = [outbox.enqueue(conn, "ledger.posted", {"n": n}, now_ns=n) for n in range(3)]
        relay = outbox.OutboxRelay(sqlite_engine, publisher)
        assert relay.run_once(10) == 3
        # A repeated publish (crash after publish, before marking) is de-duplicated by Nats-Msg-Id.
        event = outbox.OutboxEvent(ids[0], "ledger.posted", None, {"n": 0}, 0)
        publisher.publish(event)

        async def read() -> list[dict]:
            nc = await nats.connect(NATS_URL)
            try:
                js = nc.jetstream()
                info = await js.stream_info(stream)
                assert info.state.messages == 3
                sub = await js.pull_subscribe(f"{prefix}.>", durable=None, stream=stream)
                msgs = await sub.fetch(3, timeout=5)
                return [json.loads(m.data) for m in msgs]
            finally:
                await js.delete_stream(stream)
                await nc.close()

        bodies = asyncio.run(read())
        assert [b["id"] for b in bodies] == ids
        assert [b["payload"]["n"] for b in bodies] == [0, 1, 2]
    finally:
        publisher.close()


def test_jetstream_unreachable_fails_the_publish_and_relay_retries(sqlite_engine) -> None:
    from bauhinia.adapters.events.nats_jetstream import JetStreamPublisher

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    publisher = JetStreamPublisher(f"nats://127.0.0.1:{port}", timeout_s=1.0)
    try:
        with sqlite_engine.begin() as conn:
            outbox.enqueue(conn, "t", {}, now_ns=0)
        relay = outbox.OutboxRelay(sqlite_engine, publisher)
        assert relay.run_once(10) == 0
        assert outbox.list_events(sqlite_engine)[0]["attempts"] == 1
    finally:
        publisher.close()


# --- Webhooks -----------------------------------------------------------------------------------------------


class Receiver:
    """A local HTTP receiver on 127.0.0.1 that fails the first `fail_first` requests."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.requests: list[tuple[dict, bytes, bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                import time

                ok = verify_signature(receiver.secret, self.headers[SIGNATURE_HEADER], body, now_s=int(time.time()))
                receiver.requests.append((dict(self.headers), body, ok))
                status = 500 if len(receiver.requests) <= receiver.fail_first else (200 if ok else 401)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_signature_roundtrip_and_tamper() -> None:
    body = b'{"a":1}'
    header = sign("s3cret", 1_700_000_000, body)
    assert verify_signature("s3cret", header, body, now_s=1_700_000_010)
    assert not verify_signature("s3cret", header, b'{"a":2}', now_s=1_700_000_010)
    assert not verify_signature("other", header, body, now_s=1_700_000_010)
    assert not verify_signature("s3cret", header, body, now_s=1_700_000_000 + 301)  # too old: replay refused
    assert not verify_signature("s3cret", "garbage", body, now_s=1_700_000_000)


def test_webhook_delivery_signed_with_retries(sqlite_engine) -> None:
    sleeps: list[float] = []
    with Receiver("whsec", fail_first=2) as rx:
        pub = WebhookPublisher(
            sqlite_engine, [WebhookEndpoint("erp", rx.url, "whsec", ("ledger.*",))],
            attempts_max=4, backoff_base_s=0.01, sleep=sleeps.append,
        )
        with sqlite_engine.begin() as conn:
            eid = outbox.enqueue(conn, "ledger.posted", {"amount_minor": 5}, now_ns=7)
            outbox.enqueue(conn, "reserves.other", {}, now_ns=8)  # not subscribed
        assert outbox.OutboxRelay(sqlite_engine, pub).run_once(10) == 2
    assert len(rx.requests) == 3
    assert sleeps == [0.01, 0.02]  # exponential backoff between attempts
    headers, body, ok = rx.requests[-1]
    assert ok and json.loads(body)["id"] == eid and headers["Bauhinia-Event-Id"] == str(eid)
    assert pub.dead_letters() == []


def test_webhook_dead_letter_and_replay(sqlite_engine) -> None:
    with Receiver("whsec", fail_first=3) as rx:
        good_url = rx.url
        pub = WebhookPublisher(
            sqlite_engine,
            [WebhookEndpoint("erp", good_url, "whsec")],
            attempts_max=3, backoff_base_s=0.0, sleep=lambda s: None,
        )
        with sqlite_engine.begin() as conn:
            outbox.enqueue(conn, "t", {"n": 1}, now_ns=1)
        assert outbox.OutboxRelay(sqlite_engine, pub).run_once(10) == 1  # the stream moves on
        dead = pub.dead_letters()
        assert len(dead) == 1 and dead[0].attempts == 3 and "500" in dead[0].last_error
        assert pub.replay() == (1, 0)
        assert pub.dead_letters() == []
        assert rx.requests[-1][2]  # the replayed request is signed afresh
    assert len(rx.requests) == 4


def test_container_wires_webhooks_from_settings(tmp_path) -> None:
    from bauhinia.bootstrap import Container
    from bauhinia.config import Settings

    with Receiver("s3cret-value") as rx:
        hooks = json.dumps([{"name": "erp", "url": rx.url, "secret": "s3cret-value", "topics": ["approvals.*"]}])
        container = Container(Settings(data_dir=tmp_path, webhooks_json=hooks))
        seen: list[str] = []
        container.bus.subscribe("*", lambda e: seen.append(e.topic))
        with container.engine.begin() as conn:
            outbox.enqueue(conn, "approvals.requested", {"id": "a1"}, now_ns=1)
        from bauhinia.entrypoints.workers.outbox_relay import run_relay

        assert run_relay(container, threading.Event(), rounds_max=1) == 1
        container.close()
    assert seen == ["approvals.requested"]
    assert len(rx.requests) == 1 and rx.requests[0][2]


def test_durable_consumers_share_the_stream_and_wake_the_service(sqlite_engine) -> None:
    """Two replicas' durable consumers of one name share the events (each reaches one), acknowledged after the
    handler; an event the service listens for wakes its job on that replica."""
    _nats_up()
    from bauhinia.adapters.events.nats_jetstream import JetStreamConsumer, JetStreamPublisher
    from bauhinia.entrypoints.service import WAKES

    stream = f"BW{uuid.uuid4().hex[:10].upper()}"
    prefix = f"bw{uuid.uuid4().hex[:8]}"
    publisher = JetStreamPublisher(NATS_URL, stream=stream, subject_prefix=prefix)
    with sqlite_engine.begin() as conn:
        for n in range(6):
            outbox.enqueue(conn, "subscriptions.received", {"subscriptions": [n]}, now_ns=n + 1)
        outbox.enqueue(conn, "ledger.transfer", {"n": 99}, now_ns=7)
    assert outbox.OutboxRelay(sqlite_engine, publisher).run_once(10) == 7
    a = JetStreamConsumer(NATS_URL, "svc", stream=stream, subject_prefix=prefix, topics=tuple(WAKES))
    b = JetStreamConsumer(NATS_URL, "svc", stream=stream, subject_prefix=prefix, topics=tuple(WAKES))
    got_a: list[str] = []
    got_b: list[str] = []
    try:
        a.fetch(lambda topic, body: got_a.append(json.loads(body)["payload"]["subscriptions"][0]), batch=3,
                wait_s=1.0)
        b.fetch(lambda topic, body: got_b.append(json.loads(body)["payload"]["subscriptions"][0]), batch=10,
                wait_s=1.0)
        assert sorted(got_a + got_b) == list(range(6)) and len(got_a) == 3  # each event to one replica
        assert a.fetch(lambda t, b_: None, wait_s=0.5) == 0 and b.fetch(lambda t, b_: None, wait_s=0.5) == 0  # acked
    finally:
        a.close()
        b.close()
        publisher.close()
