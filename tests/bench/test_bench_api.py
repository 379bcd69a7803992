"""bench/api.py --quick serves the API, loads it with concurrent clients and writes its figures (no timing
asserted); its wrk script (bench/wrk/api.lua) sends the requests it promises and counts wrong answers."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken"


def require_wrk() -> None:
    """wrk drives the load when installed: skip without it, fail under CI=true (tests/conftest.py)."""
    from conftest import service_missing  # tests/conftest.py

    if shutil.which("wrk") is None:
        service_missing("wrk", "not on PATH (Debian: apt-get install wrk; tools/prepare-test-env.sh as root)")


def test_bench_api_quick(tmp_path: Path) -> None:
    out = tmp_path / "api.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "api.py"), "--quick", "--seconds", "1",
                           "--clients", "10", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in ("requests_per_s", "p99_ms", "hello_requests_per_s", "hello_1worker_requests_per_s",
                "redemption_requests_per_s", "subscription_read_requests_per_s"):
        assert figures[key] > 0, key
    assert figures["errors"] == 0 and figures["redemption_errors"] == 0 and figures["subscription_read_errors"] == 0
    assert figures["load_generator"] == ("wrk" if shutil.which("wrk") else "aiohttp")


def bench_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    assert spec and spec.loader
    module = sys.modules.setdefault("bench_api", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


class Stub(BaseHTTPRequestHandler):
    """Answers like the API when the request is what the script promises (bearer token, JSON body with an amount
    in range, a fresh Idempotency-Key), and 400/409 otherwise."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    seen: dict[str, Any]

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def do_GET(self) -> None:
        if self.path == "/hello":
            self.reply(200, {"hello": "world"})
        elif self.path == "/v1/subscriptions?limit=20" and self.authorised():
            self.seen["reads"] += 1
            self.reply(200, {"items": []})
        else:
            self.reply(400, {"detail": f"bad read {self.path}"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("Idempotency-Key") or ""
        with self.seen["lock"]:
            fresh = key and key not in self.seen["keys"]
            self.seen["keys"].add(key)
        amount = body.get("amount_minor")
        if (self.path == "/v1/redemptions" and self.authorised() and fresh
                and self.headers.get("Content-Type") == "application/json"
                and isinstance(amount, int) and 10000 <= amount <= 1000000 and body["customer_id"] in ("c000", "c001")):
            self.seen["amounts"].append(amount)
            self.reply(201, {"redemption_id": key})
        else:
            self.reply(409, {"detail": "bad redemption"})


@pytest.fixture
def stub() -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, Any] = {"reads": 0, "keys": set(), "amounts": [], "lock": threading.Lock()}
    handler = type("Handler", (Stub,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_script_sends_what_it_promises_and_counts_wrong_answers(stub: tuple[str, dict[str, Any]]) -> None:
    require_wrk()
    base, seen = stub
    api = bench_api()
    bodies = [{"customer_id": f"c00{i}", "currency": "CNH", "wallet": "0xabc", "bank_account": "004"} for i in (0, 1)]
    mixed = api.run_wrk(base, TOKEN, "mixed", bodies, 4, 1)
    assert mixed.errors == 0 and mixed.requests_per_s > 0
    assert seen["reads"] > 0 and seen["amounts"], "mixed sends both redemptions and reads"
    assert len(set(seen["amounts"])) > 1
    assert api.run_wrk(base, "", "hello", [], 4, 1).errors == 0
    wrong = api.run_wrk(base, "wrong-token", "read", bodies, 4, 1)
    assert wrong.requests_per_s == 0 and wrong.errors > 0
