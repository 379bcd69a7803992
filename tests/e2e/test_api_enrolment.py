"""One person, one approver identity (issue 22, finding 3). On the code before, `POST /v1/clients` handed the new
client's secret to the admin who created it; after one role grant approved by a second admin, the creator held
two admin identities and approved its own requests."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from api_support import Api, make_api  # tests/e2e/api_support.py


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def _code(api: Api, client_id: str) -> str:
    path = api.container.settings.data_dir / "enrolments" / f"{client_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return str(json.loads(path.read_text())["enrolment_code"])


def _token(api: Api, client_id: str, secret: str):
    return api.client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                    "client_secret": secret})


def test_the_creator_never_sees_the_secret_and_the_owner_enrols_once(api: Api) -> None:
    made = api.client.post("/v1/clients", json={"client_id": "ops-bob"}, headers=api.headers("admin"))
    assert made.status_code == 201, made.text
    assert "client_secret" not in made.json() and "code" not in json.dumps(made.json()).lower().replace(
        "delivered", "")
    code = _code(api, "ops-bob")
    assert code not in made.text
    # Before enrolling, no secret works (there is none).
    assert _token(api, "ops-bob", "").status_code == 401
    wrong = api.client.post("/v1/clients/ops-bob/enrolment", json={"code": "x" * 43})
    assert wrong.status_code == 403 and wrong.json()["code"] == "enrolment_refused"
    done = api.client.post("/v1/clients/ops-bob/enrolment", json={"code": code})
    assert done.status_code == 200, done.text
    secret = done.json()["client_secret"]
    assert _token(api, "ops-bob", secret).status_code == 200
    replay = api.client.post("/v1/clients/ops-bob/enrolment", json={"code": code})
    assert replay.status_code == 403  # the code died on first use: nobody else can take the client over
    assert _token(api, "ops-bob", secret).status_code == 200


def test_the_creator_can_never_approve_a_role_for_the_client_it_created(api: Api) -> None:
    api.client.post("/v1/clients", json={"client_id": "ops-eve"}, headers=api.headers("admin"))
    done = api.client.post("/v1/clients/ops-eve/enrolment", json={"code": _code(api, "ops-eve")})
    assert done.status_code == 200
    # admin2 asks for the admin role for ops-eve; admin (its creator) may not approve it.
    grant = api.client.post("/v1/role-grants", json={"client_id": "ops-eve", "role": "admin"},
                            headers=api.headers("admin2"))
    assert grant.status_code == 202, grant.text
    rid = grant.json()["id"]
    assert sorted(grant.json()["params"]["excluded_approvers"]) == ["client:admin", "client:ops-eve"]
    refused = api.client.post(f"/v1/approvals/{rid}/approve", json={}, headers=api.headers("admin"))
    assert refused.status_code == 403 and refused.json()["code"] == "approver_excluded", refused.text
    # The client cannot ask for a role for itself either.
    api.add_client("admin3", {"admin"})
    selfish = api.client.post("/v1/role-grants", json={"client_id": "admin3", "role": "treasury"},
                              headers=api.headers("admin3"))
    assert selfish.status_code == 403 and selfish.json()["code"] == "self_grant"
    roles = {c["client_id"]: c["roles"] for c in api.client.get("/v1/clients", params={"limit": 500},
                                                               headers=api.headers("admin")).json()["items"]}
    assert roles["ops-eve"] == []
