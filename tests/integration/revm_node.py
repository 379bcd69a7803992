"""The embedded revm chain served over HTTP JSON-RPC (adapters/chain/revm_server.py), so its state outlives a
client process: a crash test kills issuer processes and the chain they talk to has to survive them, as a real
node would. Hardhat does that where it is installed; this serves the in-process revm node from a thread of the
test process instead, so the same test runs everywhere. Fixture: `revm_url` (one node per session; each test
deploys its own contracts).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bauhinia.adapters.chain.revm_server import serve


@pytest.fixture(scope="session")
def revm_url() -> Iterator[str]:
    server = serve()
    try:
        yield server.url
    finally:
        server.stop()
