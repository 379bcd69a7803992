"""The ledger's store adapter: runs the pure ledger core inside one database transaction per batch.

Writers serialise on the `ledger_meta` row (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE), as
TigerBeetle serialises on its single core. Each commit bumps `ledger_meta.version`; the adapter keeps the
accounts it has seen (with balances) in memory, tagged with that version, and trusts them only while the version
it reads under the lock is the one it last wrote. Any other writer (another process, or a batch that ran inside
a caller's transaction) makes the cache stale and it is reloaded. So the hot path reads from the database only
the transfers whose ids the batch reuses, and writes the batch with one bulk insert and one bulk update.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.db import read_connection
from bauhinia.domain import ledger as core
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.ledger import (
    Account,
    AccountKind,
    Balance,
    HistoryEntry,
    InvariantReport,
    PendingState,
    Transfer,
    TransferRecord,
)

ACCOUNT_COLS = (
    "id, currency, kind, flags, code, reference, closed, "
    "debits_pending, debits_posted, credits_pending, credits_posted"
)
TRANSFER_COLS = (
    "id, debit_account_id, credit_account_id, amount, currency, code, reference, flags, pending_id, "
    "timeout_s, timestamp"
)
PENDING_COLS = "id, debit_account_id, credit_account_id, amount, currency, status, amount_posted, expires_at_ns"
# Transfers past this many since the last compaction are moved into the account and reference indexes in bulk.
COMPACTION_THRESHOLD_TRANSFERS = 65_536
INDEXED_UNTIL = "(SELECT indexed_until FROM ledger_meta WHERE id = 1)"


@dataclass(frozen=True, slots=True)
class AccountView:
    account: Account
    balance: Balance

    @property
    def posted(self) -> int:
        return self.balance.posted_for(self.account.kind)

    @property
    def available(self) -> int:
        return self.balance.available_for(self.account.kind)


def _row_to_account(r: Sequence[object]) -> tuple[Account, Balance]:
    acc = Account(
        int(r[0]),  # type: ignore[call-overload]
        str(r[1]),
        AccountKind(r[2]),
        int(r[3]),  # type: ignore[call-overload]
        int(r[4]),  # type: ignore[call-overload]
        r[5] if r[5] is None else str(r[5]),
        bool(r[6]),
    )
    return acc, Balance(int(r[7]), int(r[8]), int(r[9]), int(r[10]))  # type: ignore[call-overload]


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    """Writers of one SqlLedger take its lock: the balance cache is shared by the threads that use it."""

    @functools.wraps(method)
    def wrapper(self: SqlLedger, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class SqlLedger:
    """The ledger on SQLite or PostgreSQL. Thread-safe: writes through one instance are serialised (they are
    serialised by the database's writer lock anyway)."""

    def __init__(self, engine: Engine, now_ns: Callable[[], int]) -> None:
        self.engine = engine
        self.now_ns = now_ns
        self.sqlite = engine.dialect.name == "sqlite"
        self._p = "?" if self.sqlite else "%s"
        self._accounts: dict[int, Account] = {}
        self._balances: dict[int, Balance] = {}
        self._version: int | None = None
        self._mutex = threading.RLock()

    # ------------------------------------------------------------------ helpers
    def _in(self, column: str) -> str:
        """A `column IN <ids>` predicate taking one parameter: a JSON array (SQLite) or an array (PG)."""
        if self.sqlite:
            return f"{column} IN (SELECT value FROM json_each(?))"
        return f"{column} = ANY(%s)"

    def _ids_param(self, ids: Iterable[int]) -> object:
        return json.dumps(list(ids)) if self.sqlite else list(ids)

    def _lock(self, conn: sa.Connection) -> tuple[int, int]:
        """Take the ledger's writer lock; return (version, last_timestamp). Drops a stale cache."""
        sql = "SELECT version, last_timestamp FROM ledger_meta WHERE id = 1"
        if not self.sqlite:
            sql += " FOR UPDATE"
        row = conn.exec_driver_sql(sql).one()
        version, last_ts = int(row[0]), int(row[1])
        if version != self._version:
            self._accounts.clear()
            self._balances.clear()
            self._version = version
        return version, last_ts

    def _bump(self, conn: sa.Connection, version: int, last_ts: int, new_transfers: int = 0) -> int:
        p = self._p
        row = conn.exec_driver_sql(
            f"UPDATE ledger_meta SET version = {p}, last_timestamp = {p}, unindexed_count = unindexed_count + {p} "
            "WHERE id = 1 RETURNING unindexed_count",
            (version + 1, last_ts, new_transfers),
        ).one()
        if int(row[0]) >= self.compaction_threshold:
            self._compact(conn)
        return version + 1

    compaction_threshold = COMPACTION_THRESHOLD_TRANSFERS

    def _compact(self, conn: sa.Connection) -> None:
        """Move the transfers written since the last compaction into the account and reference indexes.

        One sorted bulk insert per index touches each index page once per compaction instead of once per
        transfer; readers see either the old or the new `indexed_until` and scan the tail past it.
        """
        conn.exec_driver_sql(
            "INSERT INTO ledger_postings (account_id, timestamp) "
            f"SELECT debit_account_id, timestamp FROM ledger_transfers WHERE timestamp > {INDEXED_UNTIL} "
            f"UNION ALL SELECT credit_account_id, timestamp FROM ledger_transfers WHERE timestamp > {INDEXED_UNTIL} "
            "ORDER BY 1, 2"
        )
        conn.exec_driver_sql(
            "INSERT INTO ledger_references (reference, timestamp) "
            f"SELECT reference, timestamp FROM ledger_transfers WHERE timestamp > {INDEXED_UNTIL} "
            "AND reference IS NOT NULL ORDER BY 1, 2"
        )
        conn.exec_driver_sql(
            "UPDATE ledger_meta SET indexed_until = last_timestamp, unindexed_count = 0 WHERE id = 1"
        )

    @_serialised
    def compact(self) -> None:
        """Compact now (e.g. before a report); idempotent."""
        with self.engine.begin() as conn:
            self._lock(conn)
            self._compact(conn)

    def _load_accounts(self, conn: sa.Connection, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self._accounts and isinstance(i, int) and 0 < i < 2**63]
        if not missing:
            return
        rows = conn.exec_driver_sql(
            f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE {self._in('id')}", (self._ids_param(missing),)
        ).all()
        for r in rows:
            acc, bal = _row_to_account(r)
            self._accounts[acc.id] = acc
            self._balances[acc.id] = bal

    # ------------------------------------------------------------------ accounts
    @_serialised
    def create_accounts(self, batch: Sequence[Account]) -> list[str]:
        """Create accounts; one result per account ("ok", "exists" or an error code)."""
        with self.engine.begin() as conn:
            version, last_ts = self._lock(conn)
            ids = {a.id for a in batch if isinstance(a.id, int) and 0 < a.id < 2**63}
            self._load_accounts(conn, ids)
            outcome = core.create_accounts(batch, self._accounts)
            if outcome.batch_error:
                raise ValidationError(f"account batch refused: {outcome.batch_error}", code=outcome.batch_error)
            if outcome.created:
                ts = max(self.now_ns(), last_ts + 1)
                rows = []
                for a in outcome.created:
                    rows.append((a.id, a.currency, a.kind.value, a.flags, a.code, a.reference, False, ts))
                p = self._p
                conn.exec_driver_sql(
                    f"INSERT INTO ledger_accounts (id, currency, kind, flags, code, reference, closed, "
                    f"debits_pending, debits_posted, credits_pending, credits_posted, timestamp) "
                    f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, 0, 0, 0, 0, {p})",
                    rows,
                )
                new_version = self._bump(conn, version, ts)
        if outcome.created:
            for a in outcome.created:
                self._accounts[a.id] = a
                self._balances[a.id] = core.ZERO_BALANCE
            self._version = new_version
        return outcome.results

    @_serialised
    def close_account(self, account_id: int) -> None:
        """Close an account: it takes no new postings. Refused while pending transfers hold funds on it."""
        with self.engine.begin() as conn:
            version, last_ts = self._lock(conn)
            self._load_accounts(conn, {account_id})
            acc = self._accounts.get(account_id)
            if acc is None:
                raise NotFoundError(f"account {account_id} not found", code="account_not_found")
            bal = self._balances[account_id]
            if bal.debits_pending or bal.credits_pending:
                raise ConflictError(
                    f"account {account_id} has pending transfers; post or void them first",
                    code="account_has_pending_transfers",
                )
            p = self._p
            conn.exec_driver_sql(f"UPDATE ledger_accounts SET closed = {p} WHERE id = {p}", (True, account_id))
            self._bump(conn, version, last_ts)
        self._version = None  # reload on next use

    # ------------------------------------------------------------------ transfers
    @_serialised
    def create_transfers(self, batch: Sequence[Transfer]) -> list[str]:
        """Create a batch of transfers in one transaction; one result per transfer."""
        with self.engine.begin() as conn:
            outcome, new_version = self._create_transfers(conn, batch)
        self._balances.update(outcome.balances)
        self._version = new_version
        return outcome.results

    def _check_batch(self, batch: Sequence[Transfer]) -> None:
        if not batch:
            raise ValidationError("transfer batch is empty", code=core.BatchError.EMPTY.value)
        if len(batch) > core.transfer_batch_size_max:
            raise ValidationError(
                f"transfer batch of {len(batch)} exceeds the limit of {core.transfer_batch_size_max}",
                code=core.BatchError.TOO_LARGE.value,
            )

    @staticmethod
    def _batch_keys(batch: Sequence[Transfer]) -> tuple[list[int], set[int], list[int]]:
        ids: list[int] = []
        account_ids: set[int] = set()
        pending_ids: list[int] = []
        for t in batch:
            if isinstance(t.id, int) and 0 < t.id < 2**63:
                ids.append(t.id)
            account_ids.add(t.debit_account_id)
            account_ids.add(t.credit_account_id)
            if t.pending_id and isinstance(t.pending_id, int) and 0 < t.pending_id < 2**63:
                pending_ids.append(t.pending_id)
        return ids, account_ids, pending_ids

    @_serialised
    def create_transfers_in(self, conn: sa.Connection, batch: Sequence[Transfer]) -> list[str]:
        """The same, inside a transaction the caller owns (for entries committed with other state)."""
        outcome, _ = self._create_transfers(conn, batch)
        self._version = None  # the caller may still roll back: trust nothing cached
        return outcome.results

    def _create_transfers(
        self, conn: sa.Connection, batch: Sequence[Transfer]
    ) -> tuple[core.TransferBatchOutcome, int | None]:
        self._check_batch(batch)
        version, last_ts = self._lock(conn)
        ids, account_ids, pending_ids = self._batch_keys(batch)
        existing = self._existing(conn, ids)
        pending = self._pending(conn, pending_ids) if pending_ids else {}
        for pst in pending.values():
            account_ids.add(pst.debit_account_id)
            account_ids.add(pst.credit_account_id)
        self._load_accounts(conn, account_ids)
        outcome = core.apply_transfers(
            batch, self._accounts, self._balances, existing, pending, self.now_ns(), last_ts
        )
        if not outcome.records:
            return outcome, version
        self._write(conn, outcome)
        return outcome, self._bump(conn, version, outcome.last_timestamp, len(outcome.records))

    def _existing(self, conn: sa.Connection, ids: list[int]) -> dict[int, TransferRecord]:
        if not ids:
            return {}
        rows = conn.exec_driver_sql(
            f"SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE {self._in('id')}", (self._ids_param(ids),)
        ).all()
        return {int(r[0]): TransferRecord(*r) for r in rows}

    def _pending(self, conn: sa.Connection, ids: list[int]) -> dict[int, PendingState]:
        rows = conn.exec_driver_sql(
            f"SELECT {PENDING_COLS} FROM ledger_pending WHERE {self._in('id')}", (self._ids_param(ids),)
        ).all()
        return {int(r[0]): PendingState(*r) for r in rows}

    def _write(self, conn: sa.Connection, outcome: core.TransferBatchOutcome) -> None:
        p = self._p
        dbapi = conn.connection.driver_connection
        if self.sqlite:
            cur = dbapi.cursor()  # type: ignore[union-attr]
            cur.executemany(
                f"INSERT INTO ledger_transfers ({TRANSFER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                outcome.records,
            )
            cur.executemany(
                "UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, "
                "credits_posted = ? WHERE id = ?",
                [(b[0], b[1], b[2], b[3], k) for k, b in outcome.balances.items()],
            )
        else:
            cur = dbapi.cursor()  # type: ignore[union-attr]
            with cur.copy(f"COPY ledger_transfers ({TRANSFER_COLS}) FROM STDIN") as copy:
                for rec in outcome.records:
                    copy.write_row(rec)
            items = list(outcome.balances.items())
            cur.execute(
                "UPDATE ledger_accounts AS a SET debits_pending = u.dp, debits_posted = u.dpo, "
                "credits_pending = u.cp, credits_posted = u.cpo "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS u(id, dp, dpo, cp, cpo) WHERE a.id = u.id",
                (
                    [k for k, _ in items],
                    [b[0] for _, b in items],
                    [b[1] for _, b in items],
                    [b[2] for _, b in items],
                    [b[3] for _, b in items],
                ),
            )
        if outcome.pending_changes:
            conn.exec_driver_sql(
                f"INSERT INTO ledger_pending ({PENDING_COLS}) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, amount_posted = excluded.amount_posted",
                [tuple(s) for s in outcome.pending_changes.values()],
            )

    @_serialised
    def expire_pending(self, limit: int = core.transfer_batch_size_max) -> int:
        """Release pending transfers whose timeout has passed. Returns how many were released."""
        now = self.now_ns()
        with self.engine.begin() as conn:
            version, last_ts = self._lock(conn)
            p = self._p
            rows = conn.exec_driver_sql(
                f"SELECT {PENDING_COLS} FROM ledger_pending WHERE status = 'pending' AND expires_at_ns > 0 "
                f"AND expires_at_ns <= {p} ORDER BY expires_at_ns LIMIT {p}",
                (now, limit),
            ).all()
            if not rows:
                return 0
            due = [PendingState(*r) for r in rows]
            self._load_accounts(conn, {d.debit_account_id for d in due} | {d.credit_account_id for d in due})
            outcome = core.expire_pending(due, self._accounts, self._balances, now, last_ts)
            self._write(conn, outcome)
            new_version = self._bump(conn, version, outcome.last_timestamp, len(outcome.records))
        self._balances.update(outcome.balances)
        self._version = new_version
        return len(outcome.records)

    # ------------------------------------------------------------------ queries
    def lookup_accounts(self, ids: Iterable[int]) -> list[AccountView]:
        wanted = list(ids)
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE {self._in('id')} ORDER BY id",
                (self._ids_param(wanted),),
            ).all()
        return [AccountView(*_row_to_account(r)) for r in rows]

    def account(self, account_id: int) -> AccountView:
        found = self.lookup_accounts([account_id])
        if not found:
            raise NotFoundError(f"account {account_id} not found", code="account_not_found")
        return found[0]

    def accounts_by_reference(self, reference: str) -> list[AccountView]:
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE reference = {self._p} ORDER BY id",
                (reference,),
            ).all()
        return [AccountView(*_row_to_account(r)) for r in rows]

    def lookup_transfers(self, ids: Iterable[int]) -> list[TransferRecord]:
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE {self._in('id')} ORDER BY timestamp",
                (self._ids_param(list(ids)),),
            ).all()
        return [TransferRecord(*r) for r in rows]

    def transfers_by_reference(self, reference: str) -> list[TransferRecord]:
        p = self._p
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE timestamp IN "
                f"(SELECT timestamp FROM ledger_references WHERE reference = {p} AND timestamp <= {INDEXED_UNTIL}) "
                f"UNION ALL SELECT {TRANSFER_COLS} FROM ledger_transfers "
                f"WHERE timestamp > {INDEXED_UNTIL} AND reference = {p} ORDER BY 11",
                (reference, reference),
            ).all()
        return [TransferRecord(*r) for r in rows]

    def pending_state(self, pending_id: int) -> PendingState:
        with read_connection(self.engine) as conn:
            found = self._pending(conn, [pending_id])
        if pending_id not in found:
            raise NotFoundError(f"pending transfer {pending_id} not found", code="pending_transfer_not_found")
        return found[pending_id]

    def history(
        self, account_id: int, *, until_timestamp: int | None = None, limit: int | None = None
    ) -> list[HistoryEntry]:
        """The account's transfers in time order with its balances after each one."""
        p = self._p
        until = until_timestamp if until_timestamp is not None else 2**63 - 1
        with read_connection(self.engine) as conn:
            # One statement, so PostgreSQL reads `indexed_until` and both branches from the same snapshot.
            rows = conn.exec_driver_sql(
                f"SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE timestamp IN "
                f"(SELECT timestamp FROM ledger_postings WHERE account_id = {p} AND timestamp <= {p} "
                f"AND timestamp <= {INDEXED_UNTIL}) "
                f"UNION ALL SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE timestamp > {INDEXED_UNTIL} "
                f"AND timestamp <= {p} AND (debit_account_id = {p} OR credit_account_id = {p}) ORDER BY 11",
                (account_id, until, until, account_id, account_id),
            ).all()
            records = [TransferRecord(*r) for r in rows]
            pids = {r.pending_id for r in records if r.pending_id}
            held = (
                {pid: st.amount for pid, st in self._pending(conn, list(pids)).items()} if pids else {}
            )
        entries = core.account_history(account_id, records, held)
        return entries[-limit:] if limit else entries

    def balance_as_of(self, account_id: int, timestamp: int) -> Balance:
        """The account's balances right after the last transfer at or before `timestamp` (ns)."""
        self.account(account_id)
        entries = self.history(account_id, until_timestamp=timestamp)
        return entries[-1].balance if entries else core.ZERO_BALANCE

    def totals(self) -> dict[str, Balance]:
        """Sum of each balance component per currency."""
        return self.check_invariants().totals_by_currency

    def check_invariants(self) -> InvariantReport:
        """Recompute every balance from the transfers and check the ledger's invariants over the whole store."""
        with read_connection(self.engine) as conn:
            accounts: dict[int, Account] = {}
            stored: dict[int, Balance] = {}
            for r in conn.exec_driver_sql(f"SELECT {ACCOUNT_COLS} FROM ledger_accounts"):
                acc, bal = _row_to_account(r)
                accounts[acc.id] = acc
                stored[acc.id] = bal
            replay: dict[int, list[int]] = {}

            def add(rows: Iterable[Sequence[int]], slot: int) -> None:
                for aid, total in rows:
                    replay.setdefault(int(aid), [0, 0, 0, 0])[slot] += int(total)

            posted = f"(flags & {core.F_PENDING | core.F_VOID}) = 0"
            add(conn.exec_driver_sql(
                f"SELECT debit_account_id, SUM(amount) FROM ledger_transfers WHERE {posted} GROUP BY 1"), 1)
            add(conn.exec_driver_sql(
                f"SELECT credit_account_id, SUM(amount) FROM ledger_transfers WHERE {posted} GROUP BY 1"), 3)
            add(conn.exec_driver_sql(
                "SELECT debit_account_id, SUM(amount) FROM ledger_pending WHERE status = 'pending' GROUP BY 1"), 0)
            add(conn.exec_driver_sql(
                "SELECT credit_account_id, SUM(amount) FROM ledger_pending WHERE status = 'pending' GROUP BY 1"), 2)
            n_transfers = int(conn.exec_driver_sql("SELECT COUNT(*) FROM ledger_transfers").scalar_one())
            orphans = int(conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM ledger_pending p WHERE NOT EXISTS "
                f"(SELECT 1 FROM ledger_transfers t WHERE t.id = p.id AND (t.flags & {core.F_PENDING}) <> 0)"
            ).scalar_one())
        replayed = {k: Balance(*v) for k, v in replay.items()}
        report = core.check_invariants(accounts, stored, replayed, n_transfers)
        if orphans:
            report.problems.append(f"{orphans} pending state rows without their pending transfer")
        return report
