"""The issuance store: repositories over the issuance tables, and a unit of work that commits the flow's state,
its ledger entries (through SqlLedger, in the same transaction), its outbox events and its audit entries together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.events.outbox import enqueue
from bauhinia.adapters.store import audit as audit_log
from bauhinia.adapters.store import issuance_tables as t
from bauhinia.adapters.store import refund_tables as rt
from bauhinia.adapters.store.chain_tables import events as chain_events
from bauhinia.adapters.store.db import read_connection
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, NotFoundError
from bauhinia.domain.ledger import Transfer
from bauhinia.domain.limits import transfer_batch_size_max
from bauhinia.domain.money import Currency

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CoinTransferIn:
    """A coin transfer into the redemption address, as the indexer recorded it."""

    event_key: str
    sender: str
    amount_base_units: int
    tx_hash: str
    block_number: int


# Statements of the request paths, built once: building a select costs several times more than running it.
_bp = sa.bindparam
_Q_CUSTOMER = sa.select(t.customers).where(t.customers.c.id == _bp("customer_id"))
_Q_BANK_ACCOUNTS_OF = sa.select(t.bank_accounts).where(t.bank_accounts.c.customer_id == _bp("customer_id"))
_Q_WALLETS_OF = (sa.select(t.wallets).where(t.wallets.c.customer_id == _bp("customer_id"))
                 .order_by(t.wallets.c.verified_at_ns))
_Q_COIN = sa.select(t.coins).where(t.coins.c.fiat == _bp("fiat"))
_Q_REDEMPTION = sa.select(t.redemptions).where(t.redemptions.c.seq == _bp("seq"))
_Q_REDEMPTION_BY_KEY = sa.select(t.redemptions).where(t.redemptions.c.idempotency_key == _bp("key"))
_Q_SUBSCRIPTION = sa.select(t.subscriptions).where(t.subscriptions.c.seq == _bp("seq"))
_Q_SUBSCRIPTIONS_AFTER = (sa.select(t.subscriptions).where(t.subscriptions.c.seq > _bp("after_seq"))
                          .order_by(t.subscriptions.c.seq).limit(_bp("limit")))
_Q_TRANSITIONS = (sa.select(t.transitions)
                  .where((t.transitions.c.flow == _bp("flow")) & (t.transitions.c.flow_seq == _bp("flow_seq")))
                  .order_by(t.transitions.c.id))
_Q_MAX_REDEMPTION_SEQ = sa.select(sa.func.coalesce(sa.func.max(t.redemptions.c.seq), 0))
_I_REDEMPTION = t.redemptions.insert()
_REDEMPTION_COLUMNS_UNSET: dict[str, Any] = {c.name: None for c in t.redemptions.columns}
_I_TRANSITIONS = t.transitions.insert()


def _customer(r: Any) -> iss.Customer:
    return iss.Customer(r.id, int(r.seq), r.name, iss.CustomerStatus(r.status), r.deposit_reference)


class SqlIssuanceUow:
    """One transaction. Every write of a flow goes through here so it commits, or not, as a whole."""

    def __init__(self, conn: sa.Connection, ledger: SqlLedger, now_ns: int) -> None:
        self.added_redemption: Any = None  # the row `add_redemption` wrote, as the store would read it back
        self.conn = conn
        self.ledger = ledger
        self.now_ns = now_ns
        # Serialise issuance writers on the ledger's lock row (BEGIN IMMEDIATE already does on SQLite).
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("SELECT 1 FROM ledger_meta WHERE id = 1 FOR UPDATE")

    # --- ledger, events, audit --------------------------------------------------------------------------
    def post(self, transfers: Sequence[Transfer], what: str, *, new: bool = False) -> None:
        for k in range(0, len(transfers), transfer_batch_size_max):
            chunk = transfers[k : k + transfer_batch_size_max]
            # A linked entry must not straddle two calls: chunks end on an unlinked leg.
            while chunk and chunk[-1].flags & 1 and k + len(chunk) < len(transfers):
                chunk = chunk[:-1]
            iss.require_ok(self.ledger.create_transfers_in(self.conn, chunk), what, new=new)
            if len(chunk) < min(transfer_batch_size_max, len(transfers) - k):
                rest = transfers[k + len(chunk) :]
                self.post(rest, what, new=new)
                return

    def emit(self, topic: str, payload: dict[str, Any], key: str | None = None) -> None:
        enqueue(self.conn, topic, payload, now_ns=self.now_ns, key=key)

    def audit(self, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        audit_log.append(self.conn, actor=actor, action=action, subject=subject, details=details, now_ns=self.now_ns)

    def record_transitions(self, items: Iterable[iss.Transition]) -> None:
        rows = [dict(flow=x.flow, flow_seq=int(x.flow_id), from_status=x.from_status, to_status=x.to_status,
                     at_ns=x.at_ns, actor=x.actor, reason=x.reason[:300]) for x in items]
        if rows:
            self.conn.execute(_I_TRANSITIONS, rows)

    # --- customers ----------------------------------------------------------------------------------------
    def next_customer_seq(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.customers.c.seq), 0))).scalar_one()) + 1

    def add_customer(self, c: iss.Customer) -> None:
        self.conn.execute(t.customers.insert().values(id=c.id, seq=c.seq, name=c.name, status=c.status.value,
                                                      deposit_reference=c.deposit_reference,
                                                      created_at_ns=self.now_ns))

    def set_customer_status(self, customer_id: str, status: iss.CustomerStatus) -> None:
        n = self.conn.execute(t.customers.update().where(t.customers.c.id == customer_id)
                              .values(status=status.value)).rowcount
        if not n:
            raise NotFoundError(f"customer {customer_id} not found", code="customer_not_found")

    def add_bank_account(self, a: iss.VerifiedBankAccount) -> None:
        self.conn.execute(t.bank_accounts.insert().values(
            customer_id=a.customer_id, account=a.account, scheme=a.scheme, holder_name=a.holder_name,
            currency=a.currency.value, bic=a.bic, verified_at_ns=self.now_ns))

    def add_wallet(self, w: iss.WhitelistedWallet, signature: str) -> None:
        owner = self.conn.execute(sa.select(t.wallets.c.customer_id).where(t.wallets.c.address == w.address)).first()
        if owner is not None:
            if owner[0] != w.customer_id:
                raise ConflictError(f"wallet {w.address} belongs to another customer", code="wallet_taken")
            return
        self.conn.execute(t.wallets.insert().values(address=w.address, customer_id=w.customer_id,
                                                    signature=signature, verified_at_ns=w.verified_at_ns))

    def put_coin_config(self, c: iss.CoinConfig) -> None:
        self.conn.execute(t.coins.delete().where(t.coins.c.fiat == c.fiat.value))
        self.conn.execute(t.coins.insert().values(
            fiat=c.fiat.value, licence_number=c.licence_number,
            mainland_approval_reference=c.mainland_approval_reference,
            subscription_fee_bps=c.subscription_fee_bps, redemption_fee_bps=c.redemption_fee_bps))

    # --- bank files and entries ---------------------------------------------------------------------------
    def file_seen(self, content_hash: str, message_key: str) -> bool:
        q = sa.select(t.bank_files.c.content_hash).where(
            (t.bank_files.c.content_hash == content_hash) | (t.bank_files.c.message_key == message_key))
        return self.conn.execute(q).first() is not None

    def record_file(self, content_hash: str, message_key: str, name: str, kind: str, entries: int) -> None:
        self.conn.execute(t.bank_files.insert().values(content_hash=content_hash, message_key=message_key,
                                                       name=name[:200], kind=kind, entries=entries,
                                                       received_at_ns=self.now_ns))

    def known_entries(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for k in range(0, len(keys), 900):
            q = sa.select(t.bank_entries.c.entry_key).where(t.bank_entries.c.entry_key.in_(keys[k : k + 900]))
            found.update(r[0] for r in self.conn.execute(q))
        return found

    def record_entries(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(t.bank_entries.insert(), rows)

    def add_suspense(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(t.suspense_credits.insert(), rows)

    def move_suspense(self, seq: int, from_status: str, status: str) -> bool:
        """The status-checked transition of a suspense credit: True only for the one writer that found it so."""
        done = self.conn.execute(t.suspense_credits.update().where(
            t.suspense_credits.c.seq == seq, t.suspense_credits.c.status == from_status).values(status=status))
        return bool(done.rowcount)

    # --- subscriptions ------------------------------------------------------------------------------------
    SEQ_TABLES: ClassVar[dict[str, sa.Table]] = {
        "subscriptions": t.subscriptions, "suspense": t.suspense_credits, "mint_batches": t.mint_batches,
        "payout_batches": t.payout_batches, "redemptions": t.redemptions, "refunds": rt.refunds,
    }

    def next_seq(self, name: str) -> int:
        """The next sequence number of a flow table (writers are serialised, so max + 1 is safe)."""
        table = self.SEQ_TABLES[name]
        return int(self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.seq), 0))).scalar_one()) + 1

    def add_subscriptions(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(t.subscriptions.insert(), rows)

    def update_subscriptions(self, seqs: Sequence[int], **values: Any) -> None:
        if not seqs:
            return
        stmt = t.subscriptions.update().where(t.subscriptions.c.seq == sa.bindparam("s")).values(
            updated_at_ns=self.now_ns, **values)
        self.conn.execute(stmt, [{"s": s} for s in seqs])

    def subscriptions_still(self, seqs: Sequence[int], statuses: Sequence[str]) -> set[int]:
        """Which of `seqs` are, in this transaction, still in one of `statuses` and in no mint batch. Writers are
        serialised (the ledger's lock row; SQLite's write lock), so what this returns is the claim: a second
        runner that read the same rows before finds them gone."""
        s = t.subscriptions
        out: set[int] = set()
        ids = list(seqs)
        for k in range(0, len(ids), 900):
            rows = self.conn.execute(sa.select(s.c.seq).where(s.c.seq.in_(ids[k : k + 900]),
                                                              s.c.status.in_(list(statuses)),
                                                              s.c.mint_batch.is_(None)))
            out.update(int(r[0]) for r in rows)
        return out

    def transitions_into(self, flow: str, seqs: Sequence[int], to_status: str) -> dict[int, int]:
        """How many times each flow entered `to_status` (e.g. mint attempts of subscriptions)."""
        tr = t.transitions
        out = dict.fromkeys(seqs, 0)
        ids = list(seqs)
        for k in range(0, len(ids), 900):
            rows = self.conn.execute(sa.select(tr.c.flow_seq, sa.func.count()).where(
                tr.c.flow == flow, tr.c.flow_seq.in_(ids[k : k + 900]), tr.c.to_status == to_status,
            ).group_by(tr.c.flow_seq))
            for seq, n in rows:
                out[int(seq)] = int(n)
        return out

    def add_mint_batch(self, fiat: Currency, key: str, credits: int, amount_base_units: int) -> int:
        seq = self.next_seq("mint_batches")
        self.conn.execute(t.mint_batches.insert().values(
            seq=seq, fiat=fiat.value, idempotency_key=key, credits=credits, amount_base_units=amount_base_units,
            status="pending", created_at_ns=self.now_ns, updated_at_ns=self.now_ns))
        return seq

    def set_mint_batch(self, seq: int, status: str, tx_hash: str | None) -> None:
        self.conn.execute(t.mint_batches.update().where(t.mint_batches.c.seq == seq).values(
            status=status, tx_hash=tx_hash, updated_at_ns=self.now_ns))

    def move_mint_batch(self, seq: int, from_status: str, status: str, tx_hash: str | None) -> bool:
        """The status-checked transition (the claim): True only for the one writer that found it `from_status`."""
        done = self.conn.execute(t.mint_batches.update().where(
            t.mint_batches.c.seq == seq, t.mint_batches.c.status == from_status).values(
            status=status, tx_hash=tx_hash, updated_at_ns=self.now_ns))
        return bool(done.rowcount)

    # --- redemptions --------------------------------------------------------------------------------------
    def redemption_by_key(self, key: str) -> Any | None:
        """The redemption recorded under `key`, as this transaction sees it (writers are serialised)."""
        return self.conn.execute(_Q_REDEMPTION_BY_KEY, {"key": key}).first()

    def add_redemption(self, row: Row) -> int:
        seq = int(self.conn.execute(_Q_MAX_REDEMPTION_SEQ).scalar_one()) + 1
        values = {"seq": seq, "updated_at_ns": self.now_ns, "alert_level": 0, **row}
        self.conn.execute(_I_REDEMPTION, values)
        self.added_redemption = SimpleNamespace(**{**_REDEMPTION_COLUMNS_UNSET, **values})
        return seq

    def update_redemption(self, seq: int, **values: Any) -> None:
        self.conn.execute(t.redemptions.update().where(t.redemptions.c.seq == seq).values(
            updated_at_ns=self.now_ns, **values))

    def move_redemption(self, seq: int, from_statuses: Sequence[str], status: str, **values: Any) -> bool:
        """The status-checked transition of one redemption: True only for the one writer that found it so."""
        r = t.redemptions
        done = self.conn.execute(r.update().where(r.c.seq == seq, r.c.status.in_(list(from_statuses)))
                                 .values(status=status, updated_at_ns=self.now_ns, **values))
        return bool(done.rowcount)

    def update_redemptions(self, seqs: Sequence[int], **values: Any) -> None:
        if not seqs:
            return
        stmt = t.redemptions.update().where(t.redemptions.c.seq == sa.bindparam("s")).values(
            updated_at_ns=self.now_ns, **values)
        self.conn.execute(stmt, [{"s": s} for s in seqs])

    def redemptions_still(self, seqs: Sequence[int], status: str) -> set[int]:
        """Which of `seqs` are still in `status` in this (serialised) write transaction: the claim."""
        r = t.redemptions
        out: set[int] = set()
        ids = list(seqs)
        for k in range(0, len(ids), 900):
            rows = self.conn.execute(sa.select(r.c.seq).where(r.c.seq.in_(ids[k : k + 900]), r.c.status == status))
            out.update(int(x[0]) for x in rows)
        return out

    def events_unclaimed(self, keys: Sequence[str]) -> set[str]:
        """Which chain events no flow has claimed yet, in this write transaction."""
        c = t.claimed_events
        taken: set[str] = set()
        ids = list(keys)
        for k in range(0, len(ids), 900):
            taken.update(str(x[0]) for x in self.conn.execute(
                sa.select(c.c.event_key).where(c.c.event_key.in_(ids[k : k + 900]))))
        return {k for k in ids if k not in taken}

    def claim_event(self, event_key: str, outcome: str, flow_seq: int | None) -> None:
        self.conn.execute(t.claimed_events.insert().values(event_key=event_key, outcome=outcome, flow_seq=flow_seq))

    def release_event(self, event_key: str) -> None:
        """Give a claimed chain event back (its flow was reversed): if it is still on chain it can be matched again."""
        self.conn.execute(t.claimed_events.delete().where(t.claimed_events.c.event_key == event_key))

    def add_payout_batch(self, fiat: Currency, message_id: str, execution_date: str) -> int:
        seq = self.next_seq("payout_batches")
        self.conn.execute(t.payout_batches.insert().values(
            seq=seq, fiat=fiat.value, message_id=message_id, created_at_ns=self.now_ns,
            execution_date=execution_date, status="pending"))
        return seq

    def set_payout_batch(self, seq: int, status: str, file_name: str | None) -> None:
        self.conn.execute(t.payout_batches.update().where(t.payout_batches.c.seq == seq).values(
            status=status, file_name=file_name))


    # --- payers and refunds ----------------------------------------------------------------------------
    def record_payers(self, rows: list[Row]) -> None:
        """Who paid each booked credit (name, account, scheme), as the bank's file gave it."""
        if rows:
            self.conn.execute(rt.credit_payers.insert(), rows)

    def move_subscription(self, seq: int, from_statuses: Sequence[str], status: str, reason: str) -> bool:
        """The status-checked transition of one subscription that is in no mint batch: True only for the one
        writer that found it so (a mint run that claimed it first leaves nothing to refund)."""
        s = t.subscriptions
        done = self.conn.execute(s.update().where(s.c.seq == seq, s.c.status.in_(list(from_statuses)),
                                                  s.c.mint_batch.is_(None))
                                 .values(status=status, reason=reason[:300], updated_at_ns=self.now_ns))
        return bool(done.rowcount)

    def add_refund(self, row: Row) -> None:
        self.conn.execute(rt.refunds.insert().values(created_at_ns=self.now_ns, updated_at_ns=self.now_ns, **row))

    def move_refund(self, seq: int, from_statuses: Sequence[str], status: str, **values: Any) -> bool:
        r = rt.refunds
        done = self.conn.execute(r.update().where(r.c.seq == seq, r.c.status.in_(list(from_statuses)))
                                 .values(status=status, updated_at_ns=self.now_ns, **values))
        return bool(done.rowcount)


