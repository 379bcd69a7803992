"""Trade settlement over the embedded EVM and the ledger (SQLite and PostgreSQL): invoices through escrow and
CNH/HKD swaps. Every way a swap or an escrow step can be refused leaves the balances unchanged on chain AND in
the ledger (posted and pending)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain import settlement as st
from bauhinia.domain.errors import BauhiniaError, ForbiddenError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.trade_demo import UNIT, EmbeddedSettlement, make_embedded_settlement
from bauhinia.services import settlement as svc

COINS = (Currency.BCNH, Currency.BHKD)
BL = st.document_hash(b"bill of lading")
PL = st.document_hash(b"packing list")


class FakeScreener:
    def __init__(self) -> None:
        self.listed: set[str] = set()

    def screen_party(self, name: str, country: str, address: str) -> svc.ScreeningVerdict:
        if name in self.listed:
            return svc.ScreeningVerdict("hit", f"{name} is listed")
        return svc.ScreeningVerdict("clear")


@pytest.fixture()
def world(db_url: str) -> dict[str, Any]:
    engine = make_engine(db_url)
    migrate(engine)
    screener = FakeScreener()
    env = make_embedded_settlement(engine, screener=screener)
    exporter = env.new_customer()
    importer = env.new_customer()
    for coin in COINS:
        env.mint(coin, importer.address, 1_000 * UNIT)
        env.mint(coin, env.treasury.address, 1_000 * UNIT)
    deps = env.deps
    svc.register_party(deps, "EXP", "Exporter Co", "CN", exporter.address)
    svc.register_party(deps, "IMP", "Importer Ltd", "HK", importer.address)
    svc.register_party(deps, "TREASURY", "Issuer Treasury", "HK", env.treasury.address)
    return {"env": env, "deps": deps, "exporter": exporter.address, "importer": importer.address,
            "screener": screener, "engine": engine}


def snapshot(w: dict[str, Any], invoice_id: str = "INV-1") -> tuple[object, ...]:
    env: EmbeddedSettlement = w["env"]
    sc, deps = env.chain, w["deps"]
    holders = [w["exporter"], w["importer"], env.treasury.address, sc.escrow_addresses[Currency.BCNH],
               sc.escrow_addresses[Currency.BHKD], sc.swap_address]
    chain = tuple(sc.balance_of(c, h) for c in COINS for h in holders)
    ids = [svc.holder_account_id(c, h) for c in COINS for h in holders[:3]]
    ids += [svc.escrow_account_id(c, invoice_id) for c in COINS]
    found = svc.ledger_balances(deps.ledger, ids)
    ledger = tuple(found.get(i, (0, 0, 0, 0)) for i in ids)  # an account not created yet holds nothing
    return chain, ledger


def mirrors_chain(w: dict[str, Any]) -> None:
    env: EmbeddedSettlement = w["env"]
    for coin in COINS:
        for holder in (w["exporter"], w["importer"], env.treasury.address):
            assert svc.ledger_posted(w["deps"].ledger, svc.holder_account_id(coin, holder)) == \
                env.chain.balance_of(coin, holder)


def refused(w: dict[str, Any], action: Callable[[], object], code: str | None = None,
            error: type[BauhiniaError] = BauhiniaError) -> None:
    before = snapshot(w)
    with pytest.raises(error) as info:
        action()
    if code is not None:
        assert info.value.code == code, info.value
    assert snapshot(w) == before


def issue(w: dict[str, Any], amount_minor: int = 50_000, agent: bool = True) -> st.TradeInvoice:
    deps, env = w["deps"], w["env"]
    today = datetime.fromtimestamp(deps.now_ns() // 10**9, UTC).date()
    return svc.issue_invoice(deps, invoice_id="INV-1", exporter_id="EXP", importer_id="IMP", currency=Currency.CNH,
                             due_date=today + timedelta(days=10),
                             line_items=[("goods", 1, amount_minor - 100), ("freight", 1, 100)],
                             bill_of_lading_hash=BL, packing_list_hash=PL,
                             agent_address=env.agent.address if agent else None)


def funded(w: dict[str, Any], method: str = "authorization") -> st.TradeInvoice:
    inv = issue(w)
    svc.accept_invoice(w["deps"], inv.invoice_id, w["importer"])
    return svc.fund_invoice(w["deps"], inv.invoice_id, method=method)


@pytest.mark.parametrize("method", ["authorization", "permit"])
def test_invoice_paid_through_escrow_mirrors_the_ledger(world: dict[str, Any], method: str) -> None:
    w = world
    env, deps = w["env"], w["deps"]
    inv = funded(w, method)
    assert env.chain.escrow_balance(Currency.BCNH) == 500 * UNIT
    assert svc.ledger_posted(deps.ledger, svc.escrow_account_id(Currency.BCNH, "INV-1")) == 500 * UNIT
    assert env.chain.escrow_state(Currency.BCNH, inv.escrow_id) == "locked"
    inv = svc.release_invoice(deps, "INV-1", w["importer"], inv.documents_hash)
    assert inv.state is st.InvoiceState.RELEASED
    assert env.chain.balance_of(Currency.BCNH, w["exporter"]) == 500 * UNIT
    assert svc.ledger_posted(deps.ledger, svc.escrow_account_id(Currency.BCNH, "INV-1")) == 0
    mirrors_chain(w)
    _, history = svc.invoice_with_history(deps, "INV-1")
    assert [r.to_state for r in history] == [st.InvoiceState.ISSUED, st.InvoiceState.ACCEPTED,
                                              st.InvoiceState.FUNDED, st.InvoiceState.RELEASED]
    assert history[-1].reference.startswith("0x")
    assert deps.ledger.check_invariants().ok
    # a retry of the release changes nothing
    with pytest.raises(BauhiniaError):
        svc.release_invoice(deps, "INV-1", w["importer"], inv.documents_hash)
    mirrors_chain(w)


def test_escrow_refusals_leave_chain_and_ledger_unchanged(world: dict[str, Any]) -> None:
    w = world
    env, deps = w["env"], w["deps"]
    sc = env.chain
    inv = issue(w)
    refused(w, lambda: svc.fund_invoice(deps, "INV-1"), "bad_transition")  # not accepted yet
    svc.accept_invoice(deps, "INV-1", w["importer"])
    # the importer frozen on chain: the lock is refused by the coin
    bcnh = env.coins.for_coin(Currency.BCNH)
    bcnh.freeze([w["importer"]], idempotency_key="t:freeze-imp")
    refused(w, lambda: svc.fund_invoice(deps, "INV-1"), "chain_refused")
    bcnh.unfreeze([w["importer"]], idempotency_key="t:unfreeze-imp")
    # the exporter frozen: the escrow refuses to open
    bcnh.freeze([w["exporter"]], idempotency_key="t:freeze-exp")
    refused(w, lambda: svc.fund_invoice(deps, "INV-1"), "chain_refused")
    bcnh.unfreeze([w["exporter"]], idempotency_key="t:unfreeze-exp")
    # a listed party is refused before anything is signed
    w["screener"].listed.add("Exporter Co")
    refused(w, lambda: svc.fund_invoice(deps, "INV-1"), "screening_hit")
    w["screener"].listed.clear()
    inv = svc.fund_invoice(deps, "INV-1")
    assert inv.state is st.InvoiceState.FUNDED
    mirrors_chain(w)
    # a document hash that does not match refuses release
    wrong = st.documents_commitment(BL, st.document_hash(b"another packing list"))
    refused(w, lambda: svc.release_invoice(deps, "INV-1", w["importer"], wrong), "documents_mismatch")
    # only the importer or the agent accepts the documents
    refused(w, lambda: svc.release_invoice(deps, "INV-1", w["exporter"], inv.documents_hash), error=ForbiddenError)
    # the exporter frozen at release: the coin refuses to pay it
    bcnh.freeze([w["exporter"]], idempotency_key="t:freeze-exp-2")
    refused(w, lambda: svc.release_invoice(deps, "INV-1", w["importer"], inv.documents_hash), "chain_refused")
    bcnh.unfreeze([w["exporter"]], idempotency_key="t:unfreeze-exp-2")
    # no refund before expiry
    refused(w, lambda: svc.refund_invoice(deps, "INV-1"), "escrow_not_expired")
    assert sc.escrow_state(Currency.BCNH, inv.escrow_id) == "locked"
    assert svc.invoice_with_history(deps, "INV-1")[0].state is st.InvoiceState.FUNDED
    mirrors_chain(w)


def test_refund_after_expiry(world: dict[str, Any]) -> None:
    w = world
    env, deps = w["env"], w["deps"]
    inv = funded(w)
    assert inv.escrow_expiry_s is not None
    env.time_travel(inv.escrow_expiry_s - deps.now_ns() // 10**9 + 5)
    refused(w, lambda: svc.release_invoice(deps, "INV-1", w["importer"], inv.documents_hash), "escrow_expired")
    inv = svc.refund_invoice(deps, "INV-1")
    assert inv.state is st.InvoiceState.REFUNDED
    assert env.chain.balance_of(Currency.BCNH, w["importer"]) == 1_000 * UNIT
    mirrors_chain(w)


def test_dispute_then_agent_refunds(world: dict[str, Any]) -> None:
    w = world
    env, deps = w["env"], w["deps"]
    inv = funded(w)
    inv = svc.dispute_invoice(deps, "INV-1", w["exporter"], "goods not as described")
    assert env.chain.escrow_state(Currency.BCNH, inv.escrow_id) == "disputed"
    refused(w, lambda: svc.release_invoice(deps, "INV-1", w["importer"], inv.documents_hash), "agent_only")
    inv = svc.refund_invoice(deps, "INV-1", env.agent.address)
    assert inv.state is st.InvoiceState.REFUNDED
    mirrors_chain(w)


def _quote(w: dict[str, Any], amount: int = 100 * UNIT, ttl_s: int = 60) -> st.Quote:
    quote, _ = svc.create_quote(w["deps"], maker=w["env"].treasury.address, taker=w["importer"],
                                taker_coin=Currency.BHKD, taker_amount_base_units=amount, rate="0.92",
                                ttl_s=ttl_s)
    return quote


def test_swap_settles_both_legs(world: dict[str, Any]) -> None:
    w = world
    env, deps = w["env"], w["deps"]
    quote = _quote(w)
    svc.settle_swap(deps, quote.quote_id)
    assert env.chain.balance_of(Currency.BHKD, w["importer"]) == 900 * UNIT
    assert env.chain.balance_of(Currency.BCNH, w["importer"]) == 1_092 * UNIT
    mirrors_chain(w)
    assert svc.settle_swap(deps, quote.quote_id).quote == quote  # settled once: the retry changes nothing
    mirrors_chain(w)


def test_swap_refusals_leave_chain_and_ledger_unchanged(world: dict[str, Any]) -> None:
    """Each refusal in turn (undone before the next): both sides unchanged on chain and in the ledger."""
    w = world
    env, deps = w["env"], w["deps"]
    bcnh, bhkd = env.coins.for_coin(Currency.BCNH), env.coins.for_coin(Currency.BHKD)
    maker, taker = env.treasury.address, w["importer"]

    def attempt(code: str, amount: int = 100 * UNIT) -> None:
        quote = _quote(w, amount=amount)
        refused(w, lambda: svc.settle_swap(deps, quote.quote_id), code)
        found = deps.store.get_quote(quote.quote_id)
        assert found is not None and found[2] == "refused"

    bcnh.freeze([maker], idempotency_key="t:freeze-maker")
    attempt("chain_refused")
    bcnh.unfreeze([maker], idempotency_key="t:unfreeze-maker")
    bhkd.freeze([taker], idempotency_key="t:freeze-taker")
    attempt("chain_refused")
    bhkd.unfreeze([taker], idempotency_key="t:unfreeze-taker")
    bhkd.pause(idempotency_key="t:pause")
    attempt("chain_refused")
    bhkd.unpause(idempotency_key="t:unpause")
    attempt("ledger_refused", amount=1_001 * UNIT)  # the taker's balance is too low: refused before signing
    quote = _quote(w)
    env.time_travel(120)
    refused(w, lambda: svc.settle_swap(deps, quote.quote_id), "quote_expired")
    # the maker spent its coins: once the mirror has seen it, the ledger refuses the maker's leg
    bcnh.transfer_as(env.treasury, w["exporter"], 1_000 * UNIT, idempotency_key="t:drain")
    for holder in (maker, w["exporter"]):
        svc.sync_holder(deps, Currency.BCNH, holder)
    attempt("ledger_refused")
    mirrors_chain(w)
    assert deps.ledger.check_invariants().ok


def test_taker_balance_refused_by_the_chain_when_the_mirror_lags(world: dict[str, Any]) -> None:
    """The taker spent coins the mirror has not seen: the ledger accepts the pending legs, the chain refuses the
    whole swap, the pending legs are voided: both sides unchanged everywhere."""
    w = world
    env, deps = w["env"], w["deps"]
    quote = _quote(w, amount=600 * UNIT)
    env.coins.for_coin(Currency.BHKD).transfer_as(env.chain.key_for(w["importer"]), w["exporter"], 500 * UNIT,
                                                  idempotency_key="t:spend")
    refused(w, lambda: svc.settle_swap(deps, quote.quote_id), "chain_refused")
    assert deps.ledger.check_invariants().ok


def test_trade_payout_carries_the_invoice_reference(world: dict[str, Any]) -> None:
    from bauhinia.adapters.bank.payments import issuer_party, write_payment
    from bauhinia.domain.banking import AccountId, Party, PaymentScheme

    w = world
    inv = funded(w)
    with pytest.raises(BauhiniaError):
        svc.trade_payout_batch(inv, debtor=issuer_party("Issuer", "HK01", scheme="OTHR"),
                               creditor=Party("Exporter Co", AccountId("CN01", "OTHR")),
                               created_at=datetime.now(UTC), execution_date=datetime.now(UTC).date())
    inv = svc.release_invoice(w["deps"], "INV-1", w["env"].agent.address, inv.documents_hash)
    batch = svc.trade_payout_batch(inv, debtor=issuer_party("Issuer", "HK01", scheme="OTHR"),
                                   creditor=Party("Exporter Co", AccountId("CN01", "OTHR")),
                                   created_at=datetime.now(UTC), execution_date=datetime.now(UTC).date())
    xml, _ = write_payment(batch, PaymentScheme.PAIN_001_001_09)
    assert b"<Nb>INV-1</Nb>" in xml and b"INVOICE INV-1" in xml
    figures = svc.trade_report(w["deps"])
    assert figures.volume_by_corridor == {"HK->CN": {"BCNH": 500 * UNIT}}
