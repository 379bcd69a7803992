"""Issue 22, finding 1: one unauthenticated request must not take the server down.

A JSON body nested ~70,000 levels deep segfaulted the process (py_ecc raises the recursion limit to 100,000, which
disables the C JSON decoder's guard), and a 100 MB body was read and parsed before the 401. Every JSON route now
answers such bodies 400/413 problem+json before any parser or authentication, and the server keeps answering."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import make_api
from fastapi.testclient import TestClient

from bauhinia.entrypoints.api.body_limits import json_too_deep
from bauhinia.entrypoints.process import RECURSION_LIMIT, settle_recursion_limit

DEEP = b"[" * 70_000 + b"]" * 70_000
DEEP_OBJECT = b'{"a":' * 70_000 + b"1" + b"}" * 70_000
PROBLEM = "application/problem+json"


def _body_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI document that takes a request body, path parameters
    filled with a plausible value."""
    spec = client.get("/openapi.json").json()
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in ("post", "put", "patch", "delete") and "requestBody" in op:
                filled = path
                while "{" in filled:
                    start, end = filled.index("{"), filled.index("}")
                    filled = filled[:start] + "1" + filled[end + 1:]
                found.append((method.upper(), filled))
    return found


def test_json_depth_counts_only_structure() -> None:
    assert not json_too_deep(b'{"a": [1, 2, {"b": "[[[[[[[[[["}]}', 3)
    assert json_too_deep(b'{"a": [[[[1]]]]}', 3)
    assert not json_too_deep(b'{"a": [[[1]]]}', 4)
    assert not json_too_deep(b"[" + b"[]," * 10_000 + b"[]]", 2)  # wide, not deep
    assert json_too_deep(DEEP, 64)
    assert not json_too_deep(b'["\\"[[[[[[[["]', 1)  # an escaped quote does not end the string
    assert json_too_deep(b'"unterminated [[[[', 2)  # conservative on broken JSON: it would be refused anyway


def test_recursion_limit_is_the_evm_need_not_py_ecc() -> None:
    import py_ecc  # noqa: F401

    assert settle_recursion_limit() == RECURSION_LIMIT == sys.getrecursionlimit()
    import eth  # noqa: F401  (py-evm: must not raise it again)

    assert sys.getrecursionlimit() == RECURSION_LIMIT


def test_every_body_route_refuses_deep_and_large_bodies_without_a_token(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    routes = _body_routes(api.client)
    assert len(routes) >= 40  # the whole API, not a sample
    large = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    for method, path in routes:
        for body in (DEEP, DEEP_OBJECT):
            r = api.client.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, (method, path, r.status_code, r.text[:200])
            assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "json_too_deep"
        # undeclared content type: FastAPI would parse it as JSON, so it is checked as JSON
        r = api.client.request(method, path, content=DEEP)
        assert r.status_code == 400, (method, path, r.status_code)
        if not path.startswith("/v1/bank-files"):
            r = api.client.request(method, path, content=large, headers={"Content-Type": "application/json"})
            assert r.status_code == 413, (method, path, r.status_code)
            assert r.headers["content-type"] == PROBLEM and r.json()["code"] == "body_too_large"
    assert api.client.get("/healthz").json() == {"status": "ok"}


def test_a_body_at_the_limit_passes_and_authentication_still_decides(tmp_path: Path) -> None:
    api = make_api(tmp_path, api_body_max_bytes=4096, api_json_depth_max=8)
    ok_shape = json.dumps({"a": [[[[{"b": 1}]]]]}).encode()
    r = api.client.post("/v1/customers", content=ok_shape, headers={"Content-Type": "application/json"})
    assert r.status_code == 401  # through the limits, refused by authentication as before
    padded = b'{"p": "' + b"x" * (4096 - 9) + b'"}'
    assert len(padded) == 4096
    r = api.client.post("/v1/customers", content=padded, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    r = api.client.post("/v1/customers", content=padded + b" ", headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # a client that is allowed still gets its answer through the replayed body
    r = api.client.post("/v1/customers", json={"customer_id": "c9", "name": "Nine Ltd"},
                        headers=api.headers("operator"))
    assert r.status_code in (200, 201), r.text


def test_chunked_body_is_cut_at_the_limit(tmp_path: Path) -> None:
    api = make_api(tmp_path, api_body_max_bytes=1024)
    sent = {"bytes": 0}

    def chunks() -> Iterator[bytes]:
        for _ in range(10_000):  # 10 MB if it were all read
            sent["bytes"] += 1000
            yield b" " * 1000

    r = api.client.post("/v1/customers", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


def test_bad_content_length_and_route_classes() -> None:
    import asyncio

    from bauhinia.entrypoints.api.body_limits import BodyLimits

    reached: list[bytes] = []

    async def inner(scope: dict, receive: object, send: object) -> None:
        msg = await receive()  # type: ignore[operator]
        reached.append(msg["body"])

    limits = BodyLimits(inner, max_bytes=10, upload_max_bytes=100, json_depth_max=4,
                        upload_prefixes=("/v1/bank-files",))
    assert limits.limit_for("/v1/bank-files") == 100 and limits.limit_for("/v1/customers") == 10
    with pytest.raises(ValueError):
        BodyLimits(inner, max_bytes=10, upload_max_bytes=5, json_depth_max=4)

    def call(path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
        asyncio.run(limits(scope, receive, send))
        return int(sent[0]["status"]) if sent else 0

    assert call("/v1/customers", b"{}", [(b"content-length", b"-1")]) == 400
    assert call("/v1/customers", b"{}", [(b"content-length", b"11")]) == 413
    assert call("/v1/bank-files", b"<x/>" * 20, [(b"content-type", b"application/xml")]) == 0
    assert reached == [b"<x/>" * 20]  # an upload under its own limit reaches the app whole


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("command", [["serve"], ["console", "serve"]])
def test_real_server_survives_deep_and_large_bodies(tmp_path: Path, command: list[str]) -> None:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "BAUHINIA_API_JWT_SECRET": "y" * 40}
    env.pop("BAUHINIA_DATABASE_URL", None)
    port = _free_port()
    cli = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
    proc = subprocess.Popen([*cli, *command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise AssertionError("the server did not come up")
        for path in ("/v1/customers", "/v1/redemptions", "/v1/ledger/transfers", "/v1/oauth/token"):
            r = httpx.post(base + path, content=DEEP, headers={"Content-Type": "application/json"}, timeout=30)
            assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, (path, r.status_code)
        # 100 MB declared: refused before it is read
        started = time.monotonic()

        def hundred_mb() -> Iterator[bytes]:
            for _ in range(100):
                yield b"x" * (1024 * 1024)

        try:
            r = httpx.post(f"{base}/v1/customers", content=hundred_mb(),
                           headers={"Content-Type": "application/json", "Content-Length": str(100 * 1024 * 1024)},
                           timeout=30)
            assert r.status_code == 413 and r.json()["code"] == "body_too_large"
        except httpx.HTTPError:
            pass  # the server answered and closed while we were still sending: also a refusal
        assert time.monotonic() - started < 30
        assert proc.poll() is None, "the server died"
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
