"""Manual ledger transfers are adjustments: a reason, role limits, maker-checker for the books that matter, and a
journal (issue 22, finding 2). On the code before, one operator booked anything into any account."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Api, make_api  # tests/e2e/api_support.py


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    api = make_api(tmp_path)
    accounts = [
        {"id": 1, "currency": "HKD", "kind": "asset", "reference": "ops:float"},
        {"id": 2, "currency": "HKD", "kind": "liability", "reference": "ops:clearing"},
        {"id": 3, "currency": "HKD", "kind": "equity", "reference": "ops:capital"},
        {"id": 4, "currency": "HKD", "kind": "income", "reference": "ops:fees"},
        {"id": 5, "currency": "HKD", "kind": "liability", "reference": "customer:c1:HKD"},
        {"id": 6, "currency": "HKD", "kind": "liability", "reference": "issuer:HKD:suspense"},
    ]
    r = api.client.post("/v1/ledger/accounts", json={"accounts": accounts}, headers=api.headers("operator"))
    assert r.json()["results"] == ["ok"] * len(accounts)
    return api


def _post(api: Api, who: str, transfers: list[dict], reason: str = "bank charge correction, ticket OPS-17",
          key: str | None = None):
    return api.client.post("/v1/ledger/transfers", json={"transfers": transfers, "reason": reason},
                           headers=api.headers(who, key=key))


def _t(tid: int, dr: int, cr: int, amount: int) -> dict:
    return {"id": tid, "debit_account_id": dr, "credit_account_id": cr, "amount": amount, "currency": "HKD"}


def _posted(api: Api, account_id: int) -> int:
    return int(api.client.get(f"/v1/ledger/accounts/{account_id}", headers=api.headers("auditor")).json()["posted"])


def test_a_reason_is_required(api: Api) -> None:
    for body in ({"transfers": [_t(10, 1, 2, 100)]}, {"transfers": [_t(10, 1, 2, 100)], "reason": "fix"}):
        r = api.client.post("/v1/ledger/transfers", json=body, headers=api.headers("operator"))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert _posted(api, 2) == 0


def test_a_small_operational_transfer_is_booked_and_journaled(api: Api) -> None:
    r = _post(api, "operator", [_t(10, 1, 2, 50_000)])
    assert r.status_code == 200 and r.json()["status"] == "booked" and r.json()["results"] == ["ok"], r.text
    assert _posted(api, 2) == 50_000
    journal = api.client.get("/v1/ledger/adjustments", headers=api.headers("auditor")).json()["items"]
    assert [(e["adjustment_id"], e["maker"], e["approvers"], e["amount_minor_total"]) for e in journal] == [
        (r.json()["adjustment_id"], "client:operator", [], 50_000)]
    assert journal[0]["reason"] == "bank charge correction, ticket OPS-17"
    # The same adjustment again (a retry with a new Idempotency-Key) books nothing more.
    again = _post(api, "operator", [_t(10, 1, 2, 50_000)])
    assert again.status_code == 200 and again.json()["status"] == "replay"
    assert again.json()["adjustment_id"] == r.json()["adjustment_id"]
    assert _posted(api, 2) == 50_000


@pytest.mark.parametrize(("debit", "credit"), [(3, 4), (6, 5), (1, 5), (6, 2)],
                         ids=["equity-to-fee-income", "suspense-to-customer", "to-a-customer", "out-of-suspense"])
def test_the_books_that_matter_need_a_second_person(api: Api, debit: int, credit: int) -> None:
    r = _post(api, "operator", [_t(20, debit, credit, 200_000_000)] if debit == 3 else [_t(20, debit, credit, 100)])
    if debit == 3:  # CNH 2,000,000.00 is above the operator's limit altogether
        assert r.status_code == 403 and r.json()["code"] == "adjustment_limit_exceeded", r.text
        r = _post(api, "treasury", [_t(20, debit, credit, 200_000_000)])
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending_approval" and body["needs_approval_because"]
    assert _posted(api, credit) == 0
    approval = body["approval"]["id"]
    maker = "treasury" if debit == 3 else "operator"
    own = api.client.post(f"/v1/approvals/{approval}/approve", json={}, headers=api.headers(maker))
    assert own.status_code == 403, own.text  # the maker never approves its own adjustment
    weak = api.client.post(f"/v1/approvals/{approval}/approve", json={}, headers=api.headers("compliance"))
    assert weak.status_code == 403, weak.text
    ok = api.client.post(f"/v1/approvals/{approval}/approve", json={"comment": "checked the bank advice"},
                         headers=api.headers("treasury2" if maker == "treasury" else "treasury"))
    assert ok.status_code == 200 and ok.json()["status"] == "executed", ok.text
    amount = 200_000_000 if debit == 3 else 100
    assert abs(_posted(api, credit)) == amount
    journal = api.client.get("/v1/ledger/adjustments", headers=api.headers("auditor")).json()["items"]
    assert len(journal) == 1 and journal[0]["approval_id"] == approval
    assert journal[0]["maker"] == f"client:{maker}" and journal[0]["approvers"]
    # Executing the approved request again books nothing twice.
    api.client.post(f"/v1/approvals/{approval}/execute", json={}, headers=api.headers("admin"))
    assert abs(_posted(api, credit)) == amount


def test_above_the_threshold_needs_approval_and_above_the_role_limit_is_refused(api: Api) -> None:
    r = _post(api, "operator", [_t(30, 1, 2, 1_000_001)])  # 10,000.01 between operational accounts
    assert r.status_code == 202 and "threshold" in r.json()["needs_approval_because"][0]
    r = _post(api, "operator", [_t(31, 1, 2, 10_000_001)])
    assert r.status_code == 403 and r.json()["code"] == "adjustment_limit_exceeded"
    assert _posted(api, 2) == 0


def test_a_refused_adjustment_books_nothing(api: Api) -> None:
    # The second transfer names an account that does not exist: all or nothing.
    r = _post(api, "operator", [_t(40, 1, 2, 100), _t(41, 1, 99, 100)])
    assert r.status_code == 422 and r.json()["code"] == "adjustment_refused", r.text
    assert "transfer 41" in r.json()["detail"]
    assert _posted(api, 2) == 0
    assert api.client.get("/v1/ledger/adjustments", headers=api.headers("auditor")).json()["items"] == []
