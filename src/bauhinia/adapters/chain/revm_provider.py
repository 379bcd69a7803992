"""A minimal in-process Ethereum node over revm (the Rust EVM, through pyrevm), behind web3's provider interface.

It is the embedded default engine (`make_embedded_w3("revm")`): the same contract bytecode runs, the same
signed raw transactions are sent through the same journal, and every component that talks JSON-RPC (web3,
`TxSender`, `ChainIndexer`) works on it unchanged. It answers the subset of JSON-RPC those components use:

    eth_chainId net_version web3_clientVersion eth_accounts eth_blockNumber eth_getBlockByNumber
    eth_getBlockByHash eth_getBalance eth_getTransactionCount eth_getCode eth_getStorageAt eth_call
    eth_estimateGas eth_gasPrice eth_maxPriorityFeePerGas eth_sendRawTransaction eth_sendTransaction
    eth_getTransactionByHash eth_getTransactionReceipt eth_getLogs
    evm_mine hardhat_mine bauhinia_reorg   (test controls: empty blocks, and a reorganisation, see `reorg`)

What it is not, on purpose (an embedded dev chain, not a client): one transaction per block (automine), no
transaction pool (a nonce gap is refused, not queued), block hashes are this chain's own digest of
(parent, number, timestamp, transaction hashes) rather than RLP header hashes, no state or receipts roots,
no log blooms, `eth_call` runs against the latest state only, and the base fee is zero (senders pay their
priority fee per gas). Block timestamps follow the wall clock and never go backwards (several blocks may
share a second). Production uses a real node over JSON-RPC.

py-evm (web3's EthereumTesterProvider) stays available as the pure-Python engine: `make_embedded_w3("py-evm")`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import rlp
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from pyrevm import EVM, AccountInfo, BlockEnv, CfgEnv, Env
from web3.providers.base import BaseProvider
from web3.types import RPCEndpoint, RPCResponse

chain_id_default = 131_277  # the embedded chain's own id (not a public network's)
block_gas_limit_default = 60_000_000
dev_accounts_count = 10
dev_account_balance_wei = 10**24
logs_per_query_max = 200_000
_SPEC = "CANCUN"  # Vyper 0.4's default target
_ZERO32 = "0x" + "00" * 32
_ZERO_BLOOM = "0x" + "00" * 256
_ZERO_ADDRESS = "0x" + "00" * 20
_REVERT_SELECTOR = bytes.fromhex("08c379a0")


class RpcError(Exception):
    """An error answered to the caller as a JSON-RPC error object."""

    def __init__(self, message: str, code: int = -32000, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    text = str(value)
    return int(text, 16) if text.startswith("0x") else int(text)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def _addr(value: Any) -> str:
    """Lower-case 0x text of an address or hash, from text or bytes."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def _revert_message(output: bytes) -> tuple[str, str]:
    """('execution reverted: reason', '0x...') from a revert's output data."""
    if output[:4] == _REVERT_SELECTOR and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        reason = output[68:68 + length].decode("utf-8", "replace")
        return f"execution reverted: {reason}", "0x" + output.hex()
    return "execution reverted", "0x" + output.hex()


def _parse_failure(text: str) -> tuple[str, int | None, bytes]:
    """pyrevm reports a revert or halt as a RuntimeError text: (kind, gas_used or None, output)."""
    kind = "Revert" if text.startswith("Revert") else "Halt" if text.startswith("Halt") else "Invalid"
    gas_used: int | None = None
    if "gas_used: " in text:
        digits = text.split("gas_used: ", 1)[1].split(",", 1)[0].split(" ", 1)[0].strip("} ")
        gas_used = int(digits) if digits.isdigit() else None
    output = b""
    if "output: 0x" in text:
        hex_part = text.split("output: 0x", 1)[1].split(" ", 1)[0].strip("}, ")
        try:
            output = bytes.fromhex(hex_part)
        except ValueError:
            output = b""
    return kind, gas_used, output


