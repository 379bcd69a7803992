"""Issuance through the REST API: onboard, prove a wallet, bank file in, mint, redeem, deadlines; customers see
only their own data; the redemption request is idempotent by its Idempotency-Key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api_support import make_api  # tests/e2e/api_support.py
from eth_account import Account as EthAccount
from eth_account.messages import encode_defunct

from bauhinia.adapters.bank.simulator import SimEntry, camt054
from bauhinia.adapters.store import audit
from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.services import issuance as svc


def test_issuance_over_the_api(tmp_path: Path) -> None:
    api = make_api(tmp_path, cnh_mainland_approval_reference="PBOC-TEST-1", redemption_fee_bps=10)
    c = api.client
    ctx = api.container.issuance
    svc.configure_coin(ctx, iss.CoinConfig(Currency.CNH, "HKMA-T-1", "PBOC-TEST-1", 0, 10))
    svc.fund_issuer_capital(ctx, Currency.CNH, 1_000_000_00, "cap")

    r = c.post("/v1/customers", json={"customer_id": "c1", "name": "Kowloon Importers Ltd"},
               headers=api.headers("operator"))
    assert r.status_code == 201, r.text
    ref = r.json()["deposit_reference"]
    assert r.json()["status"] == "onboarding"
    assert c.post("/v1/customers/c1/status", json={"status": "cleared", "reason": "CDD complete"},
                  headers=api.headers("operator")).status_code == 403
    assert c.post("/v1/customers/c1/status", json={"status": "cleared", "reason": "CDD complete"},
                  headers=api.headers("compliance")).json()["status"] == "cleared"
    r = c.post("/v1/customers/c1/bank-accounts", headers=api.headers("operator"),
               json={"account": "024-888-300400-101", "holder_name": "Kowloon Importers Ltd", "currency": "CNH"})
    assert r.status_code == 201 and r.json()["account"] == "****-101"

    key = EthAccount.create()
    ch = c.post("/v1/customers/c1/wallet-challenges", json={"address": key.address}, headers=api.headers("customer"))
    assert ch.status_code == 201
    sig = EthAccount.sign_message(encode_defunct(text=ch.json()["message"]), key.key).signature.hex()
    bad = c.post("/v1/customers/c1/wallets", headers=api.headers("customer"),
                 json={"address": key.address, "nonce": ch.json()["nonce"], "signature": "0x" + "11" * 65})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    ok = c.post("/v1/customers/c1/wallets", headers=api.headers("customer"),
                json={"address": key.address, "nonce": ch.json()["nonce"], "signature": sig})
    assert ok.status_code == 201, ok.text
    # another customer cannot see or act for c1
    assert c.get("/v1/customers/c1", headers=api.headers("customer2")).status_code == 404

    xml = camt054("API-NTF-1", datetime.now(UTC), api.container.settings.reserve_account_cnh, "CNH",
                  [SimEntry(250_000_00, True, "IN-1", f"SUB {ref}", "Kowloon Importers Ltd")])
    up = c.post("/v1/bank-files", content=xml, headers={**api.headers("operator"), "Content-Type": "application/xml"})
    assert up.status_code == 202, up.text  # a person's upload waits for a second person
    assert up.json()["credits_minor"] == {"CNH": 250_000_00}
    released = c.post(f"/v1/approvals/{up.json()['approval']['id']}/approve", json={},
                      headers=api.headers("treasury"))
    assert released.status_code == 200 and released.json()["result"]["subscriptions"] == 1, released.text
    bad_file = c.post("/v1/bank-files", content=b"<Document><oops", headers={**api.headers("operator"),
                                                                              "Content-Type": "application/xml"})
    assert bad_file.status_code == 422 and bad_file.json()["code"] == "bank_file_malformed"
    run = c.post("/v1/mint-runs", json={"currency": "CNH"}, headers=api.headers("treasury"))
    assert run.status_code == 200 and run.json()["minted"] == 1
    subs = c.get("/v1/subscriptions", headers=api.headers("customer")).json()["items"]
    assert [s["status"] for s in subs] == ["minted"]
    assert c.get("/v1/subscriptions", headers=api.headers("customer2")).json()["items"] == []
    chain = ctx.chains[Currency.CNH]
    assert chain.balance_of(key.address) == minor_to_base_units(250_000_00)

    body = {"customer_id": "c1", "currency": "CNH", "amount_minor": 100_000_00, "wallet": key.address,
            "bank_account": "024-888-300400-101"}
    h = api.headers("customer", key="redeem-1")
    first = c.post("/v1/redemptions", json=body, headers=h)
    assert first.status_code == 201, first.text
    again = c.post("/v1/redemptions", json=body, headers=h)
    assert again.json()["seq"] == first.json()["seq"] and again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert [x["to"] for x in first.json()["history"]] == ["awaiting_coins"] == [
        x["to"] for x in again.json()["history"]]
    reused = c.post("/v1/redemptions", json={**body, "amount_minor": 1_00}, headers=h)
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    no_key = {"Authorization": h["Authorization"]}
    assert c.post("/v1/redemptions", json=body, headers=no_key).status_code == 422
    audited = [e for e in audit.list_entries(api.container.engine, limit=1_000)
               if e["action"] == "redemption.requested"]
    assert len(audited) == 1 and audited[0]["actor"] == "client:customer"
    assert audited[0]["details"]["via"] == "api" and audited[0]["details"]["idempotency_key"] == "redeem-1"
    assert c.post("/v1/redemptions", json={**body, "bank_account": "999"},
                  headers=api.headers("customer")).json()["code"] == "bank_account_not_verified"
    assert c.post("/v1/redemptions", json={**body, "customer_id": "c2"},
                  headers=api.headers("customer")).status_code == 403
    red = first.json()
    assert red["send_coins_to"] == chain.redemption_address and red["payout_minor"] == 99_900_00
    api.container.chains.sender.fund([key.address], 10**18)
    chain.transfer_as(key, red["send_coins_to"], red["amount_base_units_to_send"], idempotency_key="api-send")
    done = c.post("/v1/redemption-runs", json={"currency": "CNH"}, headers=api.headers("operator"))
    assert done.json()["burned"] == 1 and len(done.json()["payout_files"]) == 1
    got = c.get(f"/v1/redemptions/{red['seq']}", headers=api.headers("customer")).json()
    assert got["status"] == "payout_instructed" and [x["to"] for x in got["history"]] == [
        "awaiting_coins", "burned", "payout_instructed"]
    dl = c.get("/v1/redemption-deadlines", headers=api.headers("auditor")).json()
    assert dl[0]["seq"] == red["seq"] and dl[0]["level"] == "ok" and dl[0]["time_left_s"] > 0
    assert c.get(f"/v1/redemptions/{red['seq']}", headers=api.headers("customer2")).status_code == 404
