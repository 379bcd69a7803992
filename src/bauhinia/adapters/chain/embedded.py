"""The embedded default: an in-process EVM (web3's EthereumTesterProvider over py-evm) with both coins
deployed and every role on its own key. State lives as long as the process.

    chains = make_embedded_chain()                  # journal in an in-memory SQLite unless an engine is given
    bhkd = chains.for_coin(Currency.HKD)            # a Web3Chain (the Chain port)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool
from web3 import EthereumTesterProvider, Web3

from bauhinia.adapters.chain.deploy import deploy_coin
from bauhinia.adapters.chain.journal import TxJournal
from bauhinia.adapters.chain.keys import RoleKeys
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.chain.web3_chain import Web3Chain
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain.money import Currency

DEMO_LICENCE = "HKMA-SC-DEMO-001"
DEMO_CNH_APPROVAL = "PBOC-CB-DEMO-2025-001"


@dataclass
class EmbeddedChains:
    w3: Web3
    sender: TxSender
    engine: sa.Engine
    chains: dict[Currency, Web3Chain] = field(default_factory=dict)

    def for_coin(self, currency: Currency) -> Web3Chain:
        return self.chains[currency.coin]


def make_memory_engine() -> sa.Engine:
    engine = make_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    migrate(engine)
    return engine


def make_embedded_w3() -> Web3:
    return Web3(EthereumTesterProvider())


def make_embedded_chain(
    engine: sa.Engine | None = None,
    *,
    coins: tuple[Currency, ...] = (Currency.BCNH, Currency.BHKD),
    licence_number: str = DEMO_LICENCE,
    cnh_approval_reference: str = DEMO_CNH_APPROVAL,
    keys: dict[Currency, RoleKeys] | None = None,
) -> EmbeddedChains:
    """Deploy the coins on a fresh in-process EVM. `engine` (already migrated) holds the journal."""
    if engine is None:
        engine = make_memory_engine()
    w3 = make_embedded_w3()
    sender = TxSender(w3, TxJournal(engine), poll_interval_s=0.0)
    result = EmbeddedChains(w3=w3, sender=sender, engine=engine)
    for coin in coins:
        role_keys = (keys or {}).get(coin) or RoleKeys.generate()
        approval = cnh_approval_reference if coin.fiat is Currency.CNH else ""
        result.chains[coin] = deploy_coin(sender, role_keys, coin, licence_number=licence_number,
                                          approval_reference=approval, fund_from_dev_account=True,
                                          key_prefix=f"embedded:{w3.eth.chain_id}:{coin.value}")
    return result
