"""The chain adapter and the indexer against a separate Hardhat node process (JSON-RPC over HTTP)."""

from __future__ import annotations

from typing import Any

import chain_node
import pytest
from eth_account import Account
from web3 import Web3

from bauhinia.adapters.chain.deploy import deploy_coin
from bauhinia.adapters.chain.embedded import make_memory_engine
from bauhinia.adapters.chain.indexer import ChainIndexer, cursor_state, holder_balances_of
from bauhinia.adapters.chain.journal import TxJournal
from bauhinia.adapters.chain.keys import RoleKeys
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.chain.web3_chain import Web3Chain
from bauhinia.domain.chain import ChainTxState
from bauhinia.domain.errors import RefusedError
from bauhinia.domain.money import Currency

pytestmark = pytest.mark.node
hardhat_url = chain_node.hardhat_url  # fixtures
hardhat_w3 = chain_node.hardhat_w3
UNIT = 10**6


def _deploy(w3: Web3, engine: Any = None) -> Web3Chain:
    engine = engine or make_memory_engine()
    sender = TxSender(w3, TxJournal(engine), poll_interval_s=0.01, receipt_timeout_s=20)
    chain = deploy_coin(sender, RoleKeys.generate(), Currency.BCNH, licence_number="HKMA-SC-T-1",
                        approval_reference="PBOC-T-1", fund_from_dev_account=True,
                        key_prefix=f"t:{Account.create().address}")
    now = int(w3.eth.get_block("latest")["timestamp"])
    chain.attest_reserve(1_000_000 * UNIT, now, b"\x01" * 32, idempotency_key=f"att:{chain.address}")
    return chain


def test_deploy_mint_burn_freeze_pause_on_the_node(hardhat_w3: Web3) -> None:
    chain = _deploy(hardhat_w3)
    alice = Account.create()
    chain.sender.fund([alice.address], 10**19)
    tx = chain.mint(alice.address, 250 * UNIT, idempotency_key="n-mint-1")
    assert tx.state is ChainTxState.MINED and tx.succeeded
    again = chain.mint(alice.address, 250 * UNIT, idempotency_key="n-mint-1")
    assert again.tx_hash == tx.tx_hash
    assert chain.balance_of(alice.address) == 250 * UNIT
    chain.batch_mint([(Account.create().address, UNIT) for _ in range(20)], idempotency_key="n-batch-1")
    assert chain.total_supply() == 270 * UNIT
    # A redemption: alice pays into the redemption address, the minter burns.
    chain.transfer_as(alice, chain.redemption_address, 50 * UNIT, idempotency_key="n-redeem-pay")
    chain.burn(50 * UNIT, idempotency_key="n-burn-1")
    assert chain.total_supply() == 220 * UNIT
    chain.freeze([alice.address], idempotency_key="n-freeze-1")
    assert chain.is_frozen(alice.address)
    with pytest.raises(RefusedError, match="frozen"):
        chain.mint(alice.address, 1, idempotency_key="n-mint-frozen")
    chain.pause(idempotency_key="n-pause")
    with pytest.raises(RefusedError, match="paused"):
        chain.mint(Account.create().address, 1, idempotency_key="n-mint-paused")
    status = chain.status()
    assert status.paused and status.total_supply_base_units == 220 * UNIT
    assert status.approval_reference == "PBOC-T-1"
    assert chain.wait_confirmed("n-mint-1", timeout_s=10).state is ChainTxState.CONFIRMED


