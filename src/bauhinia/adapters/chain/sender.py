"""Signing, nonces, gas, the journal-before-broadcast rule and bounded waits, for any web3 provider.

`TxSender.send` is the only way this adapter changes the chain:
  1. if the idempotency key is journaled: re-broadcast its raw bytes if the node lost them, wait, return it;
  2. otherwise dry-run the call (eth_call): a revert raises RefusedError and nothing is signed (callers that
     check the contract's state themselves, like batch mints, pass preflight=False; a revert on chain is then
     explained by replaying the call once, on the failure path only);
  3. sign locally (eth-account) with an explicit nonce, gas limit and EIP-1559 fees;
  4. commit the journal row (hash + raw bytes, state `submitted`), THEN broadcast;
  5. wait, bounded, for the receipt and journal `mined` (or raise if it reverted).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from bauhinia.adapters.chain.journal import JournalRow, NonceTaken, TxJournal
from bauhinia.domain.chain import ChainOp, ChainTx, ChainTxState
from bauhinia.domain.errors import ConflictError, RefusedError
from bauhinia.faults import fault_point

try:  # the in-process EVM raises its own exception type for a revert
    from eth_tester.exceptions import TransactionFailed as _TesterFailed

    _REVERTS: tuple[type[Exception], ...] = (ContractLogicError, Web3RPCError, ValueError, _TesterFailed)
except ImportError:  # pragma: no cover - eth-tester is only needed for the embedded EVM
    _REVERTS = (ContractLogicError, Web3RPCError, ValueError)

receipt_timeout_s_default = 30.0
_refilling: contextvars.ContextVar[bool] = contextvars.ContextVar("bauhinia_sender_refilling", default=False)
fee_cache_s = 5.0
gas_limit_max = 29_000_000
nonce_claims_max = 64  # nonces tried in a row when other processes with the key journal theirs first
priority_fee_wei_default = 1_000_000_000  # 1 gwei


def _hex(value: bytes | str) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _q(value: Any) -> int:
    """A JSON-RPC quantity: hex text from a node, an int from eth-tester's raw answers."""
    return int(value, 16) if isinstance(value, str) else int(value)


def revert_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("reverted with reason string '", "execution reverted: ", "revert "):
        if marker in text:
            return text.split(marker, 1)[1].strip("'\") ").split("'")[0]
    return text[:200]


class ChainKeyUnfunded(RuntimeError):
    """The node refused a signed, journaled transaction because its key cannot pay the gas. Deliberately not a
    BauhiniaError (no rule refused the operation): a caller must not take it as "refused" and undo its books,
    since the journaled transaction is offered again (by `recover`) once the key is funded."""

    code = "chain_key_unfunded"

    def __init__(self, row: JournalRow, need_wei: int) -> None:
        super().__init__(f"the {row.op} transaction {row.idempotency_key[:80]} cannot be sent: its key {row.sender} "
                         f"cannot pay the gas (up to {need_wei} wei = {need_wei / 10**18:.6f} ETH for this "
                         f"transaction); fund {row.sender}, and it is sent again by the next recovery")
        self.sender = row.sender
        self.need_wei = need_wei


@dataclass(frozen=True, slots=True)
class SetAside:
    """A journaled transaction the node would not take, and what it needs."""

    idempotency_key: str
    op: str
    sender: str  # the key that must be funded (or whose nonce was taken)
    gas_needed_wei: int  # gas limit x max fee per gas + value: what the key must hold for it
    code: str
    reason: str


def gas_needed_wei(raw_tx: str | bytes) -> int:
    """The most a signed transaction can cost its sender: gas limit x (max) fee per gas + value."""
    try:
        data = HexBytes(raw_tx)
        if data and data[0] < 0x7F:  # a typed (EIP-2718) transaction
            d = TypedTransaction.from_bytes(data).as_dict()
            return int(d["gas"]) * int(d.get("maxFeePerGas") or d.get("gasPrice") or 0) + int(d.get("value") or 0)
        import rlp  # legacy: [nonce, gasPrice, gas, to, value, data, v, r, s]

        fields = rlp.decode(bytes(data))
        return int.from_bytes(fields[2], "big") * int.from_bytes(fields[1], "big") + int.from_bytes(fields[4], "big")
    except Exception:  # an unreadable journal row: the amount is unknown, the address is still named
        return 0


