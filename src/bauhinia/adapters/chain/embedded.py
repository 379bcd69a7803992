"""The embedded default: an in-process EVM with both coins deployed and every role on its own key. State
lives as long as the process.

    chains = make_embedded_chain()                  # journal in an in-memory SQLite unless an engine is given
    bhkd = chains.for_coin(Currency.HKD)            # a Web3Chain (the Chain port)

Two engines, both behind web3 (so the same adapter, sender, journal and indexer run on either):
- "revm" (default): revm, the Rust EVM, through pyrevm, answered by `RevmProvider` (revm_provider.py);
  about two orders of magnitude faster than py-evm, so batch minting keeps up with the issuance service.
- "py-evm": web3's EthereumTesterProvider over eth-tester/py-evm (pure Python, the reference).
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
from bauhinia.domain.errors import ValidationError
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


EMBEDDED_ENGINES = ("revm", "py-evm")
EMBEDDED_ENGINE_DEFAULT = "revm"


def make_embedded_w3(engine: str = EMBEDDED_ENGINE_DEFAULT) -> Web3:
    if engine == "revm":
        from bauhinia.adapters.chain.revm_provider import RevmProvider

        return Web3(RevmProvider())
    if engine == "py-evm":
        return Web3(EthereumTesterProvider())
    raise ValidationError(f"unknown embedded chain engine {engine!r} (one of {', '.join(EMBEDDED_ENGINES)})",
                          code="bad_chain_engine")


def make_embedded_chain(
    engine: sa.Engine | None = None,
    *,
    coins: tuple[Currency, ...] = (Currency.BCNH, Currency.BHKD),
    licence_number: str = DEMO_LICENCE,
    cnh_approval_reference: str = DEMO_CNH_APPROVAL,
    keys: dict[Currency, RoleKeys] | None = None,
    engine_name: str = EMBEDDED_ENGINE_DEFAULT,
) -> EmbeddedChains:
    """Deploy the coins on a fresh in-process EVM (`engine_name`: "revm" or "py-evm"). `engine` (already
    migrated) holds the journal."""
    if engine is None:
        engine = make_memory_engine()
    w3 = make_embedded_w3(engine_name)
    sender = TxSender(w3, TxJournal(engine), poll_interval_s=0.0)
    result = EmbeddedChains(w3=w3, sender=sender, engine=engine)
    for coin in coins:
        role_keys = (keys or {}).get(coin) or RoleKeys.generate()
        approval = cnh_approval_reference if coin.fiat is Currency.CNH else ""
        result.chains[coin] = deploy_coin(sender, role_keys, coin, licence_number=licence_number,
                                          approval_reference=approval, fund_from_dev_account=True,
                                          key_prefix=f"embedded:{w3.eth.chain_id}:{coin.value}")
    return result