def test_crash_after_journal_before_broadcast_never_mints_twice(hardhat_w3: Web3) -> None:
    engine = make_memory_engine()
    chain = _deploy(hardhat_w3, engine)
    bob = Account.create().address

    def crash(_row: Any) -> None:
        raise KeyboardInterrupt("process killed before broadcast")

    chain.sender._broadcast = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        chain.mint(bob, 7 * UNIT, idempotency_key="crash-mint")
    row = TxJournal(engine).get("crash-mint")
    assert row is not None and row.state == "submitted"  # hash stored, nothing sent
    assert chain.balance_of(bob) == 0
    # A new process: fresh sender (no nonce cache), same journal; the retry sends the journaled bytes.
    sender = TxSender(hardhat_w3, TxJournal(engine), poll_interval_s=0.01)
    restarted = Web3Chain(Currency.BCNH, hardhat_w3, chain.address, chain.keys, sender)
    tx = restarted.mint(bob, 7 * UNIT, idempotency_key="crash-mint")
    assert tx.tx_hash == row.tx_hash
    restarted.mint(bob, 7 * UNIT, idempotency_key="crash-mint")
    assert restarted.balance_of(bob) == 7 * UNIT
    # And the next mint after the restart uses the next nonce (no gap, no clash).
    restarted.mint(bob, 1, idempotency_key="after-crash")
    assert restarted.balance_of(bob) == 7 * UNIT + 1


def test_indexer_follows_and_survives_a_reorg(hardhat_w3: Web3) -> None:
    engine = make_memory_engine()
    chain = _deploy(hardhat_w3, engine)
    start = int(hardhat_w3.eth.block_number)
    alice, bob, carol = (Account.create().address for _ in range(3))
    chain.mint(alice, 10 * UNIT, idempotency_key="r-1")
    indexer = ChainIndexer(engine, hardhat_w3, chain.address, start_block=start - 10, confirmations=0)
    indexer.catch_up()
    snapshot = hardhat_w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    chain.mint(bob, 5 * UNIT, idempotency_key="r-2")
    chain.mint(bob, 6 * UNIT, idempotency_key="r-3")
    indexer.catch_up()
    assert holder_balances_of(engine, indexer.name)[bob.lower()] == 11 * UNIT
    orphaned_block = chain.tx("r-3").block_number  # type: ignore[union-attr]
    # Reorganise: the blocks with the two bob mints vanish. As on a real chain, our orphaned transactions are
    # sent again with the same bytes (journal), and land in different blocks after other ones.
    assert hardhat_w3.provider.make_request("evm_revert", [snapshot])["result"]  # type: ignore[arg-type]
    hardhat_w3.provider.make_request("hardhat_mine", ["0x2"])  # type: ignore[arg-type]
    assert chain.sender.recover() == 2
    assert chain.sender.wait_mined("r-3").block_number != orphaned_block
    for i in range(3):
        chain.mint(carol, (i + 1) * UNIT, idempotency_key=f"r-c{i}")
    step = indexer.step()
    assert step.reorg and step.rolled_back_events >= 4
    indexer.catch_up()
    balances = holder_balances_of(engine, indexer.name)
    assert balances[bob.lower()] == 11 * UNIT  # re-mined once, not twice
    assert balances[alice.lower()] == 10 * UNIT and balances[carol.lower()] == 6 * UNIT
    assert sum(balances.values()) == chain.total_supply()
    state = cursor_state(engine, indexer.name)
    assert state["reorgs"] == 1 and state["total_supply_base_units"] == chain.total_supply()
    # Idempotent: stepping again at the head changes nothing.
    assert indexer.step().events_applied == 0
    assert holder_balances_of(engine, indexer.name) == balances


def test_indexer_waits_for_confirmations(hardhat_w3: Web3) -> None:
    engine = make_memory_engine()
    chain = _deploy(hardhat_w3, engine)
    start = int(hardhat_w3.eth.block_number)
    dave = Account.create().address
    chain.mint(dave, 3 * UNIT, idempotency_key="c-1")
    indexer = ChainIndexer(engine, hardhat_w3, chain.address, start_block=start, confirmations=3)
    indexer.catch_up()
    assert dave.lower() not in holder_balances_of(engine, indexer.name)
    hardhat_w3.provider.make_request("hardhat_mine", ["0x3"])  # type: ignore[arg-type]
    indexer.catch_up()
    assert holder_balances_of(engine, indexer.name)[dave.lower()] == 3 * UNIT
