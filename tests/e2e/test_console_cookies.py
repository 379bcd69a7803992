"""The console's cookies carry the flags a browser needs to keep them from scripts and other sites: HttpOnly,
SameSite=Strict, scoped to /console, Secure over HTTPS, and a session lifetime."""

from __future__ import annotations

import re
from pathlib import Path

from api_support import make_api
from fastapi.testclient import TestClient


def _flags(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    out = {"name": parts[0].split("=", 1)[0]}
    for p in parts[1:]:
        key, _, value = p.partition("=")
        out[key.lower()] = value
    return out


def test_console_cookies_are_httponly_strict_scoped_and_secure_over_https(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    secret = api.add_client("ops-c", {"admin"})
    browser = TestClient(api.client.app, base_url="https://console.example")
    page = browser.get("/console/login")
    login = _flags(page.headers["set-cookie"])
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    signed_in = browser.post("/console/login", data={"client_id": "ops-c", "client_secret": secret,
                                                     "csrf_token": csrf}, follow_redirects=False)
    assert signed_in.status_code == 303
    session = next(_flags(h) for h in signed_in.headers.get_list("set-cookie") if h.startswith("bh_console="))
    for cookie in (login, session):
        assert "httponly" in cookie and cookie["samesite"].lower() == "strict", cookie
        assert cookie["path"] == "/console" and "secure" in cookie, cookie
    assert int(session["max-age"]) == api.container.settings.console_session_ttl_s
    plain = TestClient(api.client.app)  # local plain HTTP (development): no Secure flag, still HttpOnly/Strict
    flags = _flags(plain.get("/console/login").headers["set-cookie"])
    assert "secure" not in flags and "httponly" in flags
