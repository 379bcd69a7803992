"""The transaction journal: a row per signed transaction, written and committed BEFORE broadcast.

The row carries the idempotency key, the hash and the raw signed bytes. A retry with the same key finds the
row and re-broadcasts the same bytes (the same hash, the same nonce), so at most one of them can ever be mined.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.chain_tables import tx_journal
from bauhinia.domain.chain import ChainOp, ChainTx, ChainTxState


class NonceTaken(Exception):
    """Another live journaled transaction of this sender holds the nonce: sign again with the next one."""


@dataclass(frozen=True)
class JournalRow:
    idempotency_key: str
    chain_id: int
    contract: str | None
    op: str
    sender: str
    nonce: int
    tx_hash: str
    raw_tx: str
    state: str
    block_number: int | None = None
    block_hash: str | None = None
    succeeded: bool | None = None
    error: str | None = None

    def to_chain_tx(self) -> ChainTx:
        return ChainTx(
            idempotency_key=self.idempotency_key,
            op=ChainOp(self.op),
            tx_hash=self.tx_hash,
            state=ChainTxState(self.state),
            block_number=self.block_number,
            succeeded=self.succeeded,
        )


_COLUMNS = [c.name for c in tx_journal.columns if c.name not in ("id", "created_at_ns", "updated_at_ns")]


class TxJournal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, idempotency_key: str) -> JournalRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*[tx_journal.c[n] for n in _COLUMNS]).where(
                    tx_journal.c.idempotency_key == idempotency_key
                )
            ).first()
        return JournalRow(**row._asdict()) if row else None

    def insert(self, row: JournalRow, now_ns: int) -> JournalRow:
        """Commit the row; if the key is already there (a concurrent caller), return the stored row. A nonce that
        another live transaction of the sender holds (another process with the same key) raises NonceTaken."""
        values = {n: getattr(row, n) for n in _COLUMNS}
        try:
            with self.engine.begin() as conn:
                conn.execute(tx_journal.insert().values(**values, created_at_ns=now_ns, updated_at_ns=now_ns))
        except sa.exc.IntegrityError:
            existing = self.get(row.idempotency_key) or self.by_hash(row.tx_hash)
            if existing is None:
                if self.nonce_holder(row.chain_id, row.sender, row.nonce) is not None:
                    raise NonceTaken(f"nonce {row.nonce} of {row.sender} is journaled already") from None
                raise
            # The same key, or byte-identical signed bytes under another key (two callers that signed the same
            # call with the same nonce): one transaction, merged into the row already there, never a crash.
            return existing
        return row

    def by_hash(self, tx_hash: str) -> JournalRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(*[tx_journal.c[n] for n in _COLUMNS]).where(tx_journal.c.tx_hash == tx_hash)
            ).first()
        return JournalRow(**found._asdict()) if found else None

    def update(self, idempotency_key: str, now_ns: int, **changes: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                tx_journal.update()
                .where(tx_journal.c.idempotency_key == idempotency_key)
                .values(**changes, updated_at_ns=now_ns)
            )

    def next_nonce(self, chain_id: int, sender: str) -> int | None:
        """One past the highest nonce we journaled for `sender` (dropped ones excluded), or None."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(tx_journal.c.nonce)).where(
                    tx_journal.c.chain_id == chain_id,
                    tx_journal.c.sender == sender,
                    tx_journal.c.state != ChainTxState.DROPPED.value,
                )
            ).scalar()
        return None if value is None else int(value) + 1

    def nonce_holder(self, chain_id: int, sender: str, nonce: int) -> JournalRow | None:
        """The live (not dropped) journaled transaction of `sender` with this nonce, if any."""
        rows = self.in_nonce_range(chain_id, sender, nonce, nonce + 1)
        return rows[0] if rows else None

    def in_nonce_range(self, chain_id: int, sender: str, low: int, high: int) -> list[JournalRow]:
        """`sender`'s journaled transactions with low <= nonce < high (dropped ones excluded), by nonce."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*[tx_journal.c[n] for n in _COLUMNS])
                .where(tx_journal.c.chain_id == chain_id, tx_journal.c.sender == sender,
                       tx_journal.c.nonce >= low, tx_journal.c.nonce < high,
                       tx_journal.c.state != ChainTxState.DROPPED.value)
                .order_by(tx_journal.c.nonce, tx_journal.c.id)
            ).all()
        return [JournalRow(**r._asdict()) for r in rows]

    def unfinished(self, chain_id: int, limit: int = 1000) -> list[JournalRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*[tx_journal.c[n] for n in _COLUMNS])
                .where(
                    tx_journal.c.chain_id == chain_id,
                    tx_journal.c.state.in_([ChainTxState.SUBMITTED.value, ChainTxState.MINED.value]),
                )
                .order_by(tx_journal.c.id)
                .limit(limit)
            ).all()
        return [JournalRow(**r._asdict()) for r in rows]
