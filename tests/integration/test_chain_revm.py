"""The embedded revm node (RevmProvider): the JSON-RPC behaviour the adapter, sender and indexer rely on."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from bauhinia.adapters.chain.embedded import make_embedded_chain
from bauhinia.adapters.chain.indexer import TRANSFER_TOPIC
from bauhinia.adapters.chain.revm_provider import RevmNode, RevmProvider, RpcError
from bauhinia.domain.money import Currency

UNIT = 10**6


def _signed(w3: Web3, account: object, nonce: int, **extra: object) -> bytes:
    tx = {"to": Account.create().address, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": w3.eth.chain_id,
          "type": 2, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, **extra}
    return bytes(account.sign_transaction(tx).raw_transaction)  # type: ignore[attr-defined]


def test_nonces_duplicates_and_chain_id_are_enforced() -> None:
    w3 = Web3(RevmProvider())
    payer = Account.create()
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": payer.address, "value": 10**18, "gas": 21_000})
    first = _signed(w3, payer, 0)
    tx_hash = w3.eth.send_raw_transaction(first)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000
    assert w3.eth.get_transaction_count(payer.address) == 1
    with pytest.raises(Web3RPCError, match="already known"):
        w3.eth.send_raw_transaction(first)
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(_signed(w3, payer, 0, value=2))
    with pytest.raises(Web3RPCError, match="nonce too high"):
        w3.eth.send_raw_transaction(_signed(w3, payer, 5))
    with pytest.raises(Web3RPCError, match="invalid chain id"):
        w3.eth.send_raw_transaction(_signed(w3, payer, 1, chainId=1))
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt("0x" + "11" * 32)
    # one transaction per block; blocks chain by parent hash; timestamps never go backwards
    head = w3.eth.get_block("latest")
    parent = w3.eth.get_block(head["number"] - 1)
    assert head["parentHash"] == parent["hash"] and head["timestamp"] >= parent["timestamp"]
    assert head["transactions"] == [tx_hash]
    assert w3.eth.get_block(head["hash"])["number"] == head["number"]


def test_calls_revert_with_reasons_and_logs_filter() -> None:
    chains = make_embedded_chain(coins=(Currency.BHKD,))
    w3, bhkd = chains.w3, chains.for_coin(Currency.HKD)
    with pytest.raises(ContractLogicError, match="not minter"):
        bhkd.contract.functions.mint(Account.create().address, 1).call({"from": Account.create().address})
    assert bhkd.contract.functions.decimals().call() == 6
    now = int(w3.eth.get_block("latest")["timestamp"])
    bhkd.attest_reserve(10 * UNIT, now, b"\x03" * 32, idempotency_key="r-att")
    receivers = [Account.create().address for _ in range(3)]
    tx = bhkd.batch_mint([(r, UNIT) for r in receivers], idempotency_key="r-batch")
    assert w3.eth.estimate_gas({"from": bhkd.keys.minter.address, "to": bhkd.address,
                                "data": bhkd.contract.encode_abi("mint", args=[receivers[0], 1])}) > 21_000
    everything = w3.eth.get_logs({"address": bhkd.address, "fromBlock": 0, "toBlock": "latest"})
    transfers = w3.eth.get_logs({"address": bhkd.address, "fromBlock": 0, "toBlock": "latest",
                                 "topics": [TRANSFER_TOPIC]})
    assert len(transfers) == 3 and len(everything) > len(transfers)
    assert [int(log["data"].hex(), 16) for log in transfers] == [UNIT] * 3
    to_second = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "topics": [
        TRANSFER_TOPIC, None, "0x" + "00" * 12 + receivers[1][2:].lower()]})
    assert len(to_second) == 1 and to_second[0]["transactionHash"].to_0x_hex() == tx.tx_hash
    by_block = w3.eth.get_logs({"blockHash": to_second[0]["blockHash"]})
    assert len(by_block) == 4  # three Transfers and the BatchMint summary
    assert w3.eth.get_logs({"address": Account.create().address, "fromBlock": 0, "toBlock": "latest"}) == []


def test_unsupported_methods_and_raw_requests() -> None:
    provider = RevmProvider(RevmNode(chain_id=777, block_gas_limit=30_000_000))
    assert Web3(provider).eth.chain_id == 777
    response = provider.make_request("debug_traceTransaction", ["0x" + "00" * 32])  # type: ignore[arg-type]
    assert response["error"]["code"] == -32601
    with pytest.raises(RpcError, match="block gas limit"):
        provider.request("eth_sendTransaction", [{"from": provider.node.accounts[0], "to": provider.node.accounts[1],
                                                  "gas": hex(31_000_000)}])
    assert provider.request("eth_blockNumber") == "0x0"


# --- reorganisations (the test control the money-safety simulation and the finality tests use) -------------


def _hkd_chain() -> tuple[object, RevmNode]:
    chains = make_embedded_chain(coins=(Currency.BHKD,))
    coin = chains.for_coin(Currency.HKD)
    now = int(chains.w3.eth.get_block("latest")["timestamp"])
    coin.attest_reserve(1_000 * UNIT, now, b"\x02" * 32, idempotency_key="reorg-attest")
    return chains, chains.w3.provider.node  # type: ignore[attr-defined]


def test_reorg_that_drops_a_mint_removes_its_coins_receipt_and_logs() -> None:
    chains, node = _hkd_chain()
    coin = chains.for_coin(Currency.HKD)  # type: ignore[attr-defined]
    holder = Account.create().address
    prefix = [b["hash"] for b in node.blocks]
    tx = coin.mint(holder, 5 * UNIT, idempotency_key="reorg-mint")
    assert coin.total_supply() == 5 * UNIT
    old_head = len(node.blocks) - 1
    lost = node.reorg(1, drop={tx.tx_hash})
    assert lost == [tx.tx_hash]
    assert coin.total_supply() == 0 and coin.balance_of(holder) == 0
    assert node.receipts.get(tx.tx_hash) is None and node.txs.get(tx.tx_hash) is None
    assert len(node.blocks) - 1 == old_head + 1  # the fork is longer than the chain it replaced
    assert [b["hash"] for b in node.blocks[: len(prefix)]] == prefix  # blocks below the fork keep their hashes
    assert not node.get_logs({"fromBlock": "0x0", "toBlock": "latest", "topics": [TRANSFER_TOPIC]})
    # The same signed bytes can be broadcast again and mine on the new fork (the journal's re-drive).
    raw = chains.sender.journal.get("reorg-mint").raw_tx  # type: ignore[attr-defined]
    chains.w3.eth.send_raw_transaction(raw)  # type: ignore[attr-defined]
    assert coin.total_supply() == 5 * UNIT


def test_reorg_that_keeps_transactions_reincludes_them_in_new_blocks() -> None:
    chains, node = _hkd_chain()
    coin = chains.for_coin(Currency.HKD)  # type: ignore[attr-defined]
    holder = Account.create().address
    tx = coin.mint(holder, 7 * UNIT, idempotency_key="kept-mint")
    node.mine(3)
    old = node.receipts[tx.tx_hash]
    assert node.reorg(6) == []
    new = node.receipts[tx.tx_hash]
    assert new["blockHash"] != old["blockHash"] and new["status"] == "0x1"
    assert old["blockHash"] not in node.by_hash
    assert coin.total_supply() == 7 * UNIT and node.reorgs == 1


def test_mine_and_reorg_over_json_rpc() -> None:
    provider = RevmProvider()
    w3 = Web3(provider)
    start = w3.eth.block_number
    w3.provider.make_request("hardhat_mine", ["0x5"])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert w3.eth.block_number == start + 6
    answer = w3.provider.make_request("bauhinia_reorg", [2, []])  # type: ignore[arg-type]
    assert answer["result"] == [] and w3.eth.block_number == start + 7
    with pytest.raises(RpcError):
        provider.node.reorg(10_000)