class SqlIssuanceStore:
    """Reads, and units of work, over the issuance tables."""

    def __init__(self, engine: Engine, ledger: SqlLedger) -> None:
        self.engine = engine
        self.ledger = ledger
        self._local = threading.local()  # the open read connection of `reading()`, per thread
        self._writers = None if engine.dialect.name == "sqlite" else threading.RLock()

    @contextmanager
    def unit_of_work(self, now_ns: int) -> Iterator[SqlIssuanceUow]:
        if self._writers is None:  # SQLite: the engine's writer gate already queues this process's writers
            with self.engine.begin() as conn:
                yield SqlIssuanceUow(conn, self.ledger, now_ns)
            return
        # PostgreSQL: writers serialise on the ledger's lock row. Forty threads all waiting on that row made each
        # commit wake forty backends to fight for it (a few dozen commits a second on two cores); queued here
        # first, one thread per process waits on the row and the others on a lock that wakes one at a time.
        with self._writers, self.engine.begin() as conn:
            yield SqlIssuanceUow(conn, self.ledger, now_ns)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads inside this block share one connection and one snapshot (a request's several lookups pay for
        one pool checkout and one BEGIN instead of one each)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with read_connection(self.engine) as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def _all(self, q: sa.Select[Any], params: dict[str, Any] | None = None) -> list[Any]:
        shared = getattr(self._local, "conn", None)
        if shared is not None:
            return list(shared.execute(q, params))
        with read_connection(self.engine) as conn:
            return list(conn.execute(q, params))

    # --- customers ----------------------------------------------------------------------------------------
    def customer(self, customer_id: str) -> iss.Customer:
        rows = self._all(_Q_CUSTOMER, {"customer_id": customer_id})
        if not rows:
            raise NotFoundError(f"customer {customer_id} not found", code="customer_not_found")
        return _customer(rows[0])

    def customers(self) -> list[iss.Customer]:
        return [_customer(r) for r in self._all(sa.select(t.customers).order_by(t.customers.c.seq))]

    def deposit_references(self) -> dict[str, str]:
        return {r.deposit_reference: r.id for r in self._all(sa.select(t.customers))}

    def bank_accounts(self, customer_id: str | None = None) -> list[iss.VerifiedBankAccount]:
        rows = (self._all(sa.select(t.bank_accounts)) if customer_id is None
                else self._all(_Q_BANK_ACCOUNTS_OF, {"customer_id": customer_id}))
        return [iss.VerifiedBankAccount(r.customer_id, r.account, r.scheme, r.holder_name, Currency(r.currency), r.bic)
                for r in rows]

    def wallets(self, customer_id: str | None = None) -> list[iss.WhitelistedWallet]:
        rows = (self._all(sa.select(t.wallets).order_by(t.wallets.c.verified_at_ns)) if customer_id is None
                else self._all(_Q_WALLETS_OF, {"customer_id": customer_id}))
        return [iss.WhitelistedWallet(r.customer_id, r.address, int(r.verified_at_ns)) for r in rows]

    def coin_config(self, fiat: Currency) -> iss.CoinConfig:
        rows = self._all(_Q_COIN, {"fiat": fiat.value})
        if not rows:
            raise NotFoundError(f"no coin is configured for {fiat}", code="coin_not_configured")
        r = rows[0]
        return iss.CoinConfig(Currency(r.fiat), r.licence_number, r.mainland_approval_reference,
                              int(r.subscription_fee_bps), int(r.redemption_fee_bps))

    # --- flows --------------------------------------------------------------------------------------------
    def subscriptions(self, fiat: Currency | None = None, statuses: Iterable[str] | None = None,
                      limit: int = 1_000, after_seq: int = 0) -> list[Any]:
        if fiat is None and statuses is None:
            return self._all(_Q_SUBSCRIPTIONS_AFTER, {"after_seq": after_seq, "limit": limit})
        q = sa.select(t.subscriptions).where(t.subscriptions.c.seq > after_seq)
        if fiat is not None:
            q = q.where(t.subscriptions.c.fiat == fiat.value)
        if statuses is not None:
            q = q.where(t.subscriptions.c.status.in_(list(statuses)))
        return self._all(q.order_by(t.subscriptions.c.seq).limit(limit))

    def subscription(self, seq: int) -> Any:
        rows = self._all(_Q_SUBSCRIPTION, {"seq": seq})
        if not rows:
            raise NotFoundError(f"subscription {seq} not found", code="subscription_not_found")
        return rows[0]

    def mint_batches(self, status: str | None = None) -> list[Any]:
        q = sa.select(t.mint_batches).order_by(t.mint_batches.c.seq)
        if status is not None:
            q = q.where(t.mint_batches.c.status == status)
        return self._all(q)

    def mint_batch(self, seq: int) -> Any:
        rows = self._all(sa.select(t.mint_batches).where(t.mint_batches.c.seq == seq))
        if not rows:
            raise NotFoundError(f"mint batch {seq} not found", code="mint_batch_not_found")
        return rows[0]

    def batch_subscriptions(self, batch_seq: int) -> list[Any]:
        return self._all(sa.select(t.subscriptions).where(t.subscriptions.c.mint_batch == batch_seq)
                         .order_by(t.subscriptions.c.seq))

    def redemptions(self, fiat: Currency | None = None, statuses: Iterable[str] | None = None,
                    limit: int = 1_000, customer_id: str | None = None, after_seq: int = 0) -> list[Any]:
        q = sa.select(t.redemptions).where(t.redemptions.c.seq > after_seq)
        if fiat is not None:
            q = q.where(t.redemptions.c.fiat == fiat.value)
        if statuses is not None:
            q = q.where(t.redemptions.c.status.in_(list(statuses)))
        if customer_id is not None:
            q = q.where(t.redemptions.c.customer_id == customer_id)
        return self._all(q.order_by(t.redemptions.c.seq).limit(limit))

    def redemption(self, seq: int) -> Any:
        rows = self._all(_Q_REDEMPTION, {"seq": seq})
        if not rows:
            raise NotFoundError(f"redemption {seq} not found", code="redemption_not_found")
        return rows[0]

    def redemption_by_key(self, key: str) -> Any | None:
        rows = self._all(_Q_REDEMPTION_BY_KEY, {"key": key})
        return rows[0] if rows else None

    def payout_batches(self, status: str | None = None) -> list[Any]:
        q = sa.select(t.payout_batches).order_by(t.payout_batches.c.seq)
        if status is not None:
            q = q.where(t.payout_batches.c.status == status)
        return self._all(q)

    def batch_redemptions(self, batch_seq: int) -> list[Any]:
        return self._all(sa.select(t.redemptions).where(t.redemptions.c.payout_batch == batch_seq)
                         .order_by(t.redemptions.c.seq))

    def suspense(self, status: str | None = "open") -> list[Any]:
        q = sa.select(t.suspense_credits).order_by(t.suspense_credits.c.seq)
        if status is not None:
            q = q.where(t.suspense_credits.c.status == status)
        return self._all(q)

    def payer(self, entry_key: str) -> Any | None:
        rows = self._all(sa.select(rt.credit_payers).where(rt.credit_payers.c.entry_key == entry_key))
        return rows[0] if rows else None

    def refunds(self, statuses: Iterable[str] | None = None, limit: int = 1_000) -> list[Any]:
        q = sa.select(rt.refunds).order_by(rt.refunds.c.seq)
        if statuses is not None:
            q = q.where(rt.refunds.c.status.in_(list(statuses)))
        return self._all(q.limit(limit))

    def refund(self, seq: int) -> Any:
        rows = self._all(sa.select(rt.refunds).where(rt.refunds.c.seq == seq))
        if not rows:
            raise NotFoundError(f"refund {seq} not found", code="refund_not_found")
        return rows[0]

    def transitions(self, flow: str, flow_seq: int) -> list[Any]:
        return self._all(_Q_TRANSITIONS, {"flow": flow, "flow_seq": flow_seq})

    def coin_events_present(self, cursor: str, event_keys: Sequence[str]) -> set[str]:
        """Which of the coin events (`tx_hash:log_index`) the indexer holds now: the canonical, confirmed ones
        (a reorganisation removes the events of orphaned blocks)."""
        wanted: dict[str, set[int]] = {}
        for key in event_keys:
            tx_hash, _, index = key.rpartition(":")
            if tx_hash and index.isdigit():
                wanted.setdefault(tx_hash, set()).add(int(index))
        found: set[str] = set()
        hashes = list(wanted)
        ev = chain_events
        for k in range(0, len(hashes), 900):
            rows = self._all(sa.select(ev.c.tx_hash, ev.c.log_index).where(
                ev.c.cursor == cursor, ev.c.tx_hash.in_(hashes[k : k + 900])))
            found.update(f"{r.tx_hash}:{r.log_index}" for r in rows if int(r.log_index) in wanted[r.tx_hash])
        return found

    def unclaimed_transfers_in(self, cursor: str, to_address: str, limit: int = 1_000) -> list[CoinTransferIn]:
        """Indexed coin transfers into `to_address` that no redemption has claimed yet, oldest first."""
        ev = chain_events
        key = sa.func.concat(ev.c.tx_hash, ":", ev.c.log_index) if self.engine.dialect.name != "sqlite" else (
            ev.c.tx_hash + ":" + sa.cast(ev.c.log_index, sa.String))
        q = (sa.select(ev.c.tx_hash, ev.c.log_index, ev.c.sender, ev.c.value_base_units, ev.c.block_number)
             .where((ev.c.cursor == cursor) & (ev.c.event == "Transfer") & (ev.c.receiver == to_address.lower()))
             .where(~sa.exists().where(t.claimed_events.c.event_key == key))
             .order_by(ev.c.block_number, ev.c.log_index).limit(limit))
        return [CoinTransferIn(f"{r.tx_hash}:{r.log_index}", r.sender, int(r.value_base_units), r.tx_hash,
                               int(r.block_number)) for r in self._all(q)]
