"""API conventions: problem+json errors, auth, idempotency replay and conflict, pagination, metrics, ES256."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Api, make_api  # tests/e2e/api_support.py


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def _is_problem(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status and body["type"].endswith(body["code"])
    if code is not None:
        assert body["code"] == code, body
    return body


def test_openapi_is_3_1_and_every_post_takes_an_idempotency_key(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path, ops in spec["paths"].items():
        assert path.startswith("/v1/")
        if "post" in ops and path not in ("/v1/oauth/token", "/v1/clients/{client_id}/enrolment"):  # credentials
            names = {p["name"] for p in ops["post"].get("parameters", [])}
            assert "Idempotency-Key" in names, path


def test_problem_shapes(api: Api) -> None:
    _is_problem(api.client.get("/v1/ledger/accounts"), 401, "unauthenticated")
    _is_problem(api.client.get("/v1/ledger/accounts", headers={"Authorization": "Bearer nope"}), 401, "invalid_token")
    _is_problem(api.client.get("/v1/ledger/accounts/1", headers=api.headers("operator")), 404, "account_not_found")
    _is_problem(api.client.get("/v1/ledger/accounts/0", headers=api.headers("operator")), 422, "invalid_request")
    _is_problem(api.client.get("/v1/nowhere", headers=api.headers("operator")), 404, "not_found")
    _is_problem(api.client.get("/v1/audit/verify", headers=api.headers("customer")), 403, "role_not_allowed")
    body = _is_problem(
        api.client.post("/v1/ledger/accounts", json={"accounts": []}, headers=api.headers("operator")), 422
    )
    assert body["errors"]
    missing_key = api.client.post("/v1/ledger/accounts", json={"accounts": [{"id": 1, "currency": "HKD",
                                  "kind": "asset"}]}, headers={"Authorization": f"Bearer {api.tokens['operator']}"})
    assert any("Idempotency-Key" in e["loc"] for e in _is_problem(missing_key, 422)["errors"])


def test_oauth_client_credentials(api: Api) -> None:
    secret = api.add_client("svc", {"operator"})
    r = api.client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "svc",
                                                   "client_secret": secret, "scope": "ledger:read"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/ledger/accounts", headers=h).status_code == 200
    _is_problem(api.client.get("/v1/reserves/incidents", headers=h), 403, "insufficient_scope")
    bad = api.client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "svc",
                                                    "client_secret": "wrong"})
    _is_problem(bad, 401, "invalid_client")


def test_api_keys_with_scopes(api: Api) -> None:
    r = api.client.post("/v1/clients/customer/api-keys", json={"scopes": ["ledger:read"]},
                        headers=api.headers("admin"))
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    assert api.client.get("/v1/ledger/accounts", headers={"X-API-Key": key}).status_code == 200
    _is_problem(api.client.get("/v1/me", headers={"X-API-Key": key}), 403, "insufficient_scope")
    _is_problem(api.client.get("/v1/ledger/accounts", headers={"X-API-Key": key[:-2] + "xx"}), 401,
                "invalid_api_key")
    # An admin cannot mint a key for another staff client (it could then act as them).
    other = api.client.post("/v1/clients/admin2/api-keys", json={"scopes": ["*"]}, headers=api.headers("admin"))
    _is_problem(other, 403, "key_for_other_staff")
    own = api.client.post("/v1/clients/admin/api-keys", json={"scopes": ["*"]}, headers=api.headers("admin"))
    assert own.status_code == 201
    assert api.client.get("/v1/me", headers={"X-API-Key": own.json()["api_key"]}).json()["via"] == "api_key"


def test_idempotency_replay_and_conflict(api: Api) -> None:
    body = {"accounts": [{"id": 10, "currency": "HKD", "kind": "asset"}]}
    h = api.headers("operator", key="acct-10")
    first = api.client.post("/v1/ledger/accounts", json=body, headers=h)
    assert first.status_code == 200 and first.json()["results"] == ["ok"]
    again = api.client.post("/v1/ledger/accounts", json=body, headers=h)
    assert again.status_code == 200 and again.json() == first.json()  # replayed, not "exists"
    assert again.headers["idempotent-replayed"] == "true"
    other = api.client.post("/v1/ledger/accounts", json={"accounts": [{"id": 11, "currency": "HKD",
                            "kind": "asset"}]}, headers=h)
    _is_problem(other, 409, "idempotency_key_reused")
    # Keys are per client: another client may use the same key for its own request.
    h2 = api.headers("treasury", key="acct-10")
    assert api.client.post("/v1/ledger/accounts", json=body, headers=h2).json()["results"] == ["exists"]


def test_pagination(api: Api) -> None:
    accounts = [{"id": i, "currency": "HKD", "kind": "asset", "reference": f"customer:c{1 + i % 2}"}
                for i in range(1, 8)]
    assert api.client.post("/v1/ledger/accounts", json={"accounts": accounts},
                           headers=api.headers("operator")).status_code == 200
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = api.client.get("/v1/ledger/accounts", params=params, headers=api.headers("auditor")).json()
        seen += [a["id"] for a in r["items"]]
        cursor = r["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 8))
    _is_problem(api.client.get("/v1/ledger/accounts", params={"cursor": "!!"}, headers=api.headers("auditor")),
                422, "bad_cursor")
    # A customer sees only its own accounts, and gets 404 for others'.
    mine = api.client.get("/v1/ledger/accounts", headers=api.headers("customer")).json()["items"]
    assert sorted(a["id"] for a in mine) == [2, 4, 6]
    _is_problem(api.client.get("/v1/ledger/accounts/1", headers=api.headers("customer")), 404)
    assert api.client.get("/v1/ledger/accounts/2", headers=api.headers("customer")).status_code == 200


def test_ledger_flow(api: Api) -> None:
    h = api.headers("operator")
    api.client.post("/v1/ledger/accounts", json={"accounts": [
        {"id": 1, "currency": "HKD", "kind": "asset"},
        {"id": 2, "currency": "HKD", "kind": "liability", "reference": "customer:c1"}]}, headers=h)
    r = api.client.post("/v1/ledger/transfers", json={"transfers": [
        {"id": 100, "debit_account_id": 1, "credit_account_id": 2, "amount": 500, "currency": "HKD"}],
        "reason": "opening balance, ticket OPS-1"}, headers=api.headers("treasury"))
    assert r.status_code == 202 and r.json()["status"] == "pending_approval"  # a customer's account: 2 people
    done = api.client.post(f"/v1/approvals/{r.json()['approval']['id']}/approve", json={},
                           headers=api.headers("treasury2"))
    assert done.status_code == 200 and done.json()["status"] == "executed", done.text
    assert done.json()["result"]["results"] == ["ok"]
    acct = api.client.get("/v1/ledger/accounts/2", headers=api.headers("customer")).json()
    assert acct["posted"] == 500
    hist = api.client.get("/v1/ledger/accounts/2/history", headers=api.headers("customer")).json()["items"]
    assert hist[0]["transfer"]["id"] == 100 and hist[0]["balance"]["credits_posted"] == 500
    ts = hist[0]["transfer"]["timestamp"]
    bal = api.client.get("/v1/ledger/accounts/2/balance", params={"as_of_ns": ts - 1},
                         headers=api.headers("auditor")).json()
    assert bal["balance"]["credits_posted"] == 0
    assert api.client.get("/v1/ledger/transfers/100", headers=api.headers("customer")).status_code == 200
    _is_problem(api.client.get("/v1/ledger/transfers/100", headers=api.headers("customer2")), 404)
    assert api.client.get("/v1/ledger/invariants", headers=api.headers("auditor")).json()["ok"]


def test_metrics_and_request_id(api: Api) -> None:
    r = api.client.get("/v1/me", headers={**api.headers("auditor"), "X-Request-Id": "abc-123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123"
    text = api.client.get("/metrics").text
    assert 'bauhinia_http_requests_total{method="GET",route="/v1/me",status="200"}' in text
    assert "bauhinia_http_request_duration_seconds_bucket" in text
    assert "bauhinia_outbox_lag_seconds" in text


def test_es256_tokens(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "jwt.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    api = make_api(tmp_path / "d", api_jwt_algorithm="ES256", api_jwt_private_key_file=pem)
    assert api.tokens["admin"].count(".") == 2
    import jwt

    assert jwt.get_unverified_header(api.tokens["admin"])["alg"] == "ES256"
    assert api.client.get("/v1/me", headers=api.headers("admin")).json()["roles"] == ["admin"]


def test_idempotency_and_approvals_on_both_stores(tmp_path: Path, db_url: str) -> None:
    api = make_api(tmp_path, database_url=db_url)
    body = {"accounts": [{"id": 1, "currency": "HKD", "kind": "asset"}]}
    h = api.headers("operator", key="same")
    first = api.client.post("/v1/ledger/accounts", json=body, headers=h)
    again = api.client.post("/v1/ledger/accounts", json=body, headers=h)
    assert first.json() == again.json() == {"results": ["ok"]}
    assert again.headers["idempotent-replayed"] == "true"
    r = api.client.post("/v1/role-grants", json={"client_id": "auditor", "role": "compliance"},
                        headers=api.headers("admin"))
    done = api.client.post(f"/v1/approvals/{r.json()['id']}/approve", json={}, headers=api.headers("admin2"))
    assert done.json()["status"] == "executed", done.text
    assert done.json()["result"]["roles"] == ["auditor", "compliance"]
    api.container.close()


def test_request_logs_are_json_with_request_id(api: Api) -> None:
    import io
    import json
    import logging

    from bauhinia.entrypoints.api.observability import configure_logging

    stream = io.StringIO()
    handler = configure_logging("INFO", json_logs=True, stream=stream)
    try:
        api.client.get("/v1/me", headers={**api.headers("auditor"), "X-Request-Id": "rid-42"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    access = [x for x in lines if x["logger"] == "bauhinia.api.access"]
    assert access and access[-1]["request_id"] == "rid-42" and access[-1]["status"] == 200
    assert api.tokens["auditor"] not in stream.getvalue()


def test_a_cached_token_still_expires(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are kept in a small cache; a token from the cache is still refused once it has expired."""
    import time as real_time

    from bauhinia.entrypoints.api import auth

    tokens = api.client.app.state.tokens
    token = api.tokens["operator"]
    h = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/ledger/accounts", headers=h).status_code == 200
    assert token in tokens._verified  # the second call is served from the cache
    assert api.client.get("/v1/ledger/accounts", headers=h).status_code == 200
    later = real_time.time() + tokens.ttl_s + auth.LEEWAY_S + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    _is_problem(api.client.get("/v1/ledger/accounts", headers=h), 401, "token_expired")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    monkeypatch.undo()
    _is_problem(api.client.get("/v1/ledger/accounts", headers={"Authorization": f"Bearer {forged}"}), 401,
                "invalid_token")


def test_unknown_paths_and_methods_after_the_router_index(api: Api) -> None:
    """Routers turn down paths whose first segment none of their routes has; what remains must still answer 404
    for an unknown path and 405 for a known path with the wrong method, and reach nested and parameter routes."""
    h = api.headers("operator")
    assert api.client.get("/v1/no-such-resource", headers=h).status_code == 404
    assert api.client.get("/v1", headers=h).status_code == 404
    assert api.client.delete("/v1/subscriptions", headers=h).status_code == 405
    assert api.client.get("/v1/subscriptions", headers=h).status_code == 200
    assert api.client.get("/v1/redemptions/999", headers=h).status_code == 404
    assert api.client.get("/healthz").status_code == 200
