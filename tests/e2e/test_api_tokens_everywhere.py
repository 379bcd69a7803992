"""Every operation that needs a caller refuses a bad token the same way: none, `alg=none`, signed with another
key, expired, or tampered (a role added to the payload). Each answers 401 problem+json and changes nothing.
Operations are read from the app's OpenAPI document, so a new route is covered the day it is added."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import jwt
import pytest
from api_support import make_api  # tests/e2e/api_support.py

from bauhinia.adapters.events.outbox import stats

# Paths anyone may call: health, metrics, the contract, sign-in and one-time enrolment.
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|docs.*|redoc.*|v1/oauth/token|"
                    r"v1/clients/\{[^}]+\}/enrolment|v1/transparency.*|v1/public.*)$")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(good: str, secret: str) -> dict[str, str]:
    claims = jwt.decode(good, options={"verify_signature": False})
    header, payload, signature = good.split(".")
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    tampered_claims = {**claims, "roles": ["admin"], "scope": "*"}
    return {
        "missing": "",
        "alg_none": none_token,
        "forged": jwt.encode(claims, "y" * 40, algorithm="HS256"),
        "expired": jwt.encode({**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, secret,
                              algorithm="HS256"),
        "tampered": f"{header}.{_b64(tampered_claims)}.{signature}",
        "garbage": "not.a.token",
    }


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_bad_tokens_are_refused_on_every_protected_operation(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    bad = _bad_tokens(api.tokens["customer"], "x" * 40)
    before = stats(api.container.engine, time.time_ns()).pending
    checked = 0
    for path, operations in api.client.get("/openapi.json").json()["paths"].items():
        if PUBLIC.match(path):
            continue
        for method in sorted(m.upper() for m in operations if m in ("get", "post", "put", "patch", "delete")):
            for kind, token in bad.items():
                headers = {"Idempotency-Key": f"tok-{checked}"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                r = api.client.request(method, _concrete(path), headers=headers, json={})
                assert r.status_code == 401, f"{method} {path} with a {kind} token: {r.status_code} {r.text[:200]}"
                assert r.headers["content-type"].startswith("application/problem+json"), f"{method} {path}"
                body = r.json()
                assert body["status"] == 401 and body["code"], body
                checked += 1
    assert checked >= 40 * len(bad)
    assert stats(api.container.engine, time.time_ns()).pending == before  # nothing was written


@pytest.mark.parametrize("kind", ["alg_none", "forged", "expired", "tampered"])
def test_a_bad_token_never_reaches_a_handler_that_moves_money(tmp_path: Path, kind: str) -> None:
    api = make_api(tmp_path)
    token = _bad_tokens(api.tokens["treasury"], "x" * 40)[kind]
    r = api.client.post("/v1/mint-runs", json={"currency": "CNH"},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "mint-1"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
