"""The chain adapter on the embedded in-process EVM, with its journal and indexer in both stores."""

from __future__ import annotations

import pytest
from eth_account import Account

from bauhinia.adapters.chain.embedded import make_embedded_chain
from bauhinia.adapters.chain.indexer import ChainIndexer, cursor_state, holder_balances_of
from bauhinia.adapters.chain.keys import KeyStore, RoleKeys
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain.chain import ChainTxState
from bauhinia.domain.errors import ConflictError, RefusedError, ValidationError
from bauhinia.domain.money import Currency

UNIT = 10**6


def test_embedded_chain_mints_idempotently_and_indexes(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    chains = make_embedded_chain(engine)
    bcnh, bhkd = chains.for_coin(Currency.CNH), chains.for_coin(Currency.HKD)
    assert bcnh.status().approval_reference and not bhkd.status().approval_reference
    alice = Account.create().address
    with pytest.raises(RefusedError, match="reserve attestation stale"):
        bhkd.mint(alice, UNIT, idempotency_key="e-early")
    assert bhkd.tx("e-early") is None  # refused before signing: nothing journaled
    now = int(chains.w3.eth.get_block("latest")["timestamp"])
    bhkd.attest_reserve(100 * UNIT, now, b"\x02" * 32, idempotency_key="e-att")
    first = bhkd.mint(alice, 60 * UNIT, idempotency_key="e-1")
    assert bhkd.mint(alice, 60 * UNIT, idempotency_key="e-1") == first
    with pytest.raises(ConflictError):
        bhkd.burn(1, idempotency_key="e-1")  # the key belongs to a mint
    with pytest.raises(RefusedError, match="reserve exceeded"):
        bhkd.mint(alice, 40 * UNIT + 1, idempotency_key="e-2")
    credits = [(Account.create().address, 10 * UNIT) for _ in range(4)]
    bhkd.batch_mint(credits, idempotency_key="e-3")
    assert bhkd.total_supply() == 100 * UNIT and bcnh.total_supply() == 0
    assert bhkd.wait_confirmed("e-3", timeout_s=5).state is ChainTxState.CONFIRMED
    indexer = ChainIndexer(engine, chains.w3, bhkd.address, confirmations=0)
    assert indexer.catch_up() > 0
    balances = holder_balances_of(engine, indexer.name)
    assert balances[alice.lower()] == 60 * UNIT and sum(balances.values()) == 100 * UNIT
    assert cursor_state(engine, indexer.name)["total_supply_base_units"] == 100 * UNIT
    assert indexer.catch_up() == 0  # idempotent at the head
    with pytest.raises(ValidationError):
        bhkd.mint("not-an-address", 1, idempotency_key="e-bad")


def test_keystore_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    store = KeyStore(Path(str(tmp_path)) / "keys")
    keys = RoleKeys.generate()
    store.save("BHKD", keys, "pw", scrypt_n=2**4)
    assert store.load("BHKD", "pw").addresses() == keys.addresses()
    with pytest.raises(ValidationError, match="wrong password"):
        store.load("BHKD", "nope")
    assert len(set(keys.addresses().values())) == 7  # every role its own key
