"""The adjustments journal on SQLite / PostgreSQL: an adjustment's transfers and its journal row commit together.

Booking is all or nothing: when any transfer of the adjustment is refused by the ledger, nothing is committed
and the per-transfer results say why. Booking an adjustment already journaled books nothing and answers its
transfers as `exists` (a retry, or a second approval executor, is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.ledger_tables import adjustments
from bauhinia.domain import adjustments as adj
from bauhinia.domain.ledger import Transfer
from bauhinia.ports import AdjustmentBooking, AdjustmentEntry


class _Refused(Exception):
    def __init__(self, results: list[str]) -> None:
        super().__init__("adjustment refused by the ledger")
        self.results = results


def _entry(row: Any) -> AdjustmentEntry:
    return AdjustmentEntry(
        adjustment_id=row.adjustment_id, reason=row.reason, maker=row.maker, approval_id=row.approval_id,
        approvers=tuple(a for a in row.approvers.split(",") if a), transfers=tuple(json.loads(row.transfers_json)),
        currency=row.currency, amount_minor_total=int(row.amount_minor_total), booked_at_ns=int(row.booked_at_ns),
    )


class SqlAdjustments:
    def __init__(self, engine: Engine, ledger: Any) -> None:
        self.engine = engine
        self.ledger = ledger  # SqlLedger: create_transfers_in(conn, batch)

    def get(self, adjustment_id: str) -> AdjustmentEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(adjustments).where(adjustments.c.adjustment_id == adjustment_id)).first()
        return None if row is None else _entry(row)

    def between(self, start_ns: int, end_ns: int, *, limit: int = 1_000) -> list[AdjustmentEntry]:
        t = adjustments
        stmt = (sa.select(t).where(t.c.booked_at_ns >= start_ns, t.c.booked_at_ns < end_ns)
                .order_by(t.c.booked_at_ns, t.c.adjustment_id).limit(limit))
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def page(self, *, after: str | None, limit: int) -> list[AdjustmentEntry]:
        t = adjustments
        stmt = sa.select(t).order_by(t.c.adjustment_id).limit(limit)
        if after:
            stmt = stmt.where(t.c.adjustment_id > after)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def book(self, adjustment_id: str, transfers: Sequence[Transfer], *, reason: str, maker: str,
             approval_id: str | None, approvers: Sequence[str], amounts_minor: Sequence[int],
             now_ns: int) -> AdjustmentBooking:
        try:
            with self.engine.begin() as conn:
                seen = conn.execute(sa.select(adjustments.c.adjustment_id)
                                    .where(adjustments.c.adjustment_id == adjustment_id)).first()
                if seen is not None:
                    return AdjustmentBooking(adjustment_id, ["exists"] * len(transfers), booked=False, replay=True)
                results = self.ledger.create_transfers_in(conn, list(transfers))
                if any(r != "ok" for r in results):
                    raise _Refused(results)
                conn.execute(adjustments.insert().values(
                    adjustment_id=adjustment_id, reason=reason[: adj.reason_length_max], maker=maker[:80],
                    approval_id=approval_id, approvers=",".join(approvers)[:400],
                    transfers_json=json.dumps([adj.transfer_params(t) for t in transfers], sort_keys=True),
                    transfer_count=len(transfers), currency=transfers[0].currency,
                    amount_minor_total=sum(amounts_minor), booked_at_ns=now_ns,
                ))
        except _Refused as refused:
            return AdjustmentBooking(adjustment_id, refused.results, booked=False, replay=False)
        return AdjustmentBooking(adjustment_id, results, booked=True, replay=False)
