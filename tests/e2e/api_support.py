"""Helpers for the API tests: an app over a fresh SQLite file, one client per role, tokens and headers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.domain.chain import CoinStatus
from bauhinia.entrypoints.api.app import create_app

ROLES = ("customer", "operator", "treasury", "compliance", "auditor", "admin")
_keys = itertools.count(1)


@dataclass
class Api:
    client: TestClient
    container: Container
    tokens: dict[str, str]  # client_id -> bearer token

    def headers(self, who: str, *, key: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.tokens[who]}"}
        h["Idempotency-Key"] = key or f"k-{next(_keys)}"
        return h

    def add_client(self, client_id: str, roles: set[str], customer_id: str | None = None) -> str:
        secret = creds.create_client(self.container.engine, client_id, roles, customer_id)
        client = creds.get_client(self.container.engine, client_id)
        token, _ = self.client.app.state.tokens.issue(client, {"*"})
        self.tokens[client_id] = token
        return secret


def make_api(tmp_path: Path, **settings: object) -> Api:
    s = Settings(data_dir=tmp_path, api_jwt_secret="x" * 40, log_json=False, **settings)
    container = Container(s)
    app = create_app(s, container=container)
    api = Api(TestClient(app, raise_server_exceptions=False), container, {})
    for role in ROLES:
        api.add_client(role, {role}, "c1" if role == "customer" else None)
    api.add_client("admin2", {"admin"})
    api.add_client("treasury2", {"treasury"})
    api.add_client("customer2", {"customer"}, "c2")
    return api


def fake_chain() -> SimpleNamespace:
    """Stands in for the chains in tests that are not about the chain (no EVM deployment)."""
    status = CoinStatus("BHKD", "0x" + "1" * 40, 1, 0, 0, 0, 0, False, "L", "", {}, 0)
    return SimpleNamespace(for_coin=lambda coin: SimpleNamespace(status=lambda: status))