class TxSender:
    """Sends signed transactions for several local keys on one chain, with one journal."""

    def __init__(
        self,
        w3: Web3,
        journal: TxJournal,
        *,
        receipt_timeout_s: float = receipt_timeout_s_default,
        poll_interval_s: float = 0.05,
        clock_ns: Callable[[], int] = time.time_ns,
        preflight: bool = True,
    ) -> None:
        self.w3 = w3
        self.journal = journal
        self.receipt_timeout_s = receipt_timeout_s
        self.poll_interval_s = poll_interval_s
        self.clock_ns = clock_ns
        self.preflight = preflight
        self.chain_id = int(w3.eth.chain_id)
        self._nonces: dict[str, int] = {}
        # re-entrant: a broadcast under the lock may have to forget the nonces (which takes it too)
        self._lock = threading.RLock()
        self._fees: tuple[float, int, int] | None = None
        # journaled transactions `recover` could not offer the node (e.g. an unfunded key), with why: the others
        # went on; bootstrap opens an incident for them
        self.set_aside: list[SetAside] = []

    # --- nonce and fees ------------------------------------------------------------------------------------

    def _next_nonce(self, address: str) -> int:
        """The lowest nonce neither the node nor the journal has used: the node's count is read once per process
        (and again after `forget_nonces`), the journal at every send, since other processes with the same key
        journal theirs. It is only a candidate: journaling the row claims it (`NonceTaken` if another did)."""
        if address not in self._nonces:
            self._nonces[address] = int(self.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]
        nonce = max(self._nonces[address], self.journal.next_nonce(self.chain_id, address) or 0)
        self._nonces[address] = nonce + 1
        return nonce

    def forget_nonces(self) -> None:
        """Re-read nonces from the node next time (after a reorg or an external transaction)."""
        with self._lock:
            self._nonces.clear()

    def _fee_fields(self) -> dict[str, int]:
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] > fee_cache_s:
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            self._fees = (now, 2 * base_fee + priority_fee_wei_default, priority_fee_wei_default)
        return {"maxFeePerGas": self._fees[1], "maxPriorityFeePerGas": self._fees[2]}

    # --- sending -------------------------------------------------------------------------------------------

    def send(
        self,
        *,
        account: LocalAccount,
        op: ChainOp,
        idempotency_key: str,
        to: str | None,
        data: str,
        gas: int,
        value_wei: int = 0,
        wait: bool = True,
        preflight: bool | None = None,
    ) -> ChainTx:
        if not idempotency_key or len(idempotency_key) > 128:
            raise RefusedError("an idempotency key of 1..128 characters is required", code="idempotency_key")
        existing = self.journal.get(idempotency_key)
        if existing is not None:
            if existing.op != op.value:
                raise ConflictError(
                    f"idempotency key {idempotency_key!r} was used for {existing.op}, not {op.value}",
                    code="idempotency_key_reused",
                )
            return self._resume(existing, wait)
        gas = min(gas, gas_limit_max)
        call: dict[str, Any] = {"from": account.address, "data": data, "value": value_wei, "gas": gas}
        if to is not None:
            call["to"] = to
        if (self.preflight if preflight is None else preflight) and to is not None:
            try:
                self.w3.eth.call(call)  # type: ignore[arg-type]
            except _REVERTS as exc:
                raise RefusedError(f"{op.value} refused by the contract: {revert_reason(exc)}",
                                   code="chain_refused") from None
        with self._lock:
            for _claim in range(nonce_claims_max):
                nonce = self._next_nonce(account.address)
                tx: dict[str, Any] = {
                    **call,
                    "nonce": nonce,
                    "chainId": self.chain_id,
                    "type": 2,
                    **self._fee_fields(),
                }
                signed = account.sign_transaction(tx)
                row = JournalRow(
                    idempotency_key=idempotency_key,
                    chain_id=self.chain_id,
                    contract=to,
                    op=op.value,
                    sender=account.address,
                    nonce=nonce,
                    tx_hash=_hex(signed.hash),
                    raw_tx=_hex(signed.raw_transaction),
                    state=ChainTxState.SUBMITTED.value,
                )
                try:
                    stored = self.journal.insert(row, self.clock_ns())  # committed before the broadcast
                    break
                except NonceTaken:  # another process with this key journaled the nonce first: the next one
                    continue
            else:
                raise ConflictError(f"no free nonce for {account.address} after {nonce_claims_max} tries (other "
                                    "processes with this key are sending): retry", code="chain_nonce_contended")
            if stored.tx_hash != row.tx_hash or stored.idempotency_key != row.idempotency_key:
                # someone else journaled this key (or these very bytes) first: theirs wins
                self._nonces.pop(account.address, None)
                return self._resume(stored, wait)
            fault_point("chain.after_journal")
            self._broadcast(row)
            fault_point("chain.after_send")
        return self.wait_mined(row.idempotency_key) if wait else row.to_chain_tx()

    def _broadcast(self, row: JournalRow) -> None:
        try:
            self.w3.eth.send_raw_transaction(row.raw_tx)
        except _REVERTS as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "known transaction" in text:
                return
            if "insufficient funds" in text or "insufficient balance" in text:
                need = gas_needed_wei(row.raw_tx)
                raise ChainKeyUnfunded(row, need) from None
            if "nonce too low" in text or "nonce is too low" in text:
                # Only a dropped transaction can be here: another transaction took its nonce.
                if self._receipt(row.tx_hash) is None:
                    self.journal.update(row.idempotency_key, self.clock_ns(), state=ChainTxState.DROPPED.value,
                                        error="nonce taken by another transaction")
                    self.forget_nonces()
                    raise ConflictError(
                        f"transaction {row.tx_hash} was dropped (its nonce was used by another transaction); "
                        "nothing was done: retry with a new idempotency key", code="chain_tx_dropped",
                    ) from None
                return
            # An earlier transaction of this key never reached the node (a lost send): offer the journaled ones
            # below this nonce again, in order, then this one.
            if ("nonce too high" in text or "nonce gap" in text) and not _refilling.get() and self._refill(row):
                self._broadcast(row)
                return
            # Automining nodes may report a revert at broadcast; the receipt (if any) tells the truth.
            if self._receipt(row.tx_hash) is None and "revert" not in text:
                raise

    def _refill(self, row: JournalRow) -> int:
        """Re-broadcast this sender's journaled, unfinished transactions with a lower nonce that the node does not
        know (same bytes), oldest nonce first. Returns how many were offered."""
        token = _refilling.set(True)
        try:
            count = 0
            on_node = int(self.w3.eth.get_transaction_count(row.sender, "latest"))  # type: ignore[arg-type]
            # every journaled transaction in the gap, whatever the journal last said (one confirmed and then lost
            # to a deeper reorganisation leaves a gap too)
            earlier = self.journal.in_nonce_range(self.chain_id, row.sender, on_node, row.nonce)
            for r in earlier:
                if self._receipt(r.tx_hash) is not None:
                    continue
                try:
                    self.w3.eth.get_transaction(r.tx_hash)  # type: ignore[arg-type]
                    continue
                except TransactionNotFound:
                    pass
                try:
                    self._broadcast(r)
                    count += 1
                except (ConflictError, *_REVERTS):  # dropped (its nonce was taken) or refused: the next one
                    continue
            return count
        finally:
            _refilling.reset(token)

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt's status, block number and hash, read raw: web3's formatting of a receipt with hundreds
        of logs (a batch mint) costs more than mining it on the embedded EVM. None while not mined."""
        response = self.w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])  # type: ignore[arg-type]
        if "error" in response:
            message = str(response["error"].get("message", response["error"]))
            if "not found" in message.lower() or "unknown transaction" in message.lower():
                return None
            raise ConnectionError(f"eth_getTransactionReceipt failed: {message[:200]}")
        raw = response.get("result")
        if not raw:
            return None
        block_hash = raw.get("blockHash", raw.get("block_hash"))
        block_number = raw.get("blockNumber", raw.get("block_number"))
        if block_hash is None or block_number is None:  # some nodes answer pending transactions this way
            return None
        return {"status": _q(raw["status"]), "blockNumber": _q(block_number), "blockHash": _hex(block_hash)}

    def read(self, to: str, data: bytes) -> bytes:
        """A view call against the latest state, raw on JSON-RPC providers (no ABI or result formatting)."""
        if type(self.w3.provider).__name__ == "EthereumTesterProvider":  # takes web3's request format only
            return bytes(self.w3.eth.call({"to": to, "data": "0x" + data.hex()}))  # type: ignore[typeddict-item]
        response = self.w3.provider.make_request(
            "eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"]  # type: ignore[arg-type]
        )
        if "error" in response:
            raise ConnectionError(f"eth_call failed: {str(response['error'].get('message'))[:200]}")
        return bytes.fromhex(str(response["result"])[2:])

    def head(self) -> tuple[int, int]:
        """The latest block's number and time (seconds), read raw on JSON-RPC providers."""
        if type(self.w3.provider).__name__ == "EthereumTesterProvider":
            block = self.w3.eth.get_block("latest")
            return int(block["number"]), int(block["timestamp"])
        response = self.w3.provider.make_request("eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]
        if "error" in response or not response.get("result"):
            raise ConnectionError(f"eth_getBlockByNumber failed: {str(response.get('error'))[:200]}")
        return _q(response["result"]["number"]), _q(response["result"]["timestamp"])

    def _explain_revert(self, row: JournalRow) -> str:
        """Why a mined transaction reverted: replay its call on the current state (failure path only)."""
        try:
            fields = TypedTransaction.from_bytes(HexBytes(row.raw_tx)).as_dict()
            call = {"from": row.sender, "to": row.contract, "data": _hex(fields["data"]),
                    "gas": int(fields["gas"]), "value": int(fields.get("value", 0))}
            self.w3.eth.call(call)  # type: ignore[arg-type]
        except _REVERTS as exc:
            return revert_reason(exc)
        except Exception:  # an explanation is best effort; the revert itself is certain
            return ""
        return ""

    def _resume(self, row: JournalRow, wait: bool) -> ChainTx:
        if row.state in (ChainTxState.CONFIRMED.value, ChainTxState.DROPPED.value):
            return row.to_chain_tx()
        if self._receipt(row.tx_hash) is None:
            try:
                known = self.w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                known = None
            if known is None:
                self._broadcast(row)  # the same bytes: the same hash, the same nonce
        return self.wait_mined(row.idempotency_key) if wait else row.to_chain_tx()

    def wait_mined(self, idempotency_key: str, timeout_s: float | None = None) -> ChainTx:
        row = self.journal.get(idempotency_key)
        if row is None:
            raise ConflictError(f"no transaction journaled under {idempotency_key!r}", code="not_journaled")
        deadline = time.monotonic() + (self.receipt_timeout_s if timeout_s is None else timeout_s)
        while True:
            receipt = self._receipt(row.tx_hash)
            if receipt is not None:
                succeeded = int(receipt["status"]) == 1
                changes = {
                    "state": ChainTxState.MINED.value if row.state != ChainTxState.CONFIRMED.value else row.state,
                    "block_number": int(receipt["blockNumber"]),
                    "block_hash": _hex(receipt["blockHash"]),
                    "succeeded": succeeded,
                }
                self.journal.update(idempotency_key, self.clock_ns(), **changes)
                tx = ChainTx(idempotency_key, ChainOp(row.op), row.tx_hash, ChainTxState(changes["state"]),
                             changes["block_number"], succeeded)  # type: ignore[arg-type]
                if not succeeded:
                    reason = self._explain_revert(row) if row.contract else ""
                    raise RefusedError(f"{row.op} transaction {row.tx_hash} reverted on chain"
                                       + (f": {reason}" if reason else ""), code="chain_reverted")
                return tx
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"transaction {row.tx_hash} not mined within the wait; it stays journaled as submitted "
                    "and a retry with the same key resumes it", code="chain_wait_timeout",
                )
            time.sleep(self.poll_interval_s)

    def wait_confirmed(self, idempotency_key: str, confirmations: int, timeout_s: float) -> ChainTx:
        """Wait until the transaction is `confirmations` blocks deep in the canonical chain (bounded)."""
        deadline = time.monotonic() + timeout_s
        while True:
            tx = self.wait_mined(idempotency_key, timeout_s=max(0.0, deadline - time.monotonic()))
            head = int(self.w3.eth.block_number)
            receipt = self._receipt(tx.tx_hash)
            if receipt is not None and tx.block_number is not None and head - tx.block_number + 1 > max(
                confirmations, 0
            ):
                self.journal.update(idempotency_key, self.clock_ns(), state=ChainTxState.CONFIRMED.value)
                return ChainTx(tx.idempotency_key, tx.op, tx.tx_hash, ChainTxState.CONFIRMED, tx.block_number,
                               tx.succeeded)
            if receipt is None:  # reorganised out: back to submitted, re-broadcast the same bytes
                self.journal.update(idempotency_key, self.clock_ns(), state=ChainTxState.SUBMITTED.value,
                                    block_number=None, block_hash=None, succeeded=None)
                row = self.journal.get(idempotency_key)
                if row is not None:
                    self._broadcast(row)
            if time.monotonic() >= deadline:
                raise ConflictError(f"transaction {tx.tx_hash} not {confirmations} blocks deep within the wait",
                                    code="chain_wait_timeout")
            time.sleep(self.poll_interval_s)

    def refresh(self, idempotency_key: str, confirmations: int) -> ChainTx:
        """The transaction as the canonical chain has it now, re-read from the node (never the journal's memory),
        with its depth. A transaction reorganised out goes back to `submitted` and its same bytes are offered
        again (the same hash and nonce: it can be mined at most once); one whose nonce another transaction took
        is `dropped`. A transaction `confirmations` deep is `confirmed`, and stays so only while it is there."""
        row = self.journal.get(idempotency_key)
        if row is None:
            raise ConflictError(f"no transaction journaled under {idempotency_key!r}", code="not_journaled")
        if row.state == ChainTxState.DROPPED.value:
            return row.to_chain_tx()
        receipt = self._receipt(row.tx_hash)
        now = self.clock_ns()
        if receipt is None:
            if row.state != ChainTxState.SUBMITTED.value:
                self.journal.update(idempotency_key, now, state=ChainTxState.SUBMITTED.value, block_number=None,
                                    block_hash=None, succeeded=None, error="reorganised out; offered again")
                self.forget_nonces()
            try:
                self.w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                try:
                    self._broadcast(row)
                except ConflictError:  # dropped: its nonce is taken; the journal says so
                    pass
                except _REVERTS:  # e.g. an earlier nonce of ours is missing too: offered again on a later pass
                    pass
            receipt = self._receipt(row.tx_hash)  # a node that mines at once has it already
            row = self.journal.get(idempotency_key) or row
            if receipt is None or row.state == ChainTxState.DROPPED.value:
                return row.to_chain_tx()
        head = int(self.w3.eth.block_number)
        depth = max(0, head - int(receipt["blockNumber"]) + 1)
        succeeded = int(receipt["status"]) == 1
        state = ChainTxState.CONFIRMED if depth > max(confirmations, 0) else ChainTxState.MINED
        changes = {"state": state.value, "block_number": int(receipt["blockNumber"]),
                   "block_hash": _hex(receipt["blockHash"]), "succeeded": succeeded}
        if any(getattr(row, k) != v for k, v in changes.items()):
            self.journal.update(idempotency_key, now, **changes)
        return ChainTx(idempotency_key, ChainOp(row.op), row.tx_hash, state, int(receipt["blockNumber"]), succeeded,
                       depth)

    def recover(self) -> int:
        """After a restart: re-broadcast journaled transactions the node does not know. Returns how many.

        Each transaction stands alone: one the node refuses (an unfunded key, a nonce taken) is set aside with why
        (`set_aside`, and its journal row's error) and the others are still offered, so one stuck transaction does
        not stop every chain command."""
        count = 0
        self.set_aside = []
        for row in self.journal.unfinished(self.chain_id):
            if self._receipt(row.tx_hash) is None:
                try:
                    self.w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
                except TransactionNotFound:
                    try:
                        self._broadcast(row)
                    except (ChainKeyUnfunded, ConflictError) as exc:
                        code = exc.code if isinstance(exc, ConflictError) else ChainKeyUnfunded.code
                        reason = exc.detail if isinstance(exc, ConflictError) else str(exc)
                        self.set_aside.append(SetAside(row.idempotency_key, row.op, row.sender,
                                                       gas_needed_wei(row.raw_tx), code, reason))
                        self.journal.update(row.idempotency_key, self.clock_ns(), error=reason[:500])
                        continue
                    count += 1
        return count

    def fund(self, addresses: list[str], amount_wei: int) -> None:
        """Dev nodes only (eth-tester, Hardhat): send gas money from the node's first unlocked account."""
        source = self.w3.eth.accounts[0]
        for address in addresses:
            if int(self.w3.eth.get_balance(address)) >= amount_wei // 2:  # type: ignore[arg-type]
                continue
            tx_hash = self.w3.eth.send_transaction(
                {"from": source, "to": address, "value": amount_wei, "gas": 21_000}  # type: ignore[typeddict-item]
            )
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout_s)
