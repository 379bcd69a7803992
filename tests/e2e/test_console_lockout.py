"""Console sign-in failure limit with lockout (kept in the database), server-side sessions that sign-out revokes,
and a session cookie that is no API token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_support import Api, make_api
from fastapi.testclient import TestClient

from bauhinia.adapters.store import audit
from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.entrypoints.api.app import create_app


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def _form(c: TestClient) -> str:
    page = c.get("/console/login")
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]


def _attempt(c: TestClient, client_id: str, secret: str) -> object:
    return c.post("/console/login", data={"client_id": client_id, "client_secret": secret, "csrf_token": _form(c)},
                  follow_redirects=False)


def _refusals(api: Api, reason: str) -> list[dict]:
    return [e for e in audit.list_entries(api.container.engine, limit=1_000)
            if e["action"] == "console.refused" and e["details"]["reason"] == reason]


def test_five_failures_lock_the_client_out_even_with_the_right_secret(api: Api) -> None:
    secret = api.add_client("ops-1", {"operator"})
    c = TestClient(api.client.app)
    for _ in range(4):
        r = _attempt(c, "ops-1", "wrong")
        assert r.status_code == 303 and "bh_console" not in c.cookies
    r = _attempt(c, "ops-1", "wrong")  # the fifth failure locks
    assert r.status_code == 429 and "locked" in r.text and int(r.headers["retry-after"]) > 800
    r = _attempt(c, "ops-1", secret)  # refused without checking the secret
    assert r.status_code == 429 and "bh_console" not in c.cookies
    assert len(_refusals(api, "signin_failed")) == 5
    locked = _refusals(api, "signin_locked")
    assert locked and locked[0]["details"]["remote_addr"] == "testclient"
    assert locked[0]["details"]["claimed_client_id"] == "ops-1"


def test_the_lockout_holds_across_processes_and_ends(api: Api, tmp_path: Path) -> None:
    secret = api.add_client("ops-2", {"operator"})
    c = TestClient(api.client.app)
    for _ in range(5):
        _attempt(c, "ops-2", "wrong")
    # Another app (another worker, or after a restart) over the same database sees the lockout.
    s = api.container.settings
    other = Container(s)
    try:
        c2 = TestClient(create_app(s, container=other))
        assert _attempt(c2, "ops-2", secret).status_code == 429
    finally:
        other.close()
    # A different client from the same address is locked too (the address reached the limit).
    secret3 = api.add_client("ops-3", {"operator"})
    assert _attempt(c, "ops-3", secret3).status_code == 429
    # After the lockout, the right secret works again.
    later = Container(s, clock=_Later(api.container.clock, 16 * 60))
    try:
        c3 = TestClient(create_app(s, container=later))
        r = _attempt(c3, "ops-2", secret)
        assert r.status_code == 303 and r.headers["location"] == "/console"
    finally:
        later.close()


class _Later:
    def __init__(self, clock: object, seconds: int) -> None:
        self.clock = clock
        self.shift = seconds * 1_000_000_000

    def now_ns(self) -> int:
        return self.clock.now_ns() + self.shift  # type: ignore[attr-defined, no-any-return]


def test_sign_out_revokes_the_session_and_the_cookie_is_no_api_token(api: Api) -> None:
    secret = api.add_client("ops-4", {"admin"})
    c = TestClient(api.client.app)
    assert _attempt(c, "ops-4", secret).status_code == 303
    cookie = c.cookies["bh_console"]
    assert c.get("/console", follow_redirects=False).status_code == 200
    # The cookie is an opaque session id: the API does not take it as a bearer token.
    r = api.client.get("/v1/approvals", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401
    assert cookie.count(".") != 2  # not a JWT
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/console").text).group(1)  # type: ignore[union-attr]
    assert c.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    replay = TestClient(api.client.app)
    replay.cookies.set("bh_console", cookie, path="/console")
    r = replay.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_a_good_sign_in_resets_the_client_count_not_the_address(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d2", api_jwt_secret="x" * 40, log_json=False, console_signin_failures_max=3)
    container = Container(s)
    try:
        from bauhinia.adapters.store import api_credentials as creds

        secret = creds.create_client(container.engine, "ops-5", {"operator"})
        app = create_app(s, container=container)
        here = TestClient(app, client=("10.0.0.1", 1000))
        _attempt(here, "ops-5", "wrong")
        _attempt(here, "ops-5", "wrong")
        assert _attempt(here, "ops-5", secret).status_code == 303  # the client's count starts again
        there = TestClient(app, client=("10.0.0.2", 1000))
        _attempt(there, "ops-5", "wrong")
        assert _attempt(there, "ops-5", "wrong").status_code == 303  # 2 failures for the client: not locked
        # The first address keeps its two failures: one more locks it, whatever client it tries.
        creds.create_client(container.engine, "ops-6", {"operator"})
        assert _attempt(here, "ops-6", "wrong").status_code == 429
    finally:
        container.close()


def test_csrf_refusals_are_audited(api: Api) -> None:
    c = TestClient(api.client.app)
    c.get("/console/login")
    r = c.post("/console/login", data={"client_id": "admin", "client_secret": "x", "csrf_token": "f" * 64},
               follow_redirects=False)
    assert r.status_code == 403
    entry = _refusals(api, "csrf_refused")[-1]
    assert entry["details"]["path"] == "/console/login" and entry["details"]["remote_addr"] == "testclient"


def test_console_role_refusals_are_audited(api: Api) -> None:
    secret = api.add_client("ops-7", {"treasury"})
    c = TestClient(api.client.app)
    assert _attempt(c, "ops-7", secret).status_code == 303
    assert c.get("/console/controls", follow_redirects=False).status_code == 403
    entry = _refusals(api, "role_not_allowed")[-1]
    assert entry["actor"] == "client:ops-7" and entry["details"]["path"] == "/console/controls"
