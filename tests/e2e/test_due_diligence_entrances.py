"""Due diligence that cannot be skipped, at the entrances (issue 20 item 2): with compliance wired, setting a
customer "cleared" without an accepted CDD record, or adding a bank account in another party's name, is refused
with RFC 9457 problem+json (422) on the API and one line and a non-zero exit on the CLI; nothing changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api_support import make_api  # tests/e2e/api_support.py


def test_the_api_refuses_the_cleared_flag_and_another_partys_bank_account(tmp_path: Path) -> None:
    api = make_api(tmp_path, screen_issuance=True)
    c = api.client
    assert c.post("/v1/customers", json={"customer_id": "c1", "name": "Kowloon Importers Ltd"},
                  headers=api.headers("operator")).status_code == 201
    r = c.post("/v1/customers/c1/status", json={"status": "cleared", "reason": "CDD complete"},
               headers=api.headers("compliance"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert r.json()["code"] == "cdd_not_cleared" and "no due diligence record" in r.json()["detail"]
    assert c.get("/v1/customers/c1", headers=api.headers("operator")).json()["status"] == "onboarding"
    r = c.post("/v1/customers/c1/bank-accounts", headers=api.headers("operator"),
               json={"account": "999-000-1", "holder_name": "Other Party Holdings Ltd", "currency": "CNH"})
    assert r.status_code == 422 and r.json()["code"] == "bank_account_holder_mismatch", r.text
    assert api.container.issuance.store.bank_accounts("c1") == []
    ok = c.post("/v1/customers/c1/bank-accounts", headers=api.headers("operator"),
                json={"account": "024-888-300400-101", "holder_name": "KOWLOON IMPORTERS LIMITED", "currency": "CNH"})
    assert ok.status_code == 201, ok.text
    # an override with a reason waits for a second person, then the account is recorded
    held = c.post("/v1/customers/c1/bank-accounts", headers=api.headers("operator"),
                  json={"account": "999-000-1", "holder_name": "Other Party Holdings Ltd", "currency": "CNH",
                        "override_reason": "the customer's parent pays for it under a signed mandate"})
    assert held.status_code == 202, held.text
    assert "999-000-1" not in {a.account for a in api.container.issuance.store.bank_accounts("c1")}
    done = c.post(f"/v1/approvals/{held.json()['approval']}/approve", json={}, headers=api.headers("compliance"))
    assert done.status_code == 200, done.text
    assert "999-000-1" in {a.account for a in api.container.issuance.store.bank_accounts("c1")}


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "BAUHINIA_SCREEN_ISSUANCE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_cli_refuses_the_cleared_flag_and_another_partys_bank_account(tmp_path: Path) -> None:
    assert run(tmp_path, "issuance", "customer", "add", "acme", "Acme Trading Ltd").returncode == 0
    bad = run(tmp_path, "issuance", "customer", "status", "acme", "cleared", "--reason", "CDD done")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "cdd_not_cleared" in bad.stderr
    other = run(tmp_path, "issuance", "customer", "bank-account", "acme", "999-000-1", "--holder",
                "Other Party Holdings Ltd", "--currency", "CNH")
    assert other.returncode != 0 and len(other.stderr.strip().splitlines()) == 1, other.stderr
    assert "bank_account_holder_mismatch" in other.stderr
    shown = run(tmp_path, "issuance", "customer", "show", "acme")
    assert "cleared" not in shown.stdout
