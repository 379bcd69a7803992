"""Wiring of trade settlement on the embedded EVM, and the demo the lead calls:

    from bauhinia.entrypoints.trade_demo import run_trade_demo
    run_trade_demo()            # pays an invoice in CNH coins through escrow, settles one HKD/CNH swap

`make_embedded_settlement` deploys both coins (the chain adapter's embedded factory), the escrows and the swap,
and returns the services' dependencies over one database (`engine`, migrated) for the journal, the ledger and
the settlement tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bauhinia.adapters.bank.payments import issuer_party, write_payment
from bauhinia.adapters.chain.embedded import EmbeddedChains, make_embedded_chain, make_memory_engine
from bauhinia.adapters.chain.settlement import SettlementChain
from bauhinia.adapters.screening.matcher import Matcher
from bauhinia.adapters.screening.trade_screener import TradeScreener
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.adapters.store.settlement_repo import SettlementRepository
from bauhinia.domain import settlement as st
from bauhinia.domain.banking import AccountId, Party, PaymentScheme
from bauhinia.domain.errors import RefusedError
from bauhinia.domain.money import Amount, Currency
from bauhinia.services import settlement as svc

UNIT = 10**6  # one coin in base units
RESERVE_BASE_UNITS = 10**9 * UNIT


class ShiftableClock:
    """Wall-clock time plus an offset that tests and the demo move together with the embedded chain's time."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def now_ns(self) -> int:
        return time.time_ns() + self.offset_ns


