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


if __name__ == "__main__":
    run_trade_demo()
