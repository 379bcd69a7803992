"""The API entrance of policy changes: GET the policies in force; POST a change as an admin opens a policy_change
approval (202) that two other admins complete; a change that would let one person through is 422 problem+json."""

from __future__ import annotations

from pathlib import Path

from api_support import make_api  # tests/e2e/api_support.py


def test_policy_change_over_the_api(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    c = api.client
    for who in ("admin-b", "admin-c"):
        api.add_client(who, {"admin"})
    policies = {p["kind"]: p for p in c.get("/v1/approval-policies", headers=api.headers("auditor")).json()}
    assert policies["mint"]["threshold"] == 100_000_000 and policies["policy_change"]["approvals_required"] == 2

    asked = c.post("/v1/approval-policies/freeze", json={"reason": "two officers for every freeze",
                                                         "approvals_required": 2}, headers=api.headers("admin"))
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["kind"] == "policy_change" and body["maker"] == "client:admin" and body["status"] == "requested"
    assert c.post("/v1/approval-policies/freeze", json={"reason": "x y z", "approvals_required": 2},
                  headers=api.headers("compliance")).status_code == 403
    own = c.post(f"/v1/approvals/{body['id']}/approve", json={}, headers=api.headers("admin"))
    assert own.status_code == 403
    for who in ("admin-b", "admin-c"):
        r = c.post(f"/v1/approvals/{body['id']}/approve", json={}, headers=api.headers(who))
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "executed"
    api.container.approvals._read_at = float("-inf")
    policies = {p["kind"]: p for p in c.get("/v1/approval-policies", headers=api.headers("admin")).json()}
    assert policies["freeze"]["approvals_required"] == 2

    for bad in ({"reason": "no one", "approver_roles": []}, {"reason": "customers", "approver_roles": ["customer"]},
                {"reason": "too short", "ttl_s": 60}, {"reason": "a line", "threshold": 5}):
        r = c.post("/v1/approval-policies/freeze", json=bad, headers=api.headers("admin"))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), bad
    r = c.post("/v1/approval-policies/policy_change", json={"reason": "one admin", "approvals_required": 1},
               headers=api.headers("admin"))
    assert r.status_code == 422 and "policy_locked" in r.text