class RevmNode:
    """The chain state: a revm EVM, blocks, transactions, receipts and logs (all in memory)."""

    def __init__(self, *, chain_id: int = chain_id_default, block_gas_limit: int = block_gas_limit_default,
                 clock_s: Callable[[], float] = time.time, dev_accounts: int = dev_accounts_count) -> None:
        self.chain_id = chain_id
        self.block_gas_limit = block_gas_limit
        self.clock_s = clock_s
        self.lock = threading.RLock()
        self.coinbase = "0x" + "c0" * 20
        now = int(clock_s())
        self.accounts = [to_checksum_address(keccak(b"bauhinia-embedded-dev-%d" % i)[12:])
                         for i in range(dev_accounts)]
        self.evm = self._fresh_evm(now)
        self.blocks: list[dict[str, Any]] = []
        self.block_logs: list[list[dict[str, Any]]] = []
        # What each block applied, to replay the canonical prefix after a reorganisation: (kind, payload).
        self.block_inputs: list[list[tuple[str, Any]]] = []
        self.block_forks: list[int] = []  # the fork generation each block was sealed in (part of its hash)
        self.fork_generation = 0
        self.reorgs = 0
        self.by_hash: dict[str, int] = {}
        self.txs: dict[str, dict[str, Any]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self._seal([], now, 0)  # genesis

    def _fresh_evm(self, timestamp: int) -> EVM:
        evm = EVM(env=Env(cfg=CfgEnv(chain_id=self.chain_id), block=self._block_env(1, timestamp)), spec_id=_SPEC)
        for account in self.accounts:
            evm.set_balance(account.lower(), dev_account_balance_wei)
        return evm

    # --- blocks ----------------------------------------------------------------------------------------------

    def _block_env(self, number: int, timestamp: int) -> BlockEnv:
        return BlockEnv(number=number, timestamp=timestamp, gas_limit=self.block_gas_limit, basefee=0,
                        coinbase=self.coinbase, prevrandao=keccak(number.to_bytes(8, "big")))

    def _seal(self, tx_hashes: list[str], timestamp: int, gas_used: int,
              inputs: list[tuple[str, Any]] | None = None, fork: int | None = None) -> dict[str, Any]:
        number = len(self.blocks)
        parent = self.blocks[-1]["hash"] if self.blocks else _ZERO32
        fork = self.fork_generation if fork is None else fork
        digest = keccak(_bytes(parent) + number.to_bytes(8, "big") + timestamp.to_bytes(8, "big")
                        + b"".join(_bytes(h) for h in tx_hashes) + (fork.to_bytes(8, "big") if fork else b""))
        block: dict[str, Any] = {
            "number": hex(number), "hash": "0x" + digest.hex(), "parentHash": parent, "timestamp": hex(timestamp),
            "gasLimit": hex(self.block_gas_limit), "gasUsed": hex(gas_used), "baseFeePerGas": "0x0",
            "miner": self.coinbase, "difficulty": "0x0", "totalDifficulty": "0x0", "extraData": "0x",
            "nonce": "0x0000000000000000", "mixHash": _ZERO32, "sha3Uncles": _ZERO32, "logsBloom": _ZERO_BLOOM,
            "stateRoot": _ZERO32, "transactionsRoot": _ZERO32, "receiptsRoot": _ZERO32, "size": "0x0",
            "transactions": list(tx_hashes), "uncles": [],
        }
        self.blocks.append(block)
        self.block_logs.append([])
        self.block_inputs.append(list(inputs or []))
        self.block_forks.append(fork)
        self.by_hash[block["hash"]] = number
        return block

    # --- test controls: empty blocks and reorganisations -----------------------------------------------------

    def mine(self, count: int = 1) -> int:
        """Seal `count` empty blocks (what confirmations wait for on an automining chain). Returns the head."""
        if not 0 <= count <= 100_000:
            raise RpcError("mine 0..100000 blocks at a time")
        for _ in range(count):
            self._seal([], self._next_timestamp(), 0)
        return len(self.blocks) - 1

    def reorg(self, depth: int, drop: Callable[[dict[str, Any]], bool] | Iterable[str] | None = None) -> list[str]:
        """Replace the newest `depth` blocks with a longer fork, as a real chain reorganisation does.

        The state is rebuilt by replaying the blocks below the fork point. The orphaned transactions are then
        offered again in the fork's new blocks, in their order, except those `drop` names (a set of hashes, or a
        predicate over the transaction object): a dropped one, and any that no longer applies (its nonce is now
        taken or out of order), is forgotten by the node as if it never reached the winning fork. The fork is
        padded with empty blocks to one block above the old head. Every new block has a new hash. Returns the
        hashes of the transactions that did not make it into the fork."""
        head = len(self.blocks) - 1
        if not 1 <= depth <= head:
            raise RpcError(f"a reorganisation depth of 1..{head} blocks is possible here")
        if drop is None:
            dropped_by: Callable[[dict[str, Any]], bool] = lambda tx: False  # noqa: E731
        elif callable(drop):
            dropped_by = drop
        else:
            names = {str(h).lower() for h in drop}
            dropped_by = lambda tx: tx["hash"] in names  # noqa: E731
        fork_point = head - depth
        orphaned = [(inputs, self.txs.get(h)) for number in range(fork_point + 1, head + 1)
                    for inputs, h in zip(self.block_inputs[number], self.blocks[number]["transactions"],
                                         strict=True)]
        kept_blocks = [(b, inp, f) for b, inp, f in zip(self.blocks[1:fork_point + 1],
                                                         self.block_inputs[1:fork_point + 1],
                                                         self.block_forks[1:fork_point + 1], strict=True)]
        genesis = self.blocks[0]
        # Rebuild: genesis, then the canonical prefix replayed with its own timestamps (same hashes).
        self.evm = self._fresh_evm(int(genesis["timestamp"], 16))
        self.blocks, self.block_logs, self.block_inputs, self.block_forks = [genesis], [[]], [[]], [0]
        self.by_hash = {genesis["hash"]: 0}
        self.txs, self.receipts = {}, {}
        for block, inputs, fork in kept_blocks:
            timestamp = int(block["timestamp"], 16)
            if not inputs:
                self._seal([], timestamp, 0, fork=fork)
            for kind, payload in inputs:
                self._replay(kind, payload, timestamp, fork)
            if self.blocks[-1]["hash"] != block["hash"]:  # pragma: no cover - replay is deterministic
                raise RpcError("replaying the canonical chain diverged")
        self.fork_generation += 1
        self.reorgs += 1
        lost: list[str] = []
        for inputs_and_tx in orphaned:
            (kind, payload), tx = inputs_and_tx
            if tx is None:
                continue
            if dropped_by(tx):
                lost.append(tx["hash"])
                continue
            try:
                self._replay(kind, payload, self._next_timestamp(), self.fork_generation)
            except RpcError:
                lost.append(tx["hash"])
        while len(self.blocks) - 1 <= head:
            self._seal([], self._next_timestamp(), 0)
        return lost

    def _replay(self, kind: str, payload: Any, timestamp: int, fork: int) -> None:
        if kind == "raw":
            self._apply_raw(payload, timestamp=timestamp, fork=fork)
        else:
            self._apply(*payload, timestamp=timestamp, fork=fork)

    def _next_timestamp(self) -> int:
        return max(int(self.blocks[-1]["timestamp"], 16), int(self.clock_s()))

    def block(self, ref: Any) -> dict[str, Any] | None:
        if ref in (None, "latest", "pending", "safe", "finalized"):
            return self.blocks[-1]
        if ref == "earliest":
            return self.blocks[0]
        number = _int(ref)
        return self.blocks[number] if 0 <= number < len(self.blocks) else None

    # --- accounts --------------------------------------------------------------------------------------------

    def nonce(self, address: str) -> int:
        return int(self.evm.basic(address.lower()).nonce)

    def _set_nonce(self, address: str, nonce: int) -> None:
        info = self.evm.basic(address)
        balance = int(info.balance)
        self.evm.insert_account_info(address, AccountInfo(nonce=nonce, code_hash=info.code_hash, code=info.code))
        self.evm.set_balance(address, balance)

    # --- execution -------------------------------------------------------------------------------------------

    def call(self, tx: dict[str, Any]) -> bytes:
        """eth_call against the latest state; nothing is kept. Raises RpcError on a revert."""
        sender = _addr(tx.get("from") or _ZERO_ADDRESS)
        data = _bytes(tx.get("data") or tx.get("input"))
        gas = _int(tx.get("gas")) or self.block_gas_limit
        head = self.blocks[-1]
        self.evm.set_block_env(self._block_env(int(head["number"], 16), int(head["timestamp"], 16)))
        checkpoint = self.evm.snapshot()
        try:
            if tx.get("to"):
                return bytes(self.evm.message_call(sender, _addr(tx["to"]), data, value=_int(tx.get("value")),
                                                   gas=gas))
            self.evm.deploy(sender, data, value=_int(tx.get("value")), gas=gas)
            return b""
        except RuntimeError as exc:
            kind, _, output = _parse_failure(str(exc))
            if kind == "Revert":
                message, revert_data = _revert_message(output)
                raise RpcError(message, code=3, data=revert_data) from None
            raise RpcError(f"execution failed: {str(exc)[:200]}") from None
        finally:
            self.evm.revert(checkpoint)

    def send_raw(self, raw: bytes) -> str:
        tx_hash = "0x" + keccak(raw).hex()
        if tx_hash in self.txs:
            raise RpcError("already known")
        return self._apply_raw(raw)

    def _apply_raw(self, raw: bytes, *, timestamp: int | None = None, fork: int | None = None) -> str:
        tx_hash = "0x" + keccak(raw).hex()
        if raw[:1] and raw[0] <= 0x7F:  # typed (EIP-2718)
            fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            tx_type = int(fields.get("type", raw[0]))
            if tx_type == 2:
                max_fee, priority = int(fields["maxFeePerGas"]), int(fields["maxPriorityFeePerGas"])
            else:
                max_fee = priority = int(fields.get("gasPrice", 0))
            to_raw = fields.get("to")
            chain_id = int(fields.get("chainId", self.chain_id))
        else:  # legacy
            nonce_, price, gas_, to_b, value_, data_, v, r, s = rlp.decode(raw)
            fields = {"nonce": _int(nonce_), "gas": _int(gas_), "to": to_b, "value": _int(value_), "data": data_,
                      "v": _int(v), "r": _int(r), "s": _int(s)}
            tx_type, max_fee = 0, _int(price)
            priority = max_fee
            to_raw = to_b
            v_int = _int(v)
            chain_id = (v_int - 35) // 2 if v_int >= 35 else self.chain_id
        if chain_id != self.chain_id:
            raise RpcError(f"invalid chain id {chain_id}")
        sender = Account.recover_transaction(raw).lower()
        to = _addr(to_raw) if to_raw else None
        extra: dict[str, Any] = {"type": hex(tx_type), "chainId": hex(self.chain_id), "v": hex(int(fields.get("v", 0))),
                 "r": hex(int(fields.get("r", 0))), "s": hex(int(fields.get("s", 0)))}
        if tx_type == 2:
            extra.update(maxFeePerGas=hex(max_fee), maxPriorityFeePerGas=hex(priority), accessList=[])
        return self._apply(tx_hash, sender, to, int(fields["nonce"]), int(fields["gas"]), int(fields["value"]),
                           _bytes(fields["data"]), min(max_fee, priority), extra, timestamp=timestamp, fork=fork,
                           raw=raw)

    def send_unsigned(self, tx: dict[str, Any]) -> str:
        sender = _addr(tx.get("from"))
        if to_checksum_address(sender) not in self.accounts:
            raise RpcError(f"{sender} is not an unlocked account of this node")
        nonce = _int(tx["nonce"]) if tx.get("nonce") is not None else self.nonce(sender)
        gas = _int(tx.get("gas")) or 21_000 * 10
        price = _int(tx.get("maxPriorityFeePerGas") or tx.get("gasPrice") or 10**9)
        to = _addr(tx["to"]) if tx.get("to") else None
        data = _bytes(tx.get("data") or tx.get("input"))
        value = _int(tx.get("value"))
        tx_hash = "0x" + keccak(rlp.encode([b"unsigned", _bytes(sender), nonce, gas, price, _bytes(to or "0x"),
                                            value, data, self.chain_id])).hex()
        return self._apply(tx_hash, sender, to, nonce, gas, value, data, price, {"type": "0x2"})

    def _apply(self, tx_hash: str, sender: str, to: str | None, nonce: int, gas: int, value: int, data: bytes,
               price: int, extra: dict[str, Any], *, timestamp: int | None = None, fork: int | None = None,
               raw: bytes | None = None) -> str:
        expected = self.nonce(sender)
        if nonce < expected:
            raise RpcError(f"nonce too low: next nonce {expected}, tx nonce {nonce}")
        if nonce > expected:
            raise RpcError(f"nonce too high: next nonce {expected}, tx nonce {nonce} (no pool on this node)")
        if gas > self.block_gas_limit:
            raise RpcError(f"gas limit {gas} exceeds the block gas limit {self.block_gas_limit}")
        balance = int(self.evm.get_balance(sender))
        if balance < gas * price + value:
            raise RpcError("insufficient funds for gas * price + value")
        number = len(self.blocks)
        timestamp = self._next_timestamp() if timestamp is None else timestamp
        self.evm.set_block_env(self._block_env(number, timestamp))
        contract: str | None = None
        status, raw_logs = 1, []
        try:
            if to is None:
                contract = _addr(self.evm.deploy(sender, data, value=value, gas=gas))
            else:
                self.evm.message_call(sender, to, data, value=value, gas=gas)
            result = self.evm.result
            gas_used = int(result.gas_used) if result is not None else gas
            raw_logs = list(result.logs) if result is not None else []
        except RuntimeError as exc:
            kind, used, _ = _parse_failure(str(exc))
            if kind == "Invalid":
                raise RpcError(f"invalid transaction: {str(exc)[:200]}") from None
            status, contract = 0, None
            gas_used = used if used is not None else gas
        if to is not None or status == 0:  # revm's deploy counts the creator's nonce itself; a call does not
            self._set_nonce(sender, expected + 1)
        self.evm.set_balance(sender, int(self.evm.get_balance(sender)) - gas_used * price)
        inputs: list[tuple[str, Any]] = [("raw", raw)] if raw is not None else [
            ("unsigned", (tx_hash, sender, to, nonce, gas, value, data, price, extra))]
        block = self._seal([tx_hash], timestamp, gas_used, inputs, fork)
        block_hash, block_number = block["hash"], block["number"]
        logs = [
            {"address": log.address.lower(), "topics": list(log.topics), "data": "0x" + bytes(log.data[1]).hex(),
             "blockNumber": block_number, "blockHash": block_hash, "transactionHash": tx_hash,
             "transactionIndex": "0x0", "logIndex": hex(i), "removed": False}
            for i, log in enumerate(raw_logs)
        ]
        self.block_logs[-1] = logs
        self.txs[tx_hash] = {
            "hash": tx_hash, "nonce": hex(nonce), "from": sender, "to": to, "value": hex(value), "gas": hex(gas),
            "gasPrice": hex(price), "input": "0x" + data.hex(), "blockHash": block_hash,
            "blockNumber": block_number, "transactionIndex": "0x0", **extra,
        }
        self.receipts[tx_hash] = {
            "transactionHash": tx_hash, "transactionIndex": "0x0", "blockHash": block_hash,
            "blockNumber": block_number, "from": sender, "to": to, "cumulativeGasUsed": hex(gas_used),
            "gasUsed": hex(gas_used), "effectiveGasPrice": hex(price), "contractAddress": contract,
            "logs": logs, "logsBloom": _ZERO_BLOOM, "status": hex(status), "type": extra.get("type", "0x2"),
        }
        return tx_hash

    # --- logs ------------------------------------------------------------------------------------------------

    def get_logs(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        if query.get("blockHash"):
            number = self.by_hash.get(_addr(query["blockHash"]))
            if number is None:
                return []
            first = last = number
        else:
            first = _int(self.block(query.get("fromBlock", "latest"))["number"])  # type: ignore[index]
            last_block = self.block(query.get("toBlock", "latest"))
            last = _int(last_block["number"]) if last_block else len(self.blocks) - 1
        address = query.get("address")
        addresses = None if not address else {_addr(a) for a in (address if isinstance(address, list) else
                                                                   [address])}
        topic_filter = [None if t is None else {str(x).lower() for x in (t if isinstance(t, list) else [t])}
                        for t in (query.get("topics") or [])]
        found: list[dict[str, Any]] = []
        for number in range(max(first, 0), min(last, len(self.blocks) - 1) + 1):
            for log in self.block_logs[number]:
                if addresses is not None and log["address"] not in addresses:
                    continue
                if topic_filter and not _topics_match(log["topics"], topic_filter):
                    continue
                found.append(log)
            if len(found) > logs_per_query_max:
                raise RpcError(f"query returns more than {logs_per_query_max} logs: narrow the block range",
                               code=-32005)
        return found


def _topics_match(topics: list[str], wanted: list[set[str] | None]) -> bool:
    if len(wanted) > len(topics):
        return False
    return all(w is None or topics[i] in w for i, w in enumerate(wanted))


def _full_block(node: RevmNode, block: dict[str, Any] | None, full: bool) -> dict[str, Any] | None:
    if block is None or not full:
        return block
    return {**block, "transactions": [node.txs[h] for h in block["transactions"]]}


class RevmProvider(BaseProvider):
    """web3 provider answering JSON-RPC from an in-process `RevmNode` (thread-safe: one request at a time)."""

    def __init__(self, node: RevmNode | None = None, **node_kwargs: Any) -> None:
        super().__init__()
        self.node = node or RevmNode(**node_kwargs)
        self._request_id = 0
        self._handlers: dict[str, Callable[[list[Any]], Any]] = self._make_handlers()

    def _make_handlers(self) -> dict[str, Callable[[list[Any]], Any]]:
        n = self.node

        def block_by_number(p: list[Any]) -> Any:
            return _full_block(n, n.block(p[0] if p else "latest"), bool(p[1]) if len(p) > 1 else False)

        def block_by_hash(p: list[Any]) -> Any:
            number = n.by_hash.get(_addr(p[0]))
            return None if number is None else _full_block(n, n.blocks[number], bool(p[1]) if len(p) > 1 else False)

        return {
            "eth_chainId": lambda p: hex(n.chain_id),
            "net_version": lambda p: str(n.chain_id),
            "web3_clientVersion": lambda p: "bauhinia-revm/pyrevm",
            "eth_accounts": lambda p: list(n.accounts),
            "eth_blockNumber": lambda p: hex(len(n.blocks) - 1),
            "eth_getBlockByNumber": block_by_number,
            "eth_getBlockByHash": block_by_hash,
            "eth_getBalance": lambda p: hex(int(n.evm.get_balance(_addr(p[0])))),
            "eth_getTransactionCount": lambda p: hex(n.nonce(_addr(p[0]))),
            "eth_getCode": lambda p: "0x" + bytes(n.evm.get_code(_addr(p[0])) or b"").hex(),
            "eth_getStorageAt": lambda p: "0x" + int(n.evm.storage(_addr(p[0]), _int(p[1]))).to_bytes(32, "big").hex(),
            "eth_call": lambda p: "0x" + n.call(p[0]).hex(),
            "eth_estimateGas": lambda p: hex(self._estimate(p[0])),
            "eth_gasPrice": lambda p: hex(10**9),
            "eth_maxPriorityFeePerGas": lambda p: hex(10**9),
            "eth_sendRawTransaction": lambda p: n.send_raw(_bytes(p[0])),
            "eth_sendTransaction": lambda p: n.send_unsigned(p[0]),
            "eth_getTransactionByHash": lambda p: n.txs.get(_addr(p[0])),
            "eth_getTransactionReceipt": lambda p: n.receipts.get(_addr(p[0])),
            "eth_getLogs": lambda p: n.get_logs(p[0] if p else {}),
            "evm_mine": lambda p: (n.mine(1), "0x0")[1],
            "hardhat_mine": lambda p: (n.mine(_int(p[0]) if p else 1), True)[1],
            # [depth, [hashes to drop]]: a reorganisation (see RevmNode.reorg); answers the dropped hashes
            "bauhinia_reorg": lambda p: n.reorg(_int(p[0]), [str(h) for h in (p[1] if len(p) > 1 else [])]),
        }

    def _estimate(self, tx: dict[str, Any]) -> int:
        """The gas a transaction uses now, plus a margin (revm runs it once in a snapshot)."""
        node = self.node
        node.call(tx)  # raises the revert reason if it would revert
        checkpoint = node.evm.snapshot()
        try:
            sender = _addr(tx.get("from") or _ZERO_ADDRESS)
            data = _bytes(tx.get("data") or tx.get("input"))
            gas = _int(tx.get("gas")) or node.block_gas_limit
            if tx.get("to"):
                node.evm.message_call(sender, _addr(tx["to"]), data, value=_int(tx.get("value")), gas=gas)
            else:
                node.evm.deploy(sender, data, value=_int(tx.get("value")), gas=gas)
            used = int(node.evm.result.gas_used) if node.evm.result is not None else gas
        finally:
            node.evm.revert(checkpoint)
        return min(node.block_gas_limit, used * 6 // 5 + 10_000)

    def request(self, method: str, params: Iterable[Any] | None = None) -> Any:
        """A raw request without web3's formatting: the result, or RpcError."""
        handler = self._handlers.get(method)
        if handler is None:
            raise RpcError(f"method {method} is not supported by the embedded revm node", code=-32601)
        with self.node.lock:
            return handler(list(params or []))

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self._request_id += 1
        try:
            result = self.request(str(method), params)
        except RpcError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
            if exc.data is not None:
                error["data"] = exc.data
            return {"jsonrpc": "2.0", "id": self._request_id, "error": error}  # type: ignore[typeddict-item]
        return {"jsonrpc": "2.0", "id": self._request_id, "result": result}

    def is_connected(self, show_traceback: bool = False) -> bool:
        return True
