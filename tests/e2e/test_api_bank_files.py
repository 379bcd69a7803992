"""Bank files reach the books only from the bank's channel (issue 22, finding 2): a person's upload is checked at
once, held, and booked only when a second person approves; with the bank's key configured, every file needs the
bank's detached signature; a bad upload answers 422 and its copy stays in a bounded quarantine. On the code
before, an operator's fabricated camt.054 became subscriptions and reserve cash at once."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_support import Api, make_api  # tests/e2e/api_support.py
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency
from bauhinia.services import issuance as svc


def _setup(api: Api) -> str:
    ctx = api.container.issuance
    svc.configure_coin(ctx, iss.CoinConfig(Currency.HKD, "HKMA-T-1"))
    r = api.client.post("/v1/customers", json={"customer_id": "c1", "name": "Kowloon Importers Ltd"},
                        headers=api.headers("operator"))
    assert r.status_code == 201, r.text
    return str(r.json()["deposit_reference"])


def _file(api: Api, ref: str, message_id: str = "UP-1", amount_minor: int = 2_000_000_00) -> bytes:
    return camt054(message_id, datetime.now(UTC), api.container.settings.reserve_account_hkd, "HKD",
                   [SimEntry(amount_minor, True, f"E-{message_id}", f"SUB {ref}", "Kowloon Importers Ltd")])


def _upload(api: Api, data: bytes, who: str = "operator", signature: str | None = None):
    headers = {**api.headers(who), "Content-Type": "application/xml"}
    if signature is not None:
        headers["X-Bank-Signature"] = signature
    return api.client.post("/v1/bank-files", content=data, headers=headers)


def _subscriptions(api: Api) -> list[dict]:
    return list(api.client.get("/v1/subscriptions", headers=api.headers("auditor")).json()["items"])


@pytest.fixture()
def api(tmp_path: Path) -> Api:
    return make_api(tmp_path)


def test_an_upload_is_held_until_a_second_person_approves(api: Api) -> None:
    ref = _setup(api)
    up = _upload(api, _file(api, ref))
    assert up.status_code == 202, up.text
    body = up.json()
    assert body["kind"] == "camt.054" or body["kind"].startswith("camt")
    assert body["credits_minor"] == {"HKD": 2_000_000_00} and body["booked_entries"] == 1
    assert body["approval"]["kind"] == "bank_file_release" and body["approval"]["maker"] == "client:operator"
    assert _subscriptions(api) == []  # nothing booked yet: not in the reserve, not on the transparency page
    approval = body["approval"]["id"]
    own = api.client.post(f"/v1/approvals/{approval}/approve", json={}, headers=api.headers("operator"))
    assert own.status_code == 403
    ok = api.client.post(f"/v1/approvals/{approval}/approve", json={}, headers=api.headers("treasury"))
    assert ok.status_code == 200 and ok.json()["status"] == "executed", ok.text
    assert ok.json()["result"]["subscriptions"] == 1
    assert [s["amount_minor"] for s in _subscriptions(api)] == [2_000_000_00]
    # The same file uploaded again is held again, and approving it books nothing twice.
    again = _upload(api, _file(api, ref))
    assert again.status_code == 202
    api.client.post(f"/v1/approvals/{again.json()['approval']['id']}/approve", json={},
                    headers=api.headers("admin"))
    assert len(_subscriptions(api)) == 1


def test_a_rejected_upload_books_nothing(api: Api) -> None:
    ref = _setup(api)
    up = _upload(api, _file(api, ref, "FAKE-1"))
    approval = up.json()["approval"]["id"]
    no = api.client.post(f"/v1/approvals/{approval}/reject", json={"reason": "no such credit on the bank portal"},
                         headers=api.headers("treasury"))
    assert no.status_code == 200 and no.json()["status"] == "rejected"
    svc.ingest_bank_files(api.container.issuance)  # the inbox run does not pick held files up either
    assert _subscriptions(api) == []


def test_a_bad_upload_is_422_and_quarantined_within_a_bound(tmp_path: Path) -> None:
    api = make_api(tmp_path, bank_quarantine_bytes_max=3_000)
    _setup(api)
    for n in range(6):
        bad = _upload(api, b"<Document><oops" + b"x" * 900 + str(n).encode())
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["code"] == "bank_file_malformed"
    quarantine = api.container.settings.bank_dir() / "quarantine"
    kept = list(quarantine.iterdir())
    assert kept and sum(p.stat().st_size for p in kept) <= 3_000
    assert any(p.name.endswith(".reason.txt") for p in kept)
    assert _subscriptions(api) == []


def test_with_the_banks_key_every_file_needs_its_signature(tmp_path: Path) -> None:
    bank_key = ed25519.Ed25519PrivateKey.generate()
    pem = bank_key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "bank.pem").write_bytes(pem)
    api = make_api(tmp_path / "data", bank_signing_public_key_file=tmp_path / "bank.pem")
    ref = _setup(api)
    data = _file(api, ref, "SIGNED-1", 1_000_00)
    assert _upload(api, data).json()["code"] == "bank_signature_missing"
    forged = base64.b64encode(ed25519.Ed25519PrivateKey.generate().sign(data)).decode()
    assert _upload(api, data, signature=forged).json()["code"] == "bank_signature_invalid"
    good = base64.b64encode(bank_key.sign(data)).decode()
    up = _upload(api, data, signature=good)
    assert up.status_code == 202 and up.json()["signed"] is True
    ok = api.client.post(f"/v1/approvals/{up.json()['approval']['id']}/approve", json={},
                         headers=api.headers("treasury"))
    assert ok.json()["result"]["subscriptions"] == 1, ok.text  # its signature travelled with it into the inbox

    # Host-to-host: a dropped file without its .sig is quarantined unread; with a good one it is booked.
    inbox = api.container.settings.bank_dir() / "inbox"
    unsigned = _file(api, ref, "H2H-1", 2_000_00)
    (inbox / "h2h-1.xml").write_bytes(unsigned)
    rep = svc.ingest_bank_files(api.container.issuance)
    assert [(q[0], q[1]) for q in rep.quarantined] == [("h2h-1.xml", "bank_signature_missing")]
    signed = _file(api, ref, "H2H-2", 3_000_00)
    (inbox / "h2h-2.xml.sig").write_bytes(base64.b64encode(bank_key.sign(signed)))
    (inbox / "h2h-2.xml").write_bytes(signed)
    rep = svc.ingest_bank_files(api.container.issuance)
    assert rep.subscriptions == 1 and not rep.quarantined
    assert sorted(s["amount_minor"] for s in _subscriptions(api)) == [1_000_00, 3_000_00]
