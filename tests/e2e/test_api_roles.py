"""Every route of the app with every role, checked against the declared table; approvals cannot be bypassed.

The table is the authorisation contract: a route added without an entry here fails the test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_support import ROLES, Api, fake_chain, make_api  # tests/e2e/api_support.py

ALL = frozenset(ROLES)
STAFF = ALL - {"customer"}
C, OP, T, K, A, D = "customer", "operator", "treasury", "compliance", "auditor", "admin"
PUBLIC = "public"

ROLE_TABLE: dict[tuple[str, str], frozenset[str] | str] = {
    ("POST", "/v1/oauth/token"): PUBLIC,
    ("GET", "/v1/me"): ALL,
    ("POST", "/v1/clients"): frozenset({D}),
    ("GET", "/v1/clients"): frozenset({D, A}),
    ("POST", "/v1/clients/{client_id}/api-keys"): frozenset({D}),
    ("POST", "/v1/clients/{client_id}/enrolment"): PUBLIC,
    ("POST", "/v1/role-grants"): frozenset({D}),
    ("GET", "/v1/approvals"): STAFF,
    ("GET", "/v1/approvals/{approval_id}"): STAFF,
    ("POST", "/v1/approvals/{approval_id}/approve"): frozenset({OP, T, K, D}),
    ("POST", "/v1/approvals/{approval_id}/reject"): frozenset({OP, T, K, D}),
    ("POST", "/v1/approvals/{approval_id}/execute"): frozenset({OP, T, K, D}),
    ("POST", "/v1/approvals/{approval_id}/resubmit"): frozenset({OP, T, K, D}),
    ("GET", "/v1/approval-policies"): STAFF,
    ("POST", "/v1/approval-policies/{kind}"): frozenset({D}),
    ("POST", "/v1/chain/{coin}/minters"): frozenset({T, D}),
    ("POST", "/v1/chain/{coin}/rescues"): frozenset({D}),
    ("GET", "/v1/audit/verify"): frozenset({A, D}),
    ("GET", "/v1/audit/entries"): frozenset({A, K, D}),
    ("GET", "/v1/chain/status/{coin}"): STAFF,
    ("POST", "/v1/chain/{coin}/controls"): frozenset({OP, K, D}),
    ("GET", "/v1/events/outbox"): frozenset({OP, A, D}),
    ("GET", "/v1/events/webhook-dead-letters"): frozenset({OP, A, D}),
    ("POST", "/v1/events/webhook-dead-letters/{dead_letter_id}/replay"): frozenset({OP, D}),
    ("POST", "/v1/ledger/accounts"): frozenset({OP, T, D}),
    ("GET", "/v1/ledger/accounts"): ALL,
    ("GET", "/v1/ledger/accounts/{account_id}"): ALL,
    ("POST", "/v1/ledger/transfers"): frozenset({OP, T, D}),
    ("GET", "/v1/ledger/transfers/{transfer_id}"): ALL,
    ("GET", "/v1/ledger/accounts/{account_id}/history"): ALL,
    ("GET", "/v1/ledger/accounts/{account_id}/balance"): ALL,
    ("GET", "/v1/ledger/invariants"): STAFF,
    ("GET", "/v1/ledger/adjustments"): STAFF,
    ("GET", "/v1/reserves/assets"): STAFF,
    ("GET", "/v1/reserves/coverage/{coin}"): STAFF,
    ("GET", "/v1/reserves/breakers/{coin}"): STAFF,
    ("POST", "/v1/reserves/breakers/{coin}/trip"): frozenset({OP, T, K, D}),
    ("POST", "/v1/reserves/breakers/{coin}/reset"): frozenset({T, D}),
    ("GET", "/v1/reserves/incidents"): STAFF,
    ("POST", "/v1/reserves/proofs/verify"): ALL,
    ("GET", "/v1/reserves/coverage/{coin}/books"): STAFF,
    ("POST", "/v1/reserves/reconciliations/{coin}"): frozenset({OP, T, D}),
    ("GET", "/v1/reserves/reconciliations/{coin}"): STAFF,
    ("GET", "/v1/reserves/liabilities/{coin}/root"): ALL,
    ("GET", "/v1/reserves/liabilities/{coin}/proof"): ALL,
    ("POST", "/v1/screening/names"): frozenset({OP, K, D}),
    ("POST", "/v1/screening/wallets"): frozenset({OP, K, D}),
    ("POST", "/v1/customers"): frozenset({OP, K, D}),
    ("GET", "/v1/customers"): STAFF,
    ("GET", "/v1/customers/{customer_id}"): ALL,
    ("POST", "/v1/customers/{customer_id}/status"): frozenset({K, D}),
    ("POST", "/v1/customers/{customer_id}/bank-accounts"): frozenset({OP, K, D}),
    ("POST", "/v1/customers/{customer_id}/wallet-challenges"): frozenset({C, OP, D}),
    ("POST", "/v1/customers/{customer_id}/wallets"): frozenset({C, OP, D}),
    ("POST", "/v1/bank-files"): frozenset({OP, T, D}),
    ("GET", "/v1/subscriptions"): ALL,
    ("GET", "/v1/subscriptions/{seq}"): ALL,
    ("POST", "/v1/subscriptions/{seq}/release-hold"): frozenset({K, D}),
    ("GET", "/v1/suspense"): STAFF,
    ("POST", "/v1/suspense/{seq}/assignment"): frozenset({OP, T, K, D}),
    ("GET", "/v1/refunds"): STAFF,
    ("POST", "/v1/refunds"): frozenset({OP, T, K, D}),
    ("POST", "/v1/redemptions/{seq}/payout-retry"): frozenset({OP, T, D}),
    ("POST", "/v1/mint-runs"): frozenset({OP, T, D}),
    ("POST", "/v1/redemptions"): frozenset({C, OP, D}),
    ("GET", "/v1/redemptions"): ALL,
    ("GET", "/v1/redemptions/{seq}"): ALL,
    ("POST", "/v1/redemption-runs"): frozenset({OP, T, D}),
    ("GET", "/v1/redemption-deadlines"): STAFF,
    ("POST", "/v1/issuance/recover"): frozenset({OP, D}),
    # compliance (issue 5): officers act, auditors read, a customer reads only its own CDD status
    ("POST", "/v1/compliance/customers"): frozenset({K, D}),
    ("GET", "/v1/compliance/customers"): frozenset({K, A, D}),
    ("GET", "/v1/compliance/customers/{customer_id}"): frozenset({K, A, D}),
    ("GET", "/v1/compliance/customers/{customer_id}/status"): frozenset({C, K, A, D}),
    ("GET", "/v1/compliance/customers/{customer_id}/screenings"): frozenset({K, A, D}),
    ("POST", "/v1/compliance/customers/{customer_id}/false-positives"): frozenset({K, D}),
    ("POST", "/v1/compliance/rescreens"): frozenset({K, D}),
    ("POST", "/v1/compliance/monitoring-runs"): frozenset({K, D}),
    ("GET", "/v1/compliance/alerts"): frozenset({K, A, D}),
    ("GET", "/v1/compliance/cases"): frozenset({K, A, D}),
    ("GET", "/v1/compliance/cases/{case_id}"): frozenset({K, A, D}),
    ("POST", "/v1/compliance/cases/{case_id}/assign"): frozenset({K, D}),
    ("POST", "/v1/compliance/cases/{case_id}/notes"): frozenset({K, D}),
    ("POST", "/v1/compliance/cases/{case_id}/escalate"): frozenset({K, D}),
    ("POST", "/v1/compliance/cases/{case_id}/close"): frozenset({K, D}),
    ("POST", "/v1/compliance/cases/{case_id}/strs"): frozenset({K, D}),
    ("POST", "/v1/compliance/cases/{case_id}/freezes"): frozenset({K, D}),
    ("GET", "/v1/compliance/freezes"): frozenset({K, A, D}),
    ("POST", "/v1/compliance/freezes/{request_id}/approve"): frozenset({K, D}),
    ("POST", "/v1/trade/parties"): frozenset({OP, K, D}),
    ("POST", "/v1/trade/invoices"): frozenset({C, OP, D}),
    ("GET", "/v1/trade/invoices"): ALL,
    ("GET", "/v1/trade/invoices/{invoice_id}"): ALL,
    ("POST", "/v1/trade/invoices/{invoice_id}/accept"): frozenset({C, OP, D}),
    ("GET", "/v1/trade/invoices/{invoice_id}/funding-authorization"): ALL,
    ("POST", "/v1/trade/invoices/{invoice_id}/fund"): frozenset({C, OP, D}),
    ("POST", "/v1/trade/invoices/{invoice_id}/release"): frozenset({C, OP, D}),
    ("POST", "/v1/trade/invoices/{invoice_id}/refund"): frozenset({C, OP, D}),
    ("POST", "/v1/trade/invoices/{invoice_id}/dispute"): frozenset({C, OP, D}),
    ("POST", "/v1/trade/quotes"): frozenset({C, OP, T, D}),
    ("GET", "/v1/trade/quotes/{quote_id}"): ALL,
    ("POST", "/v1/trade/swaps"): frozenset({C, OP, T, D}),
    ("GET", "/v1/trade/report"): STAFF,
    ("GET", "/v1/regulatory/register"): STAFF,
    ("GET", "/v1/regulatory/daily-statement"): STAFF,
    ("GET", "/v1/regulatory/returns/monthly/{period}"): frozenset({T, K, A, D}),
    ("GET", "/v1/regulatory/incidents"): STAFF,
    ("POST", "/v1/regulatory/incidents"): frozenset({OP, T, K, D}),
    ("POST", "/v1/regulatory/incidents/{incident_id}/notify"): frozenset({K, D}),
    ("POST", "/v1/regulatory/incidents/{incident_id}/close"): frozenset({OP, T, K, D}),
}

PATH_VALUES = {"client_id": "customer2", "approval_id": "apr_missing", "coin": "BHKD", "dead_letter_id": "1",
               "account_id": "1", "transfer_id": "1", "customer_id": "c1", "seq": "1",
               "case_id": "CASE-000001", "request_id": "FRZ-missing",
               "invoice_id": "INV-missing", "quote_id": "Q-missing", "period": "2026-01",
               "incident_id": "missing", "kind": "mint"}


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    api = make_api(tmp_path)
    api.container.__dict__["chains"] = fake_chain()  # no EVM deployment for an authorisation test
    return api


def _operations(api: Api) -> list[tuple[str, str]]:
    spec = api.client.get("/openapi.json").json()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "patch",
                                                                                     "delete")]


def test_every_route_is_declared(api: Api) -> None:
    ops = set(_operations(api))
    assert ops - ROLE_TABLE.keys() == set(), "routes missing from ROLE_TABLE"
    assert ROLE_TABLE.keys() - ops == set(), "ROLE_TABLE names routes the app does not have"


def test_role_matrix(api: Api) -> None:
    mismatches = []
    for method, path in _operations(api):
        allowed = ROLE_TABLE[(method, path)]
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        for role in ROLES:
            # An empty JSON body: allowed roles get past authorisation (then 4xx for the body), denied get 403.
            kwargs = {"json": {}} if method == "POST" else {}
            r = api.client.request(method, url, headers=api.headers(role), **kwargs)
            assert r.status_code < 500, (method, path, role, r.text)
            if allowed == PUBLIC:
                ok = r.status_code != 403
            elif role in allowed:
                ok = r.status_code not in (401, 403)
            else:
                ok = r.status_code == 403 and r.json()["code"] == "role_not_allowed"
            if not ok:
                mismatches.append((method, path, role, r.status_code))
        if allowed != PUBLIC:
            anon = api.client.request(method, url, **({"json": {}} if method == "POST" else {}))
            if anon.status_code != 401:
                mismatches.append((method, path, "anonymous", anon.status_code))
    assert mismatches == []


def _trip(api: Api) -> None:
    r = api.client.post("/v1/reserves/breakers/BHKD/trip", json={"reason": "coverage below 100%"},
                        headers=api.headers("operator"))
    assert r.status_code == 200 and r.json()["halted"]


def _halted(api: Api) -> bool:
    return bool(api.client.get("/v1/reserves/breakers/BHKD", headers=api.headers("auditor")).json()["halted"])


def test_breaker_reset_needs_a_second_person(api: Api) -> None:
    _trip(api)
    r = api.client.post("/v1/reserves/breakers/BHKD/reset", json={"reason": "coverage restored after top-up"},
                        headers=api.headers("treasury"))
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    assert r.json()["status"] == "requested" and _halted(api)
    own = api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("treasury"))
    assert own.status_code == 403 and own.json()["code"] == "maker_cannot_approve"
    # The maker's API key is still the maker.
    key = api.client.post("/v1/clients/treasury/api-keys", json={"scopes": ["*"]}, headers=api.headers("admin"))
    assert key.status_code == 403  # and admins cannot mint keys for other staff clients
    wrong_role = api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("compliance"))
    assert wrong_role.status_code == 403 and wrong_role.json()["code"] == "approver_role_missing"
    assert _halted(api)
    ok = api.client.post(f"/v1/approvals/{rid}/approve", json={"comment": "checked the top-up"},
                         headers=api.headers("treasury2"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "executed" and not _halted(api)
    again = api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("admin"))
    assert again.status_code == 409
    entries = api.client.get("/v1/audit/entries", headers=api.headers("auditor")).json()["items"]
    actions = [e["action"] for e in entries if e["action"].startswith("approval.")]
    assert actions[-3:] == ["approval.requested", "approval.approved", "approval.executed"]
    calls = [(e["actor"], e["action"]) for e in entries if e["action"].startswith("api.")]
    assert ("client:treasury", "api.request_breaker_reset") in calls and ("client:treasury2", "api.approve") in calls
    assert api.client.get("/v1/audit/verify", headers=api.headers("auditor")).json()["ok"]


def test_role_grant_needs_a_second_admin(api: Api) -> None:
    r = api.client.post("/v1/role-grants", json={"client_id": "operator", "role": "admin"},
                        headers=api.headers("admin"))
    assert r.status_code == 202
    rid = r.json()["id"]
    roles = lambda: next(c["roles"] for c in api.client.get("/v1/clients", params={"limit": 500},  # noqa: E731
                                                            headers=api.headers("admin")).json()["items"]
                         if c["client_id"] == "operator")
    assert roles() == ["operator"]
    assert api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("admin")).status_code == 403
    assert api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("operator")).status_code == 403
    rej = api.client.post(f"/v1/approvals/{rid}/reject", json={"reason": "no"}, headers=api.headers("admin2"))
    assert rej.json()["status"] == "rejected" and roles() == ["operator"]


SAMPLE_BODIES = {
    "/v1/reserves/breakers/{coin}/reset": {"reason": "coverage restored after top-up"},
    "/v1/reserves/breakers/{coin}/trip": {"reason": "drill"},
    "/v1/role-grants": {"client_id": "operator", "role": "admin"},
    "/v1/clients": {"client_id": "newbie"},
    "/v1/clients/{client_id}/api-keys": {"scopes": ["*"]},
    "/v1/approvals/{approval_id}/approve": {},
    "/v1/approvals/{approval_id}/reject": {"reason": "no"},
}


def test_no_endpoint_bypasses_approvals(api: Api) -> None:
    """With the breaker tripped and a role grant pending, every write endpoint called by every role (makers
    included, with their own request ids) leaves the breaker halted and the roles unchanged."""
    _trip(api)
    reset = api.client.post("/v1/reserves/breakers/BHKD/reset", json={"reason": "coverage restored after top-up"},
                            headers=api.headers("admin")).json()["id"]
    grant = api.client.post("/v1/role-grants", json={"client_id": "operator", "role": "admin"},
                            headers=api.headers("admin")).json()["id"]
    for method, path in _operations(api):
        if method == "GET" or path == "/v1/oauth/token":
            continue
        for rid in (reset, grant):
            values = {**PATH_VALUES, "approval_id": rid, "client_id": "operator"}
            url = re.sub(r"\{(\w+)\}", lambda m, v=values: v[m.group(1)], path)
            for role in ("admin", "customer", "operator", "compliance", "auditor"):
                r = api.client.post(url, json=SAMPLE_BODIES.get(path, {}), headers=api.headers(role))
                assert r.status_code < 500, (path, role, r.text)
    assert _halted(api)
    me = api.client.get("/v1/me", headers=api.headers("operator")).json()
    assert me["roles"] == ["operator"]
    clients = api.client.get("/v1/clients", params={"limit": 500}, headers=api.headers("admin")).json()["items"]
    assert next(c for c in clients if c["client_id"] == "operator")["roles"] == ["operator"]
    states = {a["id"]: a["status"] for a in api.client.get("/v1/approvals", headers=api.headers("auditor"))
              .json()["items"]}
    assert states[reset] != "executed" and states[grant] != "executed"


def test_failed_execution_is_retried_once_through_the_api(api: Api) -> None:
    _trip(api)
    rid = api.client.post("/v1/reserves/breakers/BHKD/reset", json={"reason": "short"},
                          headers=api.headers("treasury")).json()["id"]
    # The reserves service wants a longer reason: the approved reset is refused and stays approved.
    r = api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("admin"))
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    state = api.client.get(f"/v1/approvals/{rid}", headers=api.headers("auditor")).json()
    assert state["status"] == "approved" and "reason" in state["last_error"] and _halted(api)
    # Retrying runs the same executor again; it is refused again, and nothing ran twice.
    again = api.client.post(f"/v1/approvals/{rid}/execute", json={}, headers=api.headers("treasury2"))
    assert again.status_code == 422 and _halted(api)
    assert api.client.post(f"/v1/approvals/{rid}/execute", json={},
                           headers=api.headers("compliance")).status_code == 403
