"""Fixtures for chain integration tests: a Hardhat JSON-RPC node started on 127.0.0.1 on a free port.

Import the fixtures into a test module (`from chain_node import hardhat_w3  # noqa: F401`). Under CI=true a
missing node fails the run; elsewhere the tests skip with the reason (tests/conftest.py's service_missing).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
HARDHAT_BIN = ROOT / "node_modules" / ".bin" / "hardhat"
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hardhat(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    return subprocess.Popen(
        [str(HARDHAT_BIN), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = START_TIMEOUT_S) -> Web3 | None:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        try:
            if w3.eth.chain_id:
                return w3
        except Exception:
            time.sleep(0.2)
    return None


@pytest.fixture(scope="session")
def hardhat_url() -> Iterator[str]:
    from conftest import service_missing  # tests/conftest.py

    if not HARDHAT_BIN.exists():
        service_missing("Hardhat node", f"{HARDHAT_BIN} not installed (run tools/prepare-test-env.sh)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_hardhat(port)
    try:
        if wait_ready(url, proc) is None:
            err = proc.stderr.read(2000).decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
            service_missing("Hardhat node", f"did not answer on {url} within {START_TIMEOUT_S:.0f} s {err}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture()
def hardhat_w3(hardhat_url: str) -> Web3:
    return Web3(Web3.HTTPProvider(hardhat_url, request_kwargs={"timeout": 30}))
