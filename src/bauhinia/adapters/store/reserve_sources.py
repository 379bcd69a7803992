"""ports.ReserveSources over the shared database: the ledger's account table, the issuance records, the
reserves' statement register and the chain indexer's tables, read with aggregate queries (one pass each).

Read-only: nothing here writes. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store import issuance_tables as it
from bauhinia.adapters.store import ledger_tables as lt
from bauhinia.adapters.store import reserves_tables as rt
from bauhinia.adapters.store.chain_tables import events, holder_balances, indexer_cursors
from bauhinia.domain.chain import zero_address
from bauhinia.domain.money import Currency, minor_to_base_units

customer_account_code = 10  # domain.issuance.customer_account
_booked_outcomes = ("subscription", "suspense", "payout")
_burned_statuses = ("burned", "payout_instructed", "paid")


class SqlReserveSources:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def customer_balances_minor(self, fiat: Currency) -> dict[str, int]:
        a = lt.accounts
        q = sa.select(a.c.reference, a.c.credits_posted, a.c.debits_posted).where(
            a.c.code == customer_account_code, a.c.currency == fiat.value
        )
        out: dict[str, int] = {}
        with self._engine.connect() as conn:
            for ref, credits, debits in conn.execute(q):
                # reference = "customer:<id>:<fiat>"
                body = str(ref or "")
                if not body.startswith("customer:"):
                    continue
                customer_id = body[len("customer:") :].rsplit(":", 1)[0]
                balance = int(credits) - int(debits)
                if balance:
                    out[customer_id] = balance
        return out

    def unstated_bank_entries_minor(self, fiat: Currency, *, received_from_ns: int | None = None,
                                    received_before_ns: int | None = None) -> tuple[int, int]:
        """Net amount and count of entries booked from notifications that no statement covers, optionally only
        those whose file was received in [received_from_ns, received_before_ns)."""
        e = it.bank_entries
        f = it.bank_files
        covered = sa.select(rt.statement_entries.c.entry_key)
        signed = sa.case((e.c.direction == "CRDT", e.c.amount_minor), else_=-e.c.amount_minor)
        q = sa.select(sa.func.coalesce(sa.func.sum(signed), 0), sa.func.count()).select_from(
            e.join(f, f.c.content_hash == e.c.file_hash, isouter=True)
        ).where(e.c.currency == fiat.value, e.c.outcome.in_(_booked_outcomes), e.c.entry_key.not_in(covered))
        if received_from_ns is not None:
            q = q.where(sa.func.coalesce(f.c.received_at_ns, 0) >= received_from_ns)
        if received_before_ns is not None:
            q = q.where(sa.func.coalesce(f.c.received_at_ns, 0) < received_before_ns)
        with self._engine.connect() as conn:
            net, count = conn.execute(q).one()
        return int(net or 0), int(count or 0)

    def minted_by_wallet(self, fiat: Currency) -> dict[str, int]:
        s = it.subscriptions
        q = (
            sa.select(s.c.wallet, sa.func.sum(s.c.amount_minor - s.c.fee_minor))
            .where(s.c.fiat == fiat.value, s.c.status == "minted", s.c.wallet.is_not(None))
            .group_by(s.c.wallet)
        )
        with self._engine.connect() as conn:
            return {str(w).lower(): minor_to_base_units(int(v)) for w, v in conn.execute(q)}

    def pending_mint_base_units(self, fiat: Currency) -> int:
        b = it.mint_batches
        q = sa.select(sa.func.coalesce(sa.func.sum(b.c.amount_base_units), 0)).where(
            b.c.fiat == fiat.value, b.c.status == "pending"
        )
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def burns_booked(self, fiat: Currency) -> dict[str, tuple[int, bool]]:
        r = it.redemptions
        q = (
            sa.select(
                r.c.burn_key,
                sa.func.sum(r.c.amount_minor),
                sa.func.min(sa.case((r.c.status == "burned", 0), else_=1)),
            )
            .where(r.c.fiat == fiat.value, r.c.status.in_(_burned_statuses), r.c.burn_key.is_not(None))
            .group_by(r.c.burn_key)
        )
        with self._engine.connect() as conn:
            return {str(k): (minor_to_base_units(int(v)), bool(done)) for k, v, done in conn.execute(q)}

    def peer_transfers_net(self, cursor: str) -> dict[str, int]:
        where = (
            events.c.cursor == cursor,
            events.c.event == "Transfer",
            events.c.sender != zero_address,
            events.c.receiver != zero_address,
        )
        out: dict[str, int] = {}
        with self._engine.connect() as conn:
            for holder, total in conn.execute(
                sa.select(events.c.receiver, sa.func.sum(events.c.value_base_units))
                .where(*where)
                .group_by(events.c.receiver)
            ):
                out[holder] = out.get(holder, 0) + int(total)
            for holder, total in conn.execute(
                sa.select(events.c.sender, sa.func.sum(events.c.value_base_units))
                .where(*where)
                .group_by(events.c.sender)
            ):
                out[holder] = out.get(holder, 0) - int(total)
        return out

    def indexed_holders(self, cursor: str) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {
                str(h): int(b)
                for h, b in conn.execute(
                    sa.select(holder_balances.c.holder, holder_balances.c.balance_base_units).where(
                        holder_balances.c.cursor == cursor
                    )
                )
                if int(b)
            }

    def indexed_supply(self, cursor: str) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(
                sa.select(indexer_cursors.c.total_supply_base_units).where(indexer_cursors.c.name == cursor)
            ).scalar()
        return int(value or 0)
