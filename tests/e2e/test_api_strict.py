"""Strict request handling over HTTP: integer-only amounts, names without control or bidirectional characters,
sane dates (422 problem+json); a customer re-posted with other data is a 409; a freeze whose approval is rejected
is rejected; a 405 lists every method of the path in Allow."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Api, make_api
from test_api_compliance import api as compliance_api  # noqa: F401 - the fixture, with fake freeze chains
from test_api_compliance import onboard, structuring

WALLET = "0x" + "ab" * 20


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def _problem(r: object, status: int) -> dict:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    return r.json()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("amount", ['"100"', "100.0", "1e3", "true"])
def test_amounts_given_as_strings_or_floats_are_refused(api: Api, amount: str) -> None:
    wallet = "0x" + "1" * 40
    body = f'{{"customer_id": "c1", "currency": "HKD", "amount_minor": {amount}, "wallet": "{wallet}", ' \
           '"bank_account": "024-1"}'
    r = api.client.post("/v1/redemptions", content=body,
                        headers={**api.headers("customer"), "Content-Type": "application/json"})
    p = _problem(r, 422)
    assert p["code"] == "invalid_request" and any("amount_minor" in e["loc"] for e in p["errors"])


@pytest.mark.parametrize("name", ["Kowloon\x00Importers", "Kowloon\u202eImporters", "Kowloon\x1bImporters",
                                  "Kowloon\u2066Importers", "Kowloon\nImporters", "Kowloon\u200fImporters"])
def test_names_with_control_or_bidi_characters_are_refused(api: Api, name: str) -> None:
    r = api.client.post("/v1/customers", json={"customer_id": "kln", "name": name}, headers=api.headers("operator"))
    _problem(r, 422)
    assert api.client.get("/v1/customers/kln", headers=api.headers("operator")).status_code == 404


def test_reposting_a_customer_with_other_data_is_a_conflict(api: Api) -> None:
    first = api.client.post("/v1/customers", json={"customer_id": "kln", "name": "Kowloon Importers Ltd"},
                            headers=api.headers("operator"))
    assert first.status_code == 201
    same = api.client.post("/v1/customers", json={"customer_id": "kln", "name": "Kowloon Importers Ltd"},
                           headers=api.headers("operator"))
    assert same.status_code == 201 and same.json() == first.json()  # idempotent, as before
    other = api.client.post("/v1/customers", json={"customer_id": "kln", "name": "Someone Else Ltd"},
                            headers=api.headers("operator"))
    assert _problem(other, 409)["code"] == "customer_exists"
    kept = api.client.get("/v1/customers/kln", headers=api.headers("operator")).json()
    assert kept["name"] == "Kowloon Importers Ltd"


@pytest.mark.parametrize("as_of", ["0", "1970-01-01", "1999-12-31", "1700000000"])
def test_statement_dates_before_2000_or_not_iso_are_refused(api: Api, as_of: str) -> None:
    r = api.client.get("/v1/regulatory/daily-statement", params={"as_of": as_of}, headers=api.headers("admin"))
    _problem(r, 422)


def test_a_sane_statement_date_still_answers(api: Api) -> None:
    r = api.client.get("/v1/regulatory/daily-statement", params={"as_of": "2026-11-30"},
                       headers=api.headers("admin"))
    assert r.status_code == 200, r.text


def test_405_lists_every_method_of_the_path(api: Api) -> None:
    r = api.client.put("/v1/customers", json={}, headers=api.headers("operator"))
    _problem(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_a_rejected_freeze_approval_rejects_the_freeze(compliance_api: Api) -> None:  # noqa: F811
    api = compliance_api
    onboard(api, "c1", ["Wong Siu Ming"])
    run = api.client.post("/v1/compliance/monitoring-runs", headers=api.headers("compliance"),
                          json={"events": structuring("c1")}).json()
    case_id = run["cases_opened"][0]
    fr = api.client.post(f"/v1/compliance/cases/{case_id}/freezes", headers=api.headers("compliance"),
                         json={"addresses": [WALLET], "reason": "structuring, funds may move"})
    assert fr.status_code == 202, fr.text
    approval_id, request_id = fr.json()["id"], fr.json()["params"]["freeze_request"]
    api.add_client("compliance2", {"compliance"})
    r = api.client.post(f"/v1/approvals/{approval_id}/reject", json={"reason": "not enough grounds"},
                        headers=api.headers("compliance2"))
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    freezes = {f["request_id"]: f for f in api.client.get("/v1/compliance/freezes",
                                                         headers=api.headers("compliance")).json()}
    assert freezes[request_id]["state"] == "rejected"
    assert api.chains["CNH"].frozen == []  # type: ignore[attr-defined]
