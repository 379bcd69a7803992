"""Trade settlement over the REST API on the embedded chain: an invoice paid through escrow (funded by the
importer's own EIP-3009 signature, relayed) and released against the document hash, then a CNH/HKD swap. Every
refusal (wrong document hash, non-party customer, expired quote, frozen party) is a problem+json and leaves the
balances unchanged on chain and in the ledger mirror."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from api_support import Api, make_api  # tests/e2e/api_support.py
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from bauhinia.adapters.screening.matcher import Matcher
from bauhinia.adapters.screening.wallets import WalletScreener
from bauhinia.domain import settlement as st
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import Issuer
from bauhinia.entrypoints.trade_demo import ShiftableClock
from bauhinia.services import settlement as svc

UNIT = 10**6
COINS = (Currency.BCNH, Currency.BHKD)
BL = st.document_hash(b"B/L COSU0001 Yantian -> Kwai Chung")
PL = st.document_hash(b"packing list PL-1")


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Any]:
    api = make_api(tmp_path, cnh_mainland_approval_reference="PBOC-TEST-1")
    clock = ShiftableClock()
    api.container.clock = clock
    api.container.__dict__["screener"] = SimpleNamespace(matcher=Matcher([]), wallets=WalletScreener())
    issuer = Issuer(api.container, api.container.settings)
    holders = {cid: issuer.add_holder(cid, name, f"{cid}-account-1")
               for cid, name in (("exp1", "Shenzhen Pearl River Electronics Co Ltd"), ("c1", "Kowloon Importers Ltd"),
                                 ("c2", "Victoria Harbour Trading Ltd"))}
    deps = api.container.settlement
    treasury = deps.chain.treasury.address
    now_s = int(deps.chain.chain_time_s())
    for coin in COINS:
        chain = api.container.chains.for_coin(coin)
        chain.attest_reserve(10**9 * UNIT, now_s, b"\x5a" * 32, idempotency_key=f"t:attest:{coin.value}")
        for who in (holders["c1"].wallet, holders["c2"].wallet, treasury):
            chain.mint(who, 200_000 * UNIT, idempotency_key=f"t:mint:{coin.value}:{who}")
    for cid, country in (("exp1", "CN"), ("c1", "HK"), ("c2", "HK")):
        r = api.client.post("/v1/trade/parties", json={"customer_id": cid, "country": country,
                                                       "wallet": holders[cid].wallet},
                            headers=api.headers("operator"))
        assert r.status_code == 201, r.text
    return {"api": api, "deps": deps, "clock": clock, "holders": holders, "treasury": treasury}


def addresses(w: dict[str, Any]) -> list[str]:
    sc = w["deps"].chain
    return [w["holders"][c].wallet for c in ("exp1", "c1", "c2")] + [w["treasury"], *sc.escrow_addresses.values(),
                                                                       sc.swap_address]


def snapshot(w: dict[str, Any], invoice_id: str = "INV-API-1") -> tuple[object, ...]:
    deps = w["deps"]
    chain = tuple(deps.chain.balance_of(c, a) for c in COINS for a in addresses(w))
    ids = [svc.holder_account_id(c, a) for c in COINS for a in addresses(w)[:4]]
    ids += [svc.escrow_account_id(c, invoice_id) for c in COINS]
    ledger = svc.ledger_balances(deps.ledger, ids)
    return chain, tuple(ledger.get(i, (0, 0, 0, 0)) for i in ids)


def refused(w: dict[str, Any], method: str, url: str, who: str, status: int, code: str,
            body: dict[str, Any] | None = None) -> None:
    api: Api = w["api"]
    before = snapshot(w)
    r = api.client.request(method, url, headers=api.headers(who), json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.json()
    assert snapshot(w) == before


def sign(key: LocalAccount, typed: dict[str, Any]) -> str:
    signed = EthAccount.sign_typed_data(key.key, full_message=typed)
    return "0x" + signed.signature.hex().removeprefix("0x")


def test_invoice_through_escrow_and_swap_over_the_api(world: dict[str, Any]) -> None:
    w = world
    api: Api = w["api"]
    c, deps = api.client, w["deps"]
    exporter, importer = w["holders"]["exp1"], w["holders"]["c1"]
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    invoice = {"invoice_id": "INV-API-1", "exporter_id": "exp1", "importer_id": "c1", "currency": "CNH",
               "due_date": due, "bill_of_lading_hash": BL, "packing_list_hash": PL,
               "line_items": [{"description": "LED panels", "quantity": 100, "amount_minor": 120_000_00},
                              {"description": "freight", "quantity": 1, "amount_minor": 5_000_00}]}
    # a customer issues only as the exporter
    assert c.post("/v1/trade/invoices", json=invoice, headers=api.headers("customer")).status_code == 403
    r = c.post("/v1/trade/invoices", json=invoice, headers=api.headers("operator"))
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["state"] == "issued" and inv["corridor"] == "HK->CN" and inv["amount_base_units"] == 125_000 * UNIT

    # customers see only invoices where they are a party
    assert [i["invoice_id"] for i in c.get("/v1/trade/invoices", headers=api.headers("customer")).json()["items"]] \
        == ["INV-API-1"]
    assert c.get("/v1/trade/invoices", headers=api.headers("customer2")).json()["items"] == []
    refused(w, "GET", "/v1/trade/invoices/INV-API-1", "customer2", 404, "invoice_not_found")
    refused(w, "POST", "/v1/trade/invoices/INV-API-1/accept", "customer2", 404, "invoice_not_found")

    assert c.post("/v1/trade/invoices/INV-API-1/accept", headers=api.headers("customer")).json()["state"] == \
        "accepted"

    # the importer signs the EIP-3009 authorisation with its own wallet; the relayer submits it
    assert deps.chain.keyring.get(importer.wallet.lower()) is None
    auth = c.get("/v1/trade/invoices/INV-API-1/funding-authorization", headers=api.headers("customer")).json()
    typed = auth["typed_data"]
    bad = sign(EthAccount.create(), typed)  # somebody else's signature is refused by the dry run
    body = {"method": "authorization", "escrow_expiry_s": auth["escrow_expiry_s"],
            "valid_after": typed["message"]["validAfter"], "valid_before": typed["message"]["validBefore"]}
    refused(w, "POST", "/v1/trade/invoices/INV-API-1/fund", "customer", 422, "chain_refused",
            {**body, "signature": bad})
    h = api.headers("customer", key="fund-inv-api-1")
    r = c.post("/v1/trade/invoices/INV-API-1/fund", json={**body, "signature": sign(importer.key, typed)}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "funded"
    again = c.post("/v1/trade/invoices/INV-API-1/fund", json={**body, "signature": sign(importer.key, typed)},
                   headers=h)
    assert again.headers.get("idempotent-replayed") == "true"
    assert deps.chain.escrow_balance(Currency.BCNH) == 125_000 * UNIT
    assert deps.chain.balance_of(Currency.BCNH, importer.wallet) == 75_000 * UNIT

    # release: a wrong document hash, a non-party customer: refused, nothing moves
    wrong = st.documents_commitment(BL, st.document_hash(b"another packing list"))
    refused(w, "POST", "/v1/trade/invoices/INV-API-1/release", "operator", 422, "documents_mismatch",
            {"documents_hash": wrong})
    refused(w, "POST", "/v1/trade/invoices/INV-API-1/release", "customer2", 404, "invoice_not_found",
            {"documents_hash": inv["documents_hash"]})
    r = c.post("/v1/trade/invoices/INV-API-1/release", json={"documents_hash": inv["documents_hash"]},
               headers=api.headers("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "released"
    assert deps.chain.balance_of(Currency.BCNH, exporter.wallet) == 125_000 * UNIT
    shown = c.get("/v1/trade/invoices/INV-API-1", headers=api.headers("customer")).json()
    assert [h["to_state"] for h in shown["history"]] == ["issued", "accepted", "funded", "released"]
    for coin in COINS:
        for holder in (exporter.wallet, importer.wallet):
            assert svc.ledger_posted(deps.ledger, svc.holder_account_id(coin, holder)) == \
                deps.chain.balance_of(coin, holder)

    # a firm quote from the issuer's treasury; the taker (a custodial wallet here) settles both legs at once
    deps.chain.add_key(importer.key)
    w["api"].container.chains.sender.fund([importer.wallet], 10**18)
    quote = {"taker_id": "c1", "taker_currency": "HKD", "taker_amount_base_units": 1_000 * UNIT, "rate": "0.9213",
             "ttl_s": 120}
    assert c.post("/v1/trade/quotes", json=quote, headers=api.headers("customer")).status_code == 403
    q = c.post("/v1/trade/quotes", json=quote, headers=api.headers("treasury"))
    assert q.status_code == 201, q.text
    assert q.json()["maker_amount_base_units"] == 921_300_000 and q.json()["maker_currency"] == "BCNH"
    refused(w, "GET", f"/v1/trade/quotes/{q.json()['quote_id']}", "customer2", 404, "quote_not_found")
    cnh_before = deps.chain.balance_of(Currency.BCNH, importer.wallet)
    hkd_before = deps.chain.balance_of(Currency.BHKD, importer.wallet)
    s = c.post("/v1/trade/swaps", json={"quote_id": q.json()["quote_id"]}, headers=api.headers("customer"))
    assert s.status_code == 201, s.text
    assert deps.chain.balance_of(Currency.BCNH, importer.wallet) == cnh_before + 921_300_000
    assert deps.chain.balance_of(Currency.BHKD, importer.wallet) == hkd_before - 1_000 * UNIT

    # an expired quote is refused: both sides unchanged
    q2 = c.post("/v1/trade/quotes", json={**quote, "ttl_s": 5}, headers=api.headers("treasury")).json()
    w["clock"].offset_ns += 600 * 10**9
    refused(w, "POST", "/v1/trade/swaps", "customer", 422, "quote_expired", {"quote_id": q2["quote_id"]})
    assert c.get(f"/v1/trade/quotes/{q2['quote_id']}", headers=api.headers("customer")).json()["status"] == "refused"

    # a frozen party: the chain refuses the whole swap, both sides unchanged
    q3 = c.post("/v1/trade/quotes", json=quote, headers=api.headers("treasury")).json()
    api.container.chains.for_coin(Currency.BHKD).freeze([importer.wallet], idempotency_key="t:freeze-c1")
    refused(w, "POST", "/v1/trade/swaps", "customer", 422, "chain_refused", {"quote_id": q3["quote_id"]})

    report = c.get("/v1/trade/report", headers=api.headers("auditor"))
    assert report.status_code == 200, report.text
    figures = report.json()
    assert figures["volume_by_corridor"]["HK->CN"] == {"BCNH": 125_000 * UNIT}
    assert figures["volume_by_corridor"]["HK->HK"] == {"BCNH": 921_300_000, "BHKD": 1_000 * UNIT}
    assert figures["payments"] == 3
    assert c.get("/v1/trade/report", headers=api.headers("customer")).status_code == 403
