"""Refused attempts leave a trace: failed authentication, role and scope refusals, maker-checker refusals and
idempotency-key conflicts are audited (client when known, address, route, reason), rate-limited per key and
counted in Prometheus; the access log names the client and the address of every request."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jwt
import pytest
from api_support import Api, make_api

from bauhinia.adapters.store import audit


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def _refused(api: Api) -> list[dict]:
    return [e for e in audit.list_entries(api.container.engine, limit=1_000) if e["action"] == "api.refused"]


def _last(api: Api, reason: str) -> dict:
    found = [e for e in _refused(api) if e["details"]["reason"] == reason]
    assert found, f"no audit entry for {reason}"
    return found[-1]


def test_authentication_failures_are_audited(api: Api) -> None:
    assert api.client.get("/v1/approvals").status_code == 401
    e = _last(api, "unauthenticated")
    assert e["actor"] == "addr:testclient" and e["subject"] == "/v1/approvals"
    assert e["details"]["remote_addr"] == "testclient" and e["details"]["method"] == "GET"

    forged = jwt.encode({"sub": "admin", "iss": "x", "iat": 1, "exp": 2**31}, "y" * 40, algorithm="HS256")
    assert api.client.get("/v1/approvals", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    e = _last(api, "invalid_token")
    assert e["details"]["claimed_client_id"] == "admin" and e["details"]["client_id"] is None

    from bauhinia.adapters.store import api_credentials as creds

    expired, _ = api.client.app.state.tokens.issue(creds.get_client(api.container.engine, "operator"), {"*"},
                                                   now_s=int(time.time()) - 10 * 3600)
    assert api.client.get("/v1/approvals", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert _last(api, "token_expired")["details"]["claimed_client_id"] == "operator"

    assert api.client.get("/v1/approvals", headers={"X-API-Key": "bk_0123456789abcdef_nope"}).status_code == 401
    assert _last(api, "invalid_api_key")["details"]["path"] == "/v1/approvals"


def test_a_wrong_client_secret_at_the_token_endpoint_is_audited(api: Api) -> None:
    r = api.client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "admin",
                                                 "client_secret": "wrong"})
    assert r.status_code == 401
    e = _last(api, "invalid_client")
    assert e["details"]["claimed_client_id"] == "admin" and e["details"]["path"] == "/v1/oauth/token"


def test_role_and_scope_refusals_name_the_client(api: Api) -> None:
    assert api.client.get("/v1/audit/entries", headers=api.headers("customer")).status_code == 403
    e = _last(api, "role_not_allowed")
    assert e["actor"] == "client:customer" and e["details"]["client_id"] == "customer"
    from bauhinia.adapters.store import api_credentials as creds

    token, _ = api.client.app.state.tokens.issue(creds.get_client(api.container.engine, "admin"), {"ledger:read"})
    r = api.client.get("/v1/approvals", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert _last(api, "insufficient_scope")["details"]["client_id"] == "admin"
    # A POST refused by its route's role check (an idempotent route) is audited too.
    r = api.client.post("/v1/role-grants", json={"client_id": "auditor", "role": "compliance"},
                        headers=api.headers("auditor"))
    assert r.status_code == 403
    assert _last(api, "role_not_allowed")["details"]["method"] == "POST"


def test_self_approval_and_idempotency_conflicts_are_audited(api: Api) -> None:
    r = api.client.post("/v1/role-grants", json={"client_id": "auditor", "role": "compliance"},
                        headers=api.headers("admin"))
    approval = r.json()["id"]
    r = api.client.post(f"/v1/approvals/{approval}/approve", json={}, headers=api.headers("admin"))
    assert r.status_code == 403
    e = _last(api, "maker_cannot_approve")
    assert e["details"]["client_id"] == "admin" and e["subject"] == f"/v1/approvals/{approval}/approve"

    h = api.headers("admin", key="same-key")
    api.client.post("/v1/role-grants", json={"client_id": "auditor", "role": "operator"}, headers=h)
    r = api.client.post("/v1/role-grants", json={"client_id": "auditor", "role": "treasury"}, headers=h)
    assert r.status_code == 409
    assert _last(api, "idempotency_key_reused")["details"]["client_id"] == "admin"
    assert audit.verify(api.container.engine).ok


def test_a_flood_is_rate_limited_and_counted(tmp_path: Path) -> None:
    api = make_api(tmp_path, refusal_audit_per_minute=3)
    for _ in range(20):
        assert api.client.get("/v1/approvals", headers={"Authorization": "Bearer junk"}).status_code == 401
    written = [e for e in _refused(api) if e["details"]["reason"] == "invalid_token"]
    assert len(written) == 3
    # Another key (another reason) is not starved by the flood.
    assert api.client.get("/v1/approvals").status_code == 401
    assert _last(api, "unauthenticated")
    metrics = api.client.get("/metrics").text
    assert 'bauhinia_api_refusals_total{reason="invalid_token"} 20.0' in metrics
    assert "bauhinia_api_refusals_suppressed_total 17.0" in metrics
    # When the window turns, the next entry says how many were left out.
    auditor = api.client.app.state.refusals
    for window in auditor._windows.values():
        window[0] -= 61
    auditor._total[0] -= 61
    api.client.get("/v1/approvals", headers={"Authorization": "Bearer junk"})
    assert _last(api, "invalid_token")["details"]["suppressed_before"] == 17


def test_the_access_log_names_client_and_address(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bauhinia.api.access"):
        api.client.get("/v1/me", headers=api.headers("operator"))
        api.client.get("/v1/me")
    lines = [r for r in caplog.records if r.name == "bauhinia.api.access"]
    assert lines[0].client == "operator" and lines[0].remote_addr == "testclient"  # type: ignore[attr-defined]
    assert "client=operator addr=testclient" in lines[0].getMessage()
    assert lines[1].client == "-" and lines[1].remote_addr == "testclient"  # type: ignore[attr-defined]