@dataclass
class EmbeddedSettlement:
    deps: svc.SettlementDeps
    chain: SettlementChain
    coins: EmbeddedChains
    clock: ShiftableClock
    engine: sa.Engine
    treasury: LocalAccount
    agent: LocalAccount
    minted: dict[str, int] = field(default_factory=dict)

    def new_customer(self, *, gas: bool = True) -> LocalAccount:
        account: LocalAccount = Account.create()
        self.chain.add_key(account)
        if gas:
            self.chain.fund_gas([account.address])
        return account

    def mint(self, coin: Currency, to: str, amount_base_units: int) -> None:
        chain = self.coins.for_coin(coin)
        n = self.minted.get(coin.coin.value, 0) + 1
        self.minted[coin.coin.value] = n
        chain.mint(to, amount_base_units, idempotency_key=f"trade-demo:mint:{coin.coin.value}:{n}:{to}")

    def time_travel(self, seconds: int) -> None:
        """Move the chain's clock and the services' clock forward together (embedded engines only), and mine
        a block so that calls see the new time."""
        self.clock.offset_ns += seconds * 1_000_000_000
        w3 = self.chain.w3
        provider: Any = w3.provider
        if hasattr(provider, "node"):  # revm: the node's block timestamps follow its clock
            provider.node.clock_s = lambda: self.clock.now_ns() / 1e9
        elif hasattr(provider, "ethereum_tester"):  # py-evm
            provider.ethereum_tester.time_travel(self.clock.now_ns() // 1_000_000_000)
        dev = w3.eth.accounts
        tx = w3.eth.send_transaction({"from": dev[0], "to": dev[1], "value": 1, "gas": 21_000})
        w3.eth.wait_for_transaction_receipt(tx, timeout=10)


def make_embedded_settlement(engine: sa.Engine | None = None, *, screener: svc.Screener | None = None
                             ) -> EmbeddedSettlement:
    engine = engine or make_memory_engine()
    coins = make_embedded_chain(engine)
    sender = coins.sender
    relayer: LocalAccount = Account.create()
    treasury: LocalAccount = Account.create()
    agent: LocalAccount = Account.create()
    sender.fund([relayer.address, treasury.address, agent.address], 10**19)
    sc = SettlementChain.deploy(sender, relayer, coins.chains,
                                key_prefix=f"embedded:{sender.chain_id}:settlement")
    sc.add_key(treasury)
    sc.add_key(agent)
    now_s = int(sender.w3.eth.get_block("latest")["timestamp"])
    for coin, chain in coins.chains.items():
        chain.attest_reserve(RESERVE_BASE_UNITS, now_s, b"\x5a" * 32,
                             idempotency_key=f"trade-demo:attest:{coin.value}:{now_s}")
    clock = ShiftableClock()
    ledger = SqlLedger(engine, clock.now_ns)
    deps = svc.SettlementDeps(store=SettlementRepository(engine), chain=sc, ledger=ledger,
                              screener=screener or TradeScreener(Matcher([])), clock=clock)
    return EmbeddedSettlement(deps, sc, coins, clock, engine, treasury, agent)


def _fmt(coin: Currency, base_units: int) -> str:
    return Amount(base_units, coin).format()


def run_trade_demo(out: Callable[[str], None] = print, *, engine: sa.Engine | None = None,
                   screener: svc.Screener | None = None, payout_dir: Path | None = None) -> dict[str, Any]:
    """Pay an invoice in CNH coins through escrow, then settle one HKD/CNH swap, on the embedded EVM."""
    env = make_embedded_settlement(engine, screener=screener)
    deps, sc = env.deps, env.chain
    exporter_key = env.new_customer(gas=True)
    importer_key = env.new_customer(gas=True)
    env.mint(Currency.BCNH, importer_key.address, 500_000 * UNIT)
    env.mint(Currency.BHKD, importer_key.address, 200_000 * UNIT)
    env.mint(Currency.BCNH, env.treasury.address, 2_000_000 * UNIT)
    env.mint(Currency.BHKD, env.treasury.address, 2_000_000 * UNIT)
    out(f"chain {sc.sender.chain_id}: escrow BCNH {sc.escrow_addresses[Currency.BCNH]}, "
        f"swap {sc.swap_address}")

    exporter = svc.register_party(deps, "EXP-SZ-001", "Shenzhen Pearl River Electronics Co Ltd", "CN",
                                  exporter_key.address)
    importer = svc.register_party(deps, "IMP-HK-001", "Kowloon Bay Trading Limited", "HK", importer_key.address)
    svc.register_party(deps, "ISSUER-TREASURY", "Bauhinia Issuer Treasury Limited", "HK", env.treasury.address)
    out(f"parties screened clear: {exporter.name} ({exporter.country}), {importer.name} ({importer.country})")

    bill_of_lading = st.document_hash(b"B/L COSU6281734 Yantian -> Kwai Chung, 2 x 40HC")
    packing_list = st.document_hash(b"Packing list PL-88121: 1,200 cartons LED panels, 300 cartons drivers")
    today = datetime.fromtimestamp(deps.now_ns() // 1_000_000_000, UTC).date()
    invoice = svc.issue_invoice(
        deps, invoice_id="INV-2025-0001", exporter_id=exporter.party_id, importer_id=importer.party_id,
        currency=Currency.CNH, due_date=today + timedelta(days=30),
        line_items=[("LED panels 600x600, 1,200 cartons", 1200, 21_600_000), ("LED drivers, 300 cartons", 300,
                                                                               3_400_000)],
        bill_of_lading_hash=bill_of_lading, packing_list_hash=packing_list, agent_address=env.agent.address,
    )
    out(f"invoice {invoice.invoice_id}: {Amount(invoice.amount_minor, invoice.currency).format()} "
        f"{invoice.corridor.value}, state {invoice.state}")
    invoice = svc.accept_invoice(deps, invoice.invoice_id, importer.address)
    invoice = svc.fund_invoice(deps, invoice.invoice_id, method="authorization")
    out(f"funded by EIP-3009 authorisation: escrow holds {_fmt(Currency.BCNH, sc.escrow_balance(Currency.BCNH))}"
        f", state {invoice.state}")
    invoice = svc.release_invoice(deps, invoice.invoice_id, env.agent.address, invoice.documents_hash)
    out(f"agent accepted the documents: exporter holds "
        f"{_fmt(Currency.BCNH, sc.balance_of(Currency.BCNH, exporter.address))}, state {invoice.state}")
    _, history = svc.invoice_with_history(deps, invoice.invoice_id)
    out("audit: " + " -> ".join(r.to_state.value for r in history))

    creditor = Party("Shenzhen Pearl River Electronics Co Ltd", AccountId("HK0000000000000000000001", "OTHR"),
                     "HSBCHKHHXXX")
    debtor = issuer_party("Bauhinia Issuer Limited", "HK0000000000000000000009", "BKCHHKHHXXX", "OTHR")
    batch = svc.trade_payout_batch(invoice, debtor=debtor, creditor=creditor,
                                   created_at=datetime.now(UTC), execution_date=date.today())
    xml, digest = write_payment(batch, PaymentScheme.PAIN_001_001_09)
    if payout_dir is not None:
        payout_dir.mkdir(parents=True, exist_ok=True)
        (payout_dir / f"{batch.message_id}.xml").write_bytes(xml)
    out(f"payout pain.001 {batch.message_id}: remittance '{batch.payouts[0].remittance_text}' "
        f"(sha256 {digest[:12]})")

    quote, _sig = svc.create_quote(deps, maker=env.treasury.address, taker=importer.address,
                                   taker_coin=Currency.BHKD, taker_amount_base_units=100_000 * UNIT, rate="0.9213",
                                   rounding=st.Rounding.DOWN, ttl_s=120)
    out(f"quote {quote.quote_id}: taker pays {_fmt(quote.taker_coin, quote.taker_amount_base_units)}, receives "
        f"{_fmt(quote.maker_coin, quote.maker_amount_base_units)} (rate {quote.rate.numerator}/"
        f"{quote.rate.denominator}, expires {quote.expiry_s})")
    result = svc.settle_swap(deps, quote.quote_id, countries={importer.address: "HK",
                                                              env.treasury.address: "HK"})
    out(f"swap settled in one transaction {result.tx_hash[:18]}...: importer holds "
        f"{_fmt(Currency.BCNH, sc.balance_of(Currency.BCNH, importer.address))} and "
        f"{_fmt(Currency.BHKD, sc.balance_of(Currency.BHKD, importer.address))}")
    figures = svc.trade_report(deps)
    out(f"report: volume by corridor {figures.volume_by_corridor}, active holders {figures.active_holders}")
    return {
        "invoice_id": invoice.invoice_id,
        "invoice_state": invoice.state.value,
        "exporter_bcnh_base_units": sc.balance_of(Currency.BCNH, exporter.address),
        "swap_tx": result.tx_hash,
        "importer_bcnh_base_units": sc.balance_of(Currency.BCNH, importer.address),
        "importer_bhkd_base_units": sc.balance_of(Currency.BHKD, importer.address),
        "payout_message_id": batch.message_id,
        "figures": figures,
    }


# --- the trade part of the main demo (`bauhinia demo`) -------------------------------------------------------


def _sign_typed(key: LocalAccount, typed: dict[str, Any]) -> str:
    """What the importer's own wallet does with the typed data (no key of the importer's reaches the service)."""
    signature: bytes = Account.sign_typed_data(key.key, full_message=typed).signature
    return "0x" + signature.hex().removeprefix("0x")


def trade_demo_steps(issuer: Any, console: Any, *, exporter_id: str = "szx-hk", importer_id: str = "kln-imp",
                     exporter_country: str = "CN", invoice_minor: int = 250_000_00,
                     hkd_holder_id: str = "vhb-hkd", redeem_proceeds: bool = True) -> dict[str, Any]:
    """Trade settlement on the main demo's issuer (`entrypoints.scenario.Issuer`, after its CNH coins were minted
    and paid): the exporter invoices the importer in CNH, the importer funds the escrow by signing an EIP-3009
    authorisation with its own wallet (relayed), the documents agent releases against the matching document
    hash (a wrong hash is refused first), the exporter redeems the proceeds (the payout's remittance carries the
    invoice number); an HKD holder is onboarded and funded through a camt.054, settles one HKD/CNH swap with the
    importer atomically, a second swap the taker cannot pay is refused with both balances unchanged; then the
    trade report's corridor figures. Prints with `console.print`; returns the figures.

    `exporter_country`: the corridor follows the trade: the exporter ships from Shenzhen (CN) and is paid in
    Hong Kong. Call it after the demo's books check (the redemption moves the CNH books on)."""
    from bauhinia.domain import issuance as iss
    from bauhinia.domain.money import minor_to_base_units
    from bauhinia.services import issuance as isvc

    c = issuer.container
    ctx = issuer.ctx
    deps: svc.SettlementDeps = c.settlement
    sc: SettlementChain = c.settlement.chain
    exporter_h, importer_h = issuer.holders[exporter_id], issuer.holders[importer_id]
    cnh, bcnh, bhkd = Currency.CNH, Currency.BCNH, Currency.BHKD
    say = console.print
    say(f"escrow (BCNH) {sc.escrow_addresses[bcnh]}, swap {sc.swap_address}; documents agent "
        f"{sc.agent.address if sc.agent else '-'}")

    exporter = svc.register_party(deps, exporter_id, exporter_h.name, exporter_country, exporter_h.wallet)
    importer = svc.register_party(deps, importer_id, importer_h.name, "HK", importer_h.wallet)
    say(f"trade parties screened clear: {exporter.name} ({exporter.country}), {importer.name} ({importer.country})")

    bill_of_lading = st.document_hash(b"B/L COSU6281734 Yantian -> Kwai Chung, 2 x 40HC, LED panels")
    packing_list = st.document_hash(b"Packing list PL-88121: 1,200 cartons LED panels, 300 cartons drivers")
    today = datetime.fromtimestamp(deps.now_ns() // 1_000_000_000, UTC).date()
    invoice_id = f"INV-{today.strftime('%Y%m%d')}-0001"
    goods = invoice_minor * 9 // 10
    invoice = svc.issue_invoice(
        deps, invoice_id=invoice_id, exporter_id=exporter.party_id, importer_id=importer.party_id,
        currency=cnh, due_date=today + timedelta(days=30),
        line_items=[("LED panels 600x600, 1,200 cartons", 1200, goods), ("LED drivers, 300 cartons", 300,
                                                                         invoice_minor - goods)],
        bill_of_lading_hash=bill_of_lading, packing_list_hash=packing_list,
        agent_address=sc.agent.address if sc.agent else None)
    say(f"invoice {invoice.invoice_id}: {Amount(invoice.amount_minor, cnh).format()} from {exporter.name} to "
        f"{importer.name} ({invoice.corridor.value}), documents hash {invoice.documents_hash[:16]}...")
    svc.accept_invoice(deps, invoice_id, importer.address)
    expiry_s, typed = svc.funding_authorization(deps, invoice_id)
    auth = svc.SignedAuthorization(int(typed["message"]["validAfter"]), int(typed["message"]["validBefore"]),
                                   _sign_typed(importer_h.key, typed))
    invoice = svc.fund_invoice(deps, invoice_id, escrow_expiry_s=expiry_s, authorization=auth)
    say(f"importer signed an EIP-3009 authorisation in its own wallet, the relayer locked it: escrow holds "
        f"{_fmt(bcnh, sc.escrow_balance(bcnh))} until {datetime.fromtimestamp(expiry_s, UTC):%Y-%m-%d}")
    agent = sc.agent.address if sc.agent else importer.address
    wrong = st.documents_commitment(bill_of_lading, st.document_hash(b"a packing list for other goods"))
    try:
        svc.release_invoice(deps, invoice_id, agent, wrong)
        raise RuntimeError("a wrong document hash was accepted")  # never: the domain and the contract refuse it
    except RefusedError as exc:
        say(f"documents that do not match are refused: {exc.code}; escrow still holds "
            f"{_fmt(bcnh, sc.escrow_balance(bcnh))}")
    invoice = svc.release_invoice(deps, invoice_id, agent, invoice.documents_hash)
    _, history = svc.invoice_with_history(deps, invoice_id)
    say(f"agent accepted the matching documents: {exporter.name} received {_fmt(bcnh, invoice.amount_base_units)}"
        f" from escrow; audit trail {' -> '.join(r.to_state.value for r in history)}")

    if redeem_proceeds:
        key = f"trade:{invoice_id}:redeem"
        svc.link_trade_redemption(deps, invoice_id, key, exporter.party_id)
        red = isvc.request_redemption(ctx, iss.RedemptionRequest(exporter.party_id, bcnh, invoice.amount_minor,
                                                                 exporter.address, exporter_h.bank_account, key))
        chain = ctx.chains[cnh]
        chain.transfer_as(exporter_h.key, chain.redemption_address, minor_to_base_units(invoice.amount_minor),
                          idempotency_key=f"{key}:send")
        files = isvc.run_redemptions(ctx, cnh).payout_files
        red = ctx.store.redemption(red.seq)
        xml = (ctx.bank.outbox / files[-1]).read_text(encoding="utf-8") if files else ""
        carried = f"INVOICE {invoice_id}" in xml and f"<Nb>{invoice_id}</Nb>" in xml
        say(f"exporter redeemed the proceeds: payout {Amount(red.amount_minor - red.fee_minor, cnh).format()} in "
            f"{files[-1] if files else '-'}; remittance carries the invoice number: {'yes' if carried else 'NO'}")

    # an HKD holder for the swap, funded through the bank like everyone else
    hkd = issuer.holders.get(hkd_holder_id) or issuer.add_holder(
        hkd_holder_id, "Victoria Harbour Bullion Ltd", "012-777-500600-222", fiat=Currency.HKD)
    issuer.fund_gas(hkd)
    issuer.drop_notification([issuer.deposit(hkd, 300_000_00, "HSBC-IN-HKD-0001")], datetime.now(UTC),
                             fiat=Currency.HKD, message_id="HSBC-NTF-HKD-0001")
    isvc.ingest_bank_files(ctx)
    isvc.run_subscriptions(ctx, Currency.HKD)
    taker = svc.register_party(deps, hkd.customer_id, hkd.name, "HK", hkd.wallet)
    for key_holder in (importer_h, hkd):
        sc.add_key(key_holder.key)  # the demo's customers submit their own legs from this process
    say(f"{taker.name} subscribed HKD 300,000.00 and holds {_fmt(bhkd, sc.balance_of(bhkd, taker.address))}")

    def balances() -> str:
        return (f"{importer.name}: {_fmt(bcnh, sc.balance_of(bcnh, importer.address))}, "
                f"{_fmt(bhkd, sc.balance_of(bhkd, importer.address))}; {taker.name}: "
                f"{_fmt(bcnh, sc.balance_of(bcnh, taker.address))}, {_fmt(bhkd, sc.balance_of(bhkd, taker.address))}")

    quote, _ = svc.create_quote(deps, maker=importer.address, taker=taker.address, taker_coin=bhkd,
                                taker_amount_base_units=100_000 * UNIT, rate="0.9213", ttl_s=120)
    say(f"firm quote {quote.quote_id} signed by {importer.name} (EIP-712): {taker.name} pays "
        f"{_fmt(bhkd, quote.taker_amount_base_units)} for {_fmt(bcnh, quote.maker_amount_base_units)}, "
        f"rate {quote.rate.numerator}/{quote.rate.denominator}, until {quote.expiry_s}")
    countries = {importer.address: importer.country, taker.address: taker.country}
    result = svc.settle_swap(deps, quote.quote_id, countries=countries)
    say(f"swap settled, both legs in one transaction {result.tx_hash[:18]}...: {balances()}")
    too_big = svc.create_quote(deps, maker=importer.address, taker=taker.address, taker_coin=bhkd,
                               taker_amount_base_units=sc.balance_of(bhkd, taker.address) + 1 * UNIT,
                               rate="0.9213", ttl_s=120)[0]
    before = balances()
    try:
        svc.settle_swap(deps, too_big.quote_id, countries=countries)
        raise RuntimeError("a swap the taker cannot pay was settled")
    except RefusedError as exc:
        unchanged = balances() == before
        say(f"a swap for more than {taker.name} holds is refused ({exc.code}): both sides unchanged: "
            f"{'yes' if unchanged else 'NO'}")

    figures = svc.trade_report(deps)
    for corridor, volumes in figures.volume_by_corridor.items():
        say(f"  corridor {corridor}: " + ", ".join(_fmt(Currency(coin), v) for coin, v in volumes.items()))
    say(f"  {figures.payments} settled payments, {figures.active_holders} active holders, velocity "
        + ", ".join(f"{coin} {v / 1000:.3f}" for coin, v in figures.velocity_milli.items()))
    return {"invoice_id": invoice_id, "invoice_state": invoice.state.value, "swap_tx": result.tx_hash,
            "figures": figures}


if __name__ == "__main__":
    run_trade_demo()
