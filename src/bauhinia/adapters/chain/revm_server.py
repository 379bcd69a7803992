"""The embedded revm chain served over HTTP JSON-RPC on 127.0.0.1, so its state outlives client processes.

Tests and benches kill or race issuer processes; the chain they talk to has to survive them, as a real node
would. `latency_s` delays every answer (a node across a network: the race bench uses 150 ms), and can be changed
while serving (0 during set-up, then the latency under test).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bauhinia.adapters.chain.revm_provider import RevmProvider


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON")


class RevmServer(ThreadingHTTPServer):
    daemon_threads = True
    latency_s: float = 0.0
    provider: RevmProvider

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve(provider: RevmProvider | None = None, *, latency_s: float = 0.0) -> RevmServer:
    """Start answering JSON-RPC on a free port in a daemon thread; `.url` says where."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: web3 sends hundreds of requests per issuer start

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait per answer

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if server.latency_s:
                time.sleep(server.latency_s)
            calls = body if isinstance(body, list) else [body]
            answers = []
            for call in calls:
                response = dict(server.provider.make_request(call["method"], call.get("params") or []))
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

    server = RevmServer(("127.0.0.1", 0), Handler)
    server.provider = provider or RevmProvider()
    server.latency_s = latency_s
    threading.Thread(target=server.serve_forever, name="revm-json-rpc", daemon=True).start()
    return server
