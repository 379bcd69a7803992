"""The embedded revm chain served over HTTP JSON-RPC on 127.0.0.1, so its state outlives a client process.

A crash test kills issuer processes; the chain they talk to has to survive them, as a real node would. Hardhat
does that where it is installed; this serves the in-process revm node (adapters/chain/revm_provider.py) from
a thread of the test process instead, so the same test runs everywhere. Fixture: `revm_url` (one node per
session; each test deploys its own contracts).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bauhinia.adapters.chain.revm_provider import RevmProvider


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


def serve(provider: RevmProvider) -> ThreadingHTTPServer:
    """Start answering JSON-RPC on a free port in a daemon thread; `server_address` says where."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: web3 sends hundreds of requests per issuer start

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait per answer

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            calls = body if isinstance(body, list) else [body]
            answers = []
            for call in calls:
                response = dict(provider.make_request(call["method"], call.get("params") or []))
                response["id"] = call.get("id")
                answers.append(response)
            data = json.dumps(answers if isinstance(body, list) else answers[0], default=_jsonable).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="revm-json-rpc", daemon=True).start()
    return server


@pytest.fixture(scope="session")
def revm_url() -> Iterator[str]:
    server = serve(RevmProvider())
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
