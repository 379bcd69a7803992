"""Refunds through the API (issue 21 item 1): a suspense credit from a bank file an operator uploaded goes back to
its payer: POST /v1/refunds opens an approval (202), a second person approves, GET /v1/refunds shows it written;
bad input is a problem+json 422 that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api_support import make_api  # tests/e2e/api_support.py

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency
from bauhinia.services import issuance as svc


def test_a_suspense_credit_is_refunded_through_the_api(tmp_path: Path, db_url: str) -> None:
    api = make_api(tmp_path, database_url=db_url)
    c = api.client
    svc.configure_coin(api.container.issuance, iss.CoinConfig(Currency.CNH, "HKMA-T-1", "PBOC-TEST-1"))
    xml = camt054("RF-NTF-1", datetime.now(UTC), api.container.settings.reserve_account_cnh, "CNH",
                  [SimEntry(420_00, True, "IN-RF", "NO REFERENCE", "Ho Wing Sze", "003-222-333444-555")])
    up = c.post("/v1/bank-files", content=xml, headers={**api.headers("operator"), "Content-Type": "application/xml"})
    assert up.status_code == 202, up.text
    released = c.post(f"/v1/approvals/{up.json()['approval']['id']}/approve", json={},
                      headers=api.headers("treasury"))
    assert released.status_code == 200, released.text
    [credit] = c.get("/v1/suspense", headers=api.headers("operator")).json()

    bad = c.post("/v1/refunds", json={"source": "invoice", "seq": credit["seq"], "reason": "not ours"},
                 headers=api.headers("operator"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert c.post("/v1/refunds", json={"source": "suspense", "seq": credit["seq"], "reason": "not ours"},
                  headers=api.headers("customer")).status_code == 403
    asked = c.post("/v1/refunds", json={"source": "suspense", "seq": credit["seq"], "reason": "not ours"},
                   headers=api.headers("operator"))
    assert asked.status_code == 202, asked.text
    assert c.get("/v1/refunds", headers=api.headers("auditor")).json() == []  # nothing before the approval
    done = c.post(f"/v1/approvals/{asked.json()['approval']}/approve", json={}, headers=api.headers("treasury"))
    assert done.status_code == 200 and done.json()["status"] == "executed", done.text
    [refund] = c.get("/v1/refunds", headers=api.headers("auditor")).json()
    assert (refund["source"], refund["amount_minor"], refund["creditor_account"], refund["status"]) == (
        "suspense", 420_00, "003-222-333444-555", "written")
    again = c.post("/v1/refunds", json={"source": "suspense", "seq": credit["seq"], "reason": "twice"},
                   headers=api.headers("operator"))
    assert again.status_code == 409 and again.json()["code"] == "suspense_not_open"
