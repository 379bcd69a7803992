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


@pytest.mark.parametrize("engine_name", ["revm", "py-evm"])
def test_embedded_chain_mints_idempotently_and_indexes(db_url: str, engine_name: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    chains = make_embedded_chain(engine, engine_name=engine_name)
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
    # Batch mints are checked off-chain (no dry run): refused before signing, nothing journaled.
    with pytest.raises(RefusedError, match="reserve exceeded"):
        bhkd.batch_mint([(alice, 1)], idempotency_key="e-4")
    assert bhkd.tx("e-4") is None


@pytest.mark.parametrize("engine_name", ["revm", "py-evm"])
def test_batch_mint_to_a_frozen_receiver_reverts_on_chain_with_the_reason(engine_name: str) -> None:
    chains = make_embedded_chain(coins=(Currency.BHKD,), engine_name=engine_name)
    bhkd = chains.for_coin(Currency.HKD)
    now = int(chains.w3.eth.get_block("latest")["timestamp"])
    bhkd.attest_reserve(100 * UNIT, now, b"\x02" * 32, idempotency_key="f-att")
    frozen, other = Account.create().address, Account.create().address
    bhkd.freeze([frozen], idempotency_key="f-freeze")
    with pytest.raises(RefusedError, match="reverted on chain: frozen") as refused:
        bhkd.batch_mint([(other, UNIT), (frozen, UNIT)], idempotency_key="f-batch")
    assert refused.value.code == "chain_reverted"
    tx = bhkd.tx("f-batch")
    assert tx is not None and tx.succeeded is False  # journaled and mined, as a revert
    assert bhkd.total_supply() == 0 and bhkd.balance_of(other) == 0  # the batch reverted as one
    with pytest.raises(RefusedError, match="reverted on chain"):  # a retry with the key reports it again
        bhkd.batch_mint([(other, UNIT), (frozen, UNIT)], idempotency_key="f-batch")
    bhkd.batch_mint([(other, UNIT)], idempotency_key="f-batch-2")
    assert bhkd.balance_of(other) == UNIT


def test_keystore_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    store = KeyStore(Path(str(tmp_path)) / "keys")
    keys = RoleKeys.generate()
    store.save("BHKD", keys, "pw", scrypt_n=2**4)
    assert store.load("BHKD", "pw").addresses() == keys.addresses()
    locked = store.load("BHKD", "nope")  # addresses are read without decrypting anything
    assert locked.addresses() == keys.addresses()
    with pytest.raises(ValidationError, match="wrong password"):
        locked.minter.sign_transaction({"to": keys.owner.address, "value": 0, "gas": 21_000, "nonce": 0,
                                        "chainId": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "type": 2})
    assert len(set(keys.addresses().values())) == 7  # every role its own key


def test_each_role_key_has_its_own_secret_and_stays_locked_until_it_signs(tmp_path: object) -> None:
    from pathlib import Path

    from bauhinia.adapters.chain.keys import ROLES, RoleSecrets

    secrets_dir = Path(str(tmp_path)) / "secrets"
    secrets_dir.mkdir()
    for role in ROLES:
        (secrets_dir / role).write_text(f"secret-of-{role}\n")
    store = KeyStore(Path(str(tmp_path)) / "keys")
    secrets = RoleSecrets(directory=secrets_dir)
    keys = RoleKeys.generate()
    store.save("BCNH", keys, secrets, scrypt_n=2**4)
    assert secrets.shared_by("BCNH") == []
    # the minter's file opens only with the minter's secret, not with another role's
    wrong = RoleSecrets(by_role={"minter": "secret-of-pauser"})
    with pytest.raises(ValidationError, match="wrong password"):
        store.load("BCNH", wrong).minter.sign_transaction({"to": keys.owner.address, "value": 0, "gas": 21_000,
                                                           "nonce": 0, "chainId": 1, "maxFeePerGas": 1,
                                                           "maxPriorityFeePerGas": 1, "type": 2})
    loaded = store.load("BCNH", secrets)
    signed = loaded.minter.sign_transaction({"to": keys.owner.address, "value": 0, "gas": 21_000, "nonce": 0,
                                            "chainId": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "type": 2})
    assert signed.hash
    assert loaded.minter.unlocked and not loaded.pauser.unlocked and not loaded.owner.unlocked
    assert "secret-of" not in repr(loaded.minter)
