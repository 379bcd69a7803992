"""The console and transparency page over HTTP without a browser: who may open which page, sign-in refusals,
CSRF and origin checks, maker-checker through the console forms, masking, and the server-side proof checker."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bauhinia.adapters.store import api_credentials as creds

PAGES = ["/console", "/console/reserves", "/console/approvals", "/console/compliance", "/console/customers",
         "/console/customers/szx-hk", "/console/controls"]
ALLOWED = {
    "ops-operator": {"/console", "/console/reserves", "/console/approvals", "/console/customers",
                     "/console/customers/szx-hk"},  # not the controls register: compliance, auditors, admins
    "ops-treasury": {"/console", "/console/reserves", "/console/approvals"},
    "ops-compliance": set(PAGES),
    "ops-auditor": set(PAGES),
    "ops-admin": set(PAGES),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from bauhinia.entrypoints.api.app import create_app
    from bauhinia.entrypoints.web import demo_data

    data = demo_data.seed(tmp_path_factory.mktemp("console-http") / "data", api_jwt_secret="h" * 40, log_json=False)
    data.app = create_app(data.container.settings, container=data.container)
    yield data
    data.container.close()


def _client(demo: Any) -> TestClient:
    return TestClient(demo.app, raise_server_exceptions=True)


def _login(demo: Any, client_id: str, secret: str | None = None) -> TestClient:
    c = _client(demo)
    page = c.get("/console/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    c.post("/console/login", data={"client_id": client_id, "client_secret": secret or demo.secrets[client_id],
                                   "csrf_token": token}, follow_redirects=False)
    return c


def _csrf(c: TestClient, path: str = "/console") -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get(path).text).group(1)


@pytest.mark.parametrize("client_id", sorted(ALLOWED))
def test_page_matrix(demo: Any, client_id: str) -> None:
    c = _login(demo, client_id)
    for path in PAGES:
        r = c.get(path, follow_redirects=False)
        expected = 200 if path in ALLOWED[client_id] else 403
        assert r.status_code == expected, (client_id, path, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in r.headers[
            "content-security-policy"]


def test_anonymous_and_customers_are_sent_to_sign_in(demo: Any) -> None:
    anon = _client(demo)
    for path in PAGES:
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    customer = _login(demo, "cust-szx")
    assert "bh_console" not in customer.cookies
    # A customer's genuine API token in the cookie does not open the console either.
    token, _ = demo.app.state.tokens.issue(creds.get_client(demo.container.engine, "cust-szx"), {"*"})
    customer.cookies.set("bh_console", token, path="/console")
    assert customer.get("/console", follow_redirects=False).status_code == 303
    forged = _client(demo)
    forged.cookies.set("bh_console", "eyJhbGciOiJub25lIn0.e30.", path="/console")
    assert forged.get("/console", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_login_csrf_token(demo: Any) -> None:
    c = _client(demo)
    c.get("/console/login")
    r = c.post("/console/login", data={"client_id": "ops-admin", "client_secret": demo.secrets["ops-admin"],
                                       "csrf_token": "f" * 64}, follow_redirects=False)
    assert r.status_code == 403 and "bh_console" not in c.cookies


def test_posts_need_csrf_and_same_origin(demo: Any) -> None:
    c = _login(demo, "ops-admin")
    good = _csrf(c)
    path = f"/console/approvals/{demo.pending_approval}/approve"
    assert c.post(path, data={"csrf_token": "0" * 64}, follow_redirects=False).status_code == 403
    r = c.post(path, data={"csrf_token": good}, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    other = _login(demo, "ops-admin2")  # another session's token is not valid here
    assert other.post(path, data={"csrf_token": good}, follow_redirects=False).status_code == 403
    assert demo.container.approvals.get(demo.pending_approval).status.value == "requested"


@pytest.mark.parametrize(("client_id", "why"), [
    ("ops-treasury", "maker"),          # made the request
    ("ops-operator", "approver_role"),  # a checker role, but not one the breaker_reset policy accepts
    ("ops-auditor", "read_only"),
])
def test_console_cannot_bypass_maker_checker(demo: Any, client_id: str, why: str) -> None:
    c = _login(demo, client_id)
    r = c.post(f"/console/approvals/{demo.pending_approval}/approve", data={"csrf_token": _csrf(c)},
               follow_redirects=False)
    assert r.status_code == 303 and "level=error" in r.headers["location"], why
    assert demo.container.approvals.get(demo.pending_approval).status.value == "requested"


def test_breaker_trip_is_refused_to_the_auditor_and_reset_needs_approval(demo: Any) -> None:
    from bauhinia.domain.money import Currency

    auditor = _login(demo, "ops-auditor")
    r = auditor.post("/console/reserves/breakers/BHKD/trip", data={"csrf_token": _csrf(auditor), "reason": "x"},
                     follow_redirects=False)
    assert "level=error" in r.headers["location"]
    assert not demo.container.reserves.breaker_state(Currency.BHKD).halted
    operator = _login(demo, "ops-operator")
    r = operator.post("/console/reserves/breakers/BHKD/trip",
                      data={"csrf_token": _csrf(operator), "reason": "bank feed stalled"}, follow_redirects=False)
    assert "level=ok" in r.headers["location"] and demo.container.reserves.breaker_state(Currency.BHKD).halted
    r = operator.post("/console/reserves/breakers/BHKD/reset",
                      data={"csrf_token": _csrf(operator), "reason": "feed restored and reconciled"},
                      follow_redirects=False)
    assert "level=error" in r.headers["location"]  # operators may not even ask
    treasury = _login(demo, "ops-treasury")
    r = treasury.post("/console/reserves/breakers/BHKD/reset",
                      data={"csrf_token": _csrf(treasury), "reason": "feed restored and reconciled"},
                      follow_redirects=False)
    assert "level=ok" in r.headers["location"]
    assert demo.container.reserves.breaker_state(Currency.BHKD).halted  # until a second person approves
    waiting = [a for a in demo.container.approvals.list(status="requested") if a.params.get("coin") == "BHKD"]
    assert len(waiting) == 1 and waiting[0].maker == "client:ops-treasury"
    admin = _login(demo, "ops-admin")
    r = admin.post(f"/console/approvals/{waiting[0].id}/approve", data={"csrf_token": _csrf(admin)},
                   follow_redirects=False)
    assert "level=ok" in r.headers["location"]
    assert not demo.container.reserves.breaker_state(Currency.BHKD).halted


def test_bank_accounts_are_masked_everywhere(demo: Any) -> None:
    c = _login(demo, "ops-compliance")
    for customer_id, account in (("szx-hk", "004-555-100200-838"), ("peak-tea", "012-874-551230-977")):
        html = c.get(f"/console/customers/{customer_id}").text
        assert "•••• " + account.replace("-", "")[-4:] in html
        assert account not in html and account.replace("-", "")[:-4] not in html


def test_console_is_not_in_the_api_contract(demo: Any) -> None:
    paths = _client(demo).get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/console", "/transparency"))]


def test_transparency_is_public_and_checks_against_the_published_root(demo: Any) -> None:
    c = _client(demo)
    page = c.get("/transparency")
    assert page.status_code == 200 and "Check your proof of inclusion" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self': no inline script
    roots = c.get("/transparency/roots.json").json()
    good = demo.proofs["BHKD:harbour-fx"]
    assert json.loads(good)["snapshot_id"] in roots
    ok = c.post("/transparency/verify.json", content=good).json()
    assert ok["valid"] is True and ok["balance"] == "BHKD 880,000.000000"
    holder = demo.holder_ids["BHKD:harbour-fx"]
    assert c.post(f"/transparency/verify.json?holder_id={holder}", content=good).json()["holder_checked"] is True
    wrong_holder = c.post("/transparency/verify.json?holder_id=customer:nobody", content=good).json()
    assert wrong_holder["valid"] is False and "holder id" in wrong_holder["reason"]

    data = json.loads(good)
    data["path"][0]["sum_base_units"] = str(int(data["path"][0]["sum_base_units"]) - 1)
    bad = c.post("/transparency/verify.json", content=json.dumps(data)).json()
    assert bad["valid"] is False
    data = json.loads(good)
    data["snapshot_id"] = "pol-made-up"
    assert "never published" in c.post("/transparency/verify.json", content=json.dumps(data)).json()["reason"]
    data = json.loads(good)
    data["coin"] = "BCNH"
    assert c.post("/transparency/verify.json", content=json.dumps(data)).json()["valid"] is False
    assert c.post("/transparency/verify.json", content=b"not json").json()["valid"] is False
    assert "larger than" in c.post("/transparency/verify.json", content=b" " * 70_000).json()["reason"]


class _ShiftedClock:
    def __init__(self, shift_s: int) -> None:
        import time

        self.shift_ns = shift_s * 1_000_000_000
        self._time = time

    def now_ns(self) -> int:
        return self._time.time_ns() + self.shift_ns


@pytest.mark.parametrize(("to_deadline_s", "level", "text"), [(None, "ok", " h"), (-3_600, "warning", "warning"),
                                                              (3_600, "breached", "overdue")])
def test_redemption_deadline_is_highlighted(demo: Any, to_deadline_s: int | None, level: str, text: str) -> None:
    """The same database seen at a later time: the unpaid redemption turns to warning, then overdue.

    Times are relative to the redemption's own deadline (an hour before it, an hour after it): a fixed shift would
    depend on the weekday the suite runs (a request made on a Friday in Hong Kong is due on Monday)."""
    from bauhinia.bootstrap import Container
    from bauhinia.entrypoints.api.app import create_app

    row = demo.container.issuance.store.redemption(demo.unpaid_redemption)
    import time

    shift_s = 0 if to_deadline_s is None else (int(row.deadline_ns) - time.time_ns()) // 1_000_000_000 + to_deadline_s
    container = Container(demo.container.settings, clock=_ShiftedClock(shift_s))
    app = create_app(container.settings, container=container)
    try:
        demo_view = type("D", (), {"app": app, "secrets": demo.secrets})()
        html = _login(demo_view, "ops-operator").get("/console").text
        found = re.search(rf'<tr class="level-(\w+)" data-redemption="{demo.unpaid_redemption}">(.*?)</tr>', html,
                          re.S)
        assert found, "the unpaid redemption is not on the dashboard"
        assert found.group(1) == level and text in found.group(2)
    finally:
        container.close()
