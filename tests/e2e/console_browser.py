"""Helpers for the console browser tests: the seeded demo site served by uvicorn in a thread, and headless
Debian chromium driven by Playwright with a fresh profile."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conftest import service_missing  # tests/conftest.py

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000


def require_chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        service_missing("chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    base: str
    data: Any  # entrypoints.web.demo_data.DemoData

    @property
    def container(self) -> Any:
        return self.data.container


@contextmanager
def serve(app: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise AssertionError("the test server did not come up")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Any, base: str, client_id: str, secret: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/console/login")
    page.fill("input[name=client_id]", client_id)
    page.fill("input[name=client_secret]", secret)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def csrf_of(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.content())
    assert match, "no CSRF token on the page"
    return match.group(1)


def shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
