"""The chain indexer's core: follow one contract's logs, N confirmations behind the head, into the store.

Each step, in one database transaction: check that the last indexed block is still canonical (else roll back
to the fork point: orphaned events are removed and their balance effects reversed), fetch the logs of the next
confirmed range, store them, apply Transfer events to holder balances, and move the cursor. A crash between
steps loses nothing and applies nothing twice: the cursor moves in the same transaction as the events.

Holder balances (lower-case 0x keys, token base units) feed the three-way reconciliation:
`holder_balances(engine, cursor_name)` and `indexed_supply(engine, cursor_name)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eth_utils import event_abi_to_log_topic
from web3 import EthereumTesterProvider, Web3

from bauhinia.adapters.chain.artifacts import stablecoin_abi
from bauhinia.adapters.store.chain_tables import events, holder_balances, indexed_blocks, indexer_cursors
from bauhinia.domain.chain import apply_transfer, zero_address
from bauhinia.domain.errors import InvariantViolation, NotFoundError
from bauhinia.domain.limits import int64_max

blocks_per_step_max = 2_000
reorg_depth_max = 1_024
_IN_CHUNK = 500


def _topic_names() -> dict[str, str]:
    return {
        "0x" + event_abi_to_log_topic(item).hex(): item["name"]
        for item in stablecoin_abi() if item.get("type") == "event"
    }


TOPICS = _topic_names()
TRANSFER_TOPIC = next(t for t, n in TOPICS.items() if n == "Transfer")


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def cursor_name(chain_id: int, address: str) -> str:
    return f"{chain_id}:{address.lower()}"


@dataclass(frozen=True)
class IndexStep:
    head_block: int
    next_block: int
    events_applied: int
    rolled_back_events: int
    reorg: bool

    @property
    def lag_blocks(self) -> int:
        return max(0, self.head_block - self.next_block + 1)


class ChainIndexer:
    def __init__(self, engine: sa.Engine, w3: Web3, address: str, *, start_block: int = 0,
                 confirmations: int = 0, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.engine = engine
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.chain_id = int(w3.eth.chain_id)
        self.name = cursor_name(self.chain_id, self.address)
        self.confirmations = confirmations
        self.clock_ns = clock_ns
        with engine.begin() as conn:
            if conn.execute(sa.select(indexer_cursors.c.name).where(indexer_cursors.c.name == self.name)).first():
                return
            conn.execute(indexer_cursors.insert().values(
                name=self.name, chain_id=self.chain_id, address=self.address.lower(), next_block=start_block,
                total_supply_base_units=0, events_applied=0, reorgs=0, updated_at_ns=clock_ns()))

    # --- public --------------------------------------------------------------------------------------------

    def step(self, blocks_max: int = blocks_per_step_max) -> IndexStep:
        head = int(self.w3.eth.block_number)
        with self.engine.begin() as conn:
            # The cursor row is the claim: a second indexer of this contract (another host) waits here on
            # PostgreSQL; SQLite's write transaction (BEGIN IMMEDIATE) serialises them already.
            cur = conn.execute(sa.select(indexer_cursors).where(indexer_cursors.c.name == self.name)
                               .with_for_update()).one()
            next_block = int(cur.next_block)
            rolled_back, reorg = 0, False
            fork = self._find_fork(conn, next_block)
            if fork is not None:
                rolled_back = self._roll_back(conn, fork)
                next_block, reorg = fork + 1, True
            safe = head - self.confirmations
            applied = 0
            supply = int(cur.total_supply_base_units) if not reorg else self._supply(conn)
            if next_block <= safe:
                to_block = min(safe, next_block + max(1, min(blocks_max, blocks_per_step_max)) - 1)
                logs = self._get_logs(next_block, to_block)
                applied, supply = self._apply(conn, logs, supply)
                tip_hash = _hex(self.w3.eth.get_block(to_block)["hash"])
                self._remember_blocks(conn, logs, to_block, tip_hash)
                next_block = to_block + 1
            conn.execute(indexer_cursors.update().where(indexer_cursors.c.name == self.name).values(
                next_block=next_block, total_supply_base_units=supply,
                events_applied=indexer_cursors.c.events_applied + applied,
                reorgs=indexer_cursors.c.reorgs + (1 if reorg else 0), updated_at_ns=self.clock_ns()))
        return IndexStep(head, next_block, applied, rolled_back, reorg)

    def catch_up(self, steps_max: int = 10_000) -> int:
        """Step until the confirmed head is reached (bounded). Returns events applied."""
        total = 0
        for _ in range(steps_max):
            result = self.step()
            total += result.events_applied
            if result.next_block > result.head_block - self.confirmations and not result.reorg:
                return total
        return total

    # --- internals -----------------------------------------------------------------------------------------

    def _get_logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        if isinstance(self.w3.provider, EthereumTesterProvider):  # in-process: takes web3's request format
            logs = self.w3.eth.get_logs(
                {"address": self.address, "fromBlock": from_block, "toBlock": to_block}  # type: ignore[typeddict-item]
            )
            return [dict(log) for log in logs]
        # The raw JSON-RPC call: web3's result formatters cost more than everything else the indexer does.
        response = self.w3.provider.make_request(
            "eth_getLogs",  # type: ignore[arg-type]
            [{"address": self.address, "fromBlock": hex(from_block), "toBlock": hex(to_block)}],
        )
        if "error" in response:
            raise ConnectionError(f"eth_getLogs failed: {response['error']}")
        return list(response["result"])

    def _find_fork(self, conn: sa.Connection, next_block: int) -> int | None:
        """None if our last indexed block is still canonical, else the highest block we still agree on."""
        stored = conn.execute(
            sa.select(indexed_blocks.c.number, indexed_blocks.c.hash)
            .where(indexed_blocks.c.cursor == self.name)
            .order_by(indexed_blocks.c.number.desc()).limit(reorg_depth_max)
        ).all()
        if not stored:
            return None
        for i, (number, block_hash) in enumerate(stored):
            canonical = self._canonical_hash(int(number))
            if canonical == block_hash:
                return None if i == 0 else int(number)
        deepest = int(stored[-1][0])
        raise InvariantViolation(
            f"reorganisation deeper than {reorg_depth_max} indexed blocks (below block {deepest}); "
            "re-index from the deployment block", code="reorg_too_deep")

    def _canonical_hash(self, number: int) -> str | None:
        try:
            block = self.w3.eth.get_block(number)
        except Exception:  # the block is gone (the chain is now shorter)
            return None
        return _hex(block["hash"]) if block else None

    def _roll_back(self, conn: sa.Connection, fork: int) -> int:
        # Undone newest first, the exact reverse of how they were applied: a coin minted and then passed on
        # in the orphaned blocks is taken back from its last holder before the mint is undone.
        orphaned = conn.execute(
            sa.select(events.c.sender, events.c.receiver, events.c.value_base_units)
            .where(events.c.cursor == self.name, events.c.block_number > fork, events.c.event == "Transfer")
            .order_by(events.c.block_number.desc(), events.c.log_index.desc())
        ).all()
        reversed_transfers = [(r.receiver, r.sender, int(r.value_base_units)) for r in orphaned]
        self._apply_balances(conn, reversed_transfers)
        count = conn.execute(events.delete().where(events.c.cursor == self.name, events.c.block_number > fork))
        conn.execute(indexed_blocks.delete().where(indexed_blocks.c.cursor == self.name,
                                                   indexed_blocks.c.number > fork))
        return int(count.rowcount or 0)

    def _supply(self, conn: sa.Connection) -> int:
        value = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(holder_balances.c.balance_base_units), 0))
                             .where(holder_balances.c.cursor == self.name)).scalar()
        return int(value or 0)

    def _apply(self, conn: sa.Connection, logs: Iterable[Any], supply: int) -> tuple[int, int]:
        """Decode logs by topic (precomputed selectors, no ABI machinery) and store them in one executemany."""
        rows: list[tuple[Any, ...]] = []
        transfers: list[tuple[str, str, int]] = []
        name_of, transfer_topic, cursor = TOPICS, TRANSFER_TOPIC, self.name
        for log in logs:
            topics = log["topics"]
            if topics and not isinstance(topics[0], str):  # eth-tester answers bytes
                topics = [_hex(t) for t in topics]
            topic0 = topics[0].lower() if topics else None
            data = log["data"]
            data = data if isinstance(data, str) else _hex(data)
            block_hash, tx_hash = log["blockHash"], log["transactionHash"]
            block_hash = block_hash.lower() if isinstance(block_hash, str) else _hex(block_hash)
            tx_hash = tx_hash.lower() if isinstance(tx_hash, str) else _hex(tx_hash)
            if topic0 == transfer_topic and len(topics) == 3:
                sender, receiver = "0x" + topics[1][-40:].lower(), "0x" + topics[2][-40:].lower()
                value = int(data, 16)
                if value > int64_max:
                    raise InvariantViolation(f"transfer of {value} base units exceeds the store's range",
                                             code="amount_out_of_range")
                transfers.append((sender, receiver, value))
                if sender == zero_address:
                    supply += value
                elif receiver == zero_address:
                    supply -= value
                rows.append((cursor, _int(log["blockNumber"]), _int(log["logIndex"]), block_hash, tx_hash,
                             "Transfer", sender, receiver, value, ""))
            else:
                name = name_of.get(topic0, "Unknown") if topic0 else "Anonymous"
                args = json.dumps({"topics": [t.lower() for t in topics[1:]], "data": data.lower()})
                rows.append((cursor, _int(log["blockNumber"]), _int(log["logIndex"]), block_hash, tx_hash, name,
                             None, None, None, args))
        if rows:
            _insert_many(conn, events, _EVENT_COLUMNS, rows)
            self._apply_balances(conn, transfers)
        return len(rows), supply

    def _apply_balances(self, conn: sa.Connection, transfers: list[tuple[str, str, int]]) -> None:
        if not transfers:
            return
        touched = sorted({a for s, r, _ in transfers for a in (s, r) if a != zero_address})
        balances: dict[str, int] = {}
        for i in range(0, len(touched), _IN_CHUNK):
            chunk = touched[i:i + _IN_CHUNK]
            for holder, balance in conn.execute(
                sa.select(holder_balances.c.holder, holder_balances.c.balance_base_units)
                .where(holder_balances.c.cursor == self.name, holder_balances.c.holder.in_(chunk))
            ):
                balances[holder] = int(balance)
        known = set(balances)
        for sender, receiver, value in transfers:
            apply_transfer(balances, sender, receiver, value)
        for i in range(0, len(touched), _IN_CHUNK):
            chunk = [h for h in touched[i:i + _IN_CHUNK] if h in known]
            if chunk:
                conn.execute(holder_balances.delete().where(holder_balances.c.cursor == self.name,
                                                            holder_balances.c.holder.in_(chunk)))
        _insert_many(conn, holder_balances, _BALANCE_COLUMNS,
                     [(self.name, h, balances[h]) for h in touched if balances.get(h)])

    def _remember_blocks(self, conn: sa.Connection, logs: Iterable[Any], tip: int, tip_hash: str) -> None:
        hashes = {_int(log["blockNumber"]): _hex(log["blockHash"]) for log in logs}
        hashes[tip] = tip_hash
        conn.execute(indexed_blocks.insert(), [{"cursor": self.name, "number": n, "hash": h}
                                               for n, h in sorted(hashes.items())])
        conn.execute(indexed_blocks.delete().where(indexed_blocks.c.cursor == self.name,
                                                   indexed_blocks.c.number < tip - reorg_depth_max))


_EVENT_COLUMNS = ("cursor", "block_number", "log_index", "block_hash", "tx_hash", "event", "sender", "receiver",
                  "value_base_units", "args_json")
_BALANCE_COLUMNS = ("cursor", "holder", "balance_base_units")


def _insert_many(conn: sa.Connection, table: sa.Table, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One executemany at the driver level: SQLAlchemy's per-row parameter processing costs more than the
    database does here. The statement is compiled for the connection's dialect (SQLite and PostgreSQL)."""
    if not rows:
        return
    compiled = table.insert().values({n: sa.bindparam(n) for n in names}).compile(dialect=conn.dialect)
    if compiled.positional:
        order = [names.index(p) for p in (compiled.positiontup or ())]
        params: list[Any] = rows if order == list(range(len(names))) else [
            tuple(r[i] for i in order) for r in rows]
    else:
        params = [dict(zip(names, r, strict=True)) for r in rows]
    conn.exec_driver_sql(str(compiled), params)


def holder_balances_of(engine: sa.Engine, name: str) -> dict[str, int]:
    """Every indexed holder's balance (lower-case 0x address -> base units), for reconciliation."""
    with engine.connect() as conn:
        return {h: int(b) for h, b in conn.execute(
            sa.select(holder_balances.c.holder, holder_balances.c.balance_base_units)
            .where(holder_balances.c.cursor == name))}


def cursor_state(engine: sa.Engine, name: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(indexer_cursors).where(indexer_cursors.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no indexer cursor {name!r}", code="cursor_missing")
    return dict(row._mapping)
