"""The compliance API end to end: onboarding with CDD and screening (refused / held / accepted), a reviewed false
positive, monitoring over submitted events into a case, the case worked to an STR and closed, a freeze that waits
for a second officer, and what auditors and customers may see. Small FollowTheMoney list; no EVM deployment."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from api_support import Api, fake_chain, make_api  # tests/e2e/api_support.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_compliance_issuance import screener_for  # the same small list

HOUR_NS = 3_600 * 10**9
T0 = 1_790_000_000 * 10**9
WALLET = "0x" + "ab" * 20


class FakeFreezeChain:
    def __init__(self) -> None:
        self.frozen: list[tuple[tuple[str, ...], str]] = []

    def freeze(self, addresses, *, idempotency_key):
        self.frozen.append((tuple(addresses), idempotency_key))
        return SimpleNamespace(tx_hash="0x" + "0" * 64, succeeded=True)


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    api = make_api(tmp_path)
    api.container.__dict__["chains"] = fake_chain()
    api.container.__dict__["screener"] = screener_for(tmp_path / "lists")
    chains = {"CNH": FakeFreezeChain(), "HKD": FakeFreezeChain()}
    from bauhinia.domain.money import Currency

    api.container.__dict__["coin_chains"] = {Currency.CNH: chains["CNH"], Currency.HKD: chains["HKD"]}
    api.chains = chains  # type: ignore[attr-defined]
    return api


def onboard(api: Api, customer_id: str, names: list[str], kind: str = "natural", **extra: object) -> dict:
    party = {"party_id": "p1", "kind": kind, "names": names, **extra}
    if kind == "legal":
        party.setdefault("incorporation_country", "HK")
        party.setdefault("listed_on_exchange", True)
    r = api.client.post("/v1/compliance/customers", headers=api.headers("compliance"),
                        json={"customer": {"customer_id": customer_id, "parties": [party],
                                           "identity_verified": True}})
    assert r.status_code == 201, r.text
    return r.json()


def test_onboarding_decisions_and_a_reviewed_false_positive(api: Api) -> None:
    refused = onboard(api, "c9", ["陈大文"])  # Simplified against the listed Traditional 陳大文
    assert refused["decision"] == "refused" and refused["issuance_status"] is None
    held = onboard(api, "c8", ["Red Stone Maritime Trading Ltd"], kind="legal")
    assert held["decision"] == "held" and held["issuance_status"] == "onboarding"
    ok = onboard(api, "c1", ["Wong Siu Ming", "黃小明"])
    assert ok["decision"] == "accepted" and ok["issuance_status"] == "cleared"
    assert ok["risk_rating"] in ("low", "medium", "high") and ok["next_review_on"]

    screenings = api.client.get("/v1/compliance/customers/c8/screenings", headers=api.headers("auditor")).json()
    entity = screenings[-1]["hits"][0]["entity_id"]
    r = api.client.post("/v1/compliance/customers/c8/false-positives", headers=api.headers("compliance"),
                        json={"entity_id": entity, "reason": "different company, other registration"})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    issuance = api.client.get("/v1/customers/c8", headers=api.headers("auditor")).json()
    assert issuance["status"] == "cleared"

    # a customer sees only its own CDD status; auditors read but cannot act
    own = api.client.get("/v1/compliance/customers/c1/status", headers=api.headers("customer"))
    assert own.status_code == 200 and own.json()["status"] == "accepted"
    assert api.client.get("/v1/compliance/customers/c9/status", headers=api.headers("customer")).status_code == 404
    assert api.client.get("/v1/compliance/customers/c1", headers=api.headers("customer")).status_code == 403
    denied = api.client.post("/v1/compliance/customers/c9/false-positives", headers=api.headers("auditor"),
                             json={"entity_id": "x", "reason": "nope"})
    assert denied.status_code == 403
    listed = api.client.get("/v1/compliance/customers", params={"status": "refused"},
                            headers=api.headers("auditor")).json()["items"]
    assert [c["customer_id"] for c in listed] == ["c9"]


def structuring(customer_id: str) -> list[dict]:
    return [{"event_id": f"e{i}", "kind": "fiat_in", "at_ns": T0 + i * HOUR_NS, "amount_hkd_minor": 7_900_00 - i,
             "customer_id": customer_id, "counterparty": "cash deposit"} for i in range(3)]


def test_monitoring_alert_worked_into_a_case_str_and_freeze(api: Api) -> None:
    onboard(api, "c1", ["Wong Siu Ming"])
    r = api.client.post("/v1/compliance/monitoring-runs", headers=api.headers("compliance"),
                        json={"events": structuring("c1")})
    assert r.status_code == 200, r.text
    run = r.json()
    assert [a["rule"] for a in run["alerts"]] == ["structuring"] and len(run["cases_opened"]) == 1
    case_id = run["cases_opened"][0]
    # the same events again: nothing new
    again = api.client.post("/v1/compliance/monitoring-runs", headers=api.headers("compliance"),
                            json={"events": structuring("c1")}).json()
    assert again["alerts"] == [] and again["cases_opened"] == []
    # clean activity raises nothing
    quiet = api.client.post("/v1/compliance/monitoring-runs", headers=api.headers("compliance"), json={"events": [
        {"event_id": "q1", "kind": "fiat_in", "at_ns": T0, "amount_hkd_minor": 1_000_00, "customer_id": "c2"}]})
    assert quiet.json()["alerts"] == []

    h = api.headers
    assert api.client.post(f"/v1/compliance/cases/{case_id}/assign", headers=h("compliance"),
                           json={"assignee": "officer-lee"}).json()["state"] == "assigned"
    api.client.post(f"/v1/compliance/cases/{case_id}/notes", headers=h("compliance"),
                    json={"text": "three cash deposits just under HK$8,000 in three hours"})
    early = api.client.post(f"/v1/compliance/cases/{case_id}/close", headers=h("compliance"),
                            json={"reason": "str_filed", "note": "reported"})
    assert early.status_code == 409 and early.json()["code"] == "str_not_exported"
    rep = api.client.post(f"/v1/compliance/cases/{case_id}/strs", headers=h("compliance"), json={})
    assert rep.status_code == 201, rep.text
    assert rep.json()["report"]["report_id"] == rep.json()["report_id"] and len(rep.json()["sha256"]) == 64

    # freeze: requested by one officer, pending until another approves
    fr = api.client.post(f"/v1/compliance/cases/{case_id}/freezes", headers=h("compliance"),
                         json={"addresses": [WALLET], "reason": "structuring, funds may move"})
    assert fr.status_code == 202 and fr.json()["status"] == "requested", fr.text
    request_id = fr.json()["params"]["freeze_request"]
    assert api.chains["CNH"].frozen == []
    own = api.client.post(f"/v1/compliance/freezes/{request_id}/approve", headers=h("compliance"), json={})
    assert own.status_code == 403 and api.chains["CNH"].frozen == []
    api.add_client("compliance2", {"compliance"})
    ok = api.client.post(f"/v1/compliance/freezes/{request_id}/approve", headers=h("compliance2"), json={})
    assert ok.status_code == 200 and ok.json()["status"] == "executed", ok.text
    assert [k for _, k in api.chains["CNH"].frozen] == [f"freeze-{request_id}:BCNH"]
    assert [k for _, k in api.chains["HKD"].frozen] == [f"freeze-{request_id}:BHKD"]
    detail = api.client.get(f"/v1/compliance/cases/{case_id}", headers=h("auditor")).json()
    assert detail["freezes"][0]["state"] == "executed" and detail["freezes"][0]["decided_by"] == "client:compliance2"
    actions = [e["action"] for e in detail["history"]]
    assert actions[:3] == ["opened", "assigned", "noted"] and "freeze_executed" in actions

    closed = api.client.post(f"/v1/compliance/cases/{case_id}/close", headers=h("compliance"),
                             json={"reason": "str_filed", "note": "STR filed with the JFIU"})
    assert closed.json()["state"] == "closed"
    assert api.client.get("/v1/compliance/cases", params={"state": "closed"},
                          headers=h("auditor")).json()[0]["case_id"] == case_id
    alerts = api.client.get("/v1/compliance/alerts", headers=h("auditor")).json()
    assert alerts[0]["case_id"] == case_id


def test_rescreen_through_the_api_catches_a_newly_listed_customer(api: Api, tmp_path: Path) -> None:
    onboard(api, "c1", ["Tsang Chi Keung", "曾志強"])
    first = api.client.post("/v1/compliance/rescreens", headers=api.headers("compliance"),
                            json={"reason": "daily", "force": True}).json()
    assert first["changes"] == []
    api.container.__dict__["screener"] = screener_for(tmp_path / "v2", extra=[
        {"id": "p-tsang", "schema": "Person", "properties": {"name": ["曾志强"]}}])
    r = api.client.post("/v1/compliance/rescreens", headers=api.headers("compliance"),
                        json={"reason": "UN list update"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(c["customer_id"], c["after"]) for c in body["changes"]] == [("c1", "refused")]
    assert len(body["cases"]) == 1
    assert api.client.get("/v1/customers/c1", headers=api.headers("auditor")).json()["status"] == "suspended"
