"""The naive baseline the ledger bench compares against: one SQL transaction per transfer, checks row by row.

This is how a ledger is usually first written: for each transfer, BEGIN, read both accounts, check the
currency and the balance flag, insert the transfer, update both balances, COMMIT. Same durable settings
(SQLite WAL, synchronous=FULL) and the same schema as the real ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bauhinia.domain.ledger import DR_LIMIT, Transfer


def run_naive(path: str, transfers: Sequence[Transfer], now_ns: int) -> tuple[int, int]:
    """Apply `transfers` one transaction each; return (accepted, rejected)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    ok = rejected = 0
    ts = now_ns
    for t in transfers:
        db.execute("BEGIN IMMEDIATE")
        dr = db.execute(
            "SELECT currency, flags, debits_pending, debits_posted, credits_posted FROM ledger_accounts "
            "WHERE id = ?",
            (t.debit_account_id,),
        ).fetchone()
        cr = db.execute("SELECT currency FROM ledger_accounts WHERE id = ?", (t.credit_account_id,)).fetchone()
        exists = db.execute("SELECT 1 FROM ledger_transfers WHERE id = ?", (t.id,)).fetchone()
        if (
            dr is None
            or cr is None
            or exists
            or dr[0] != t.currency
            or cr[0] != t.currency
            or t.amount <= 0
            or (dr[1] & DR_LIMIT and dr[2] + dr[3] + t.amount > dr[4])
        ):
            db.execute("ROLLBACK")
            rejected += 1
            continue
        ts += 1
        db.execute(
            "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, code, "
            "reference, flags, pending_id, timeout_s, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)",
            (t.id, t.debit_account_id, t.credit_account_id, t.amount, t.currency, t.code, t.reference, ts),
        )
        db.execute(
            "UPDATE ledger_accounts SET debits_posted = debits_posted + ? WHERE id = ?",
            (t.amount, t.debit_account_id),
        )
        db.execute(
            "UPDATE ledger_accounts SET credits_posted = credits_posted + ? WHERE id = ?",
            (t.amount, t.credit_account_id),
        )
        db.execute("COMMIT")
        ok += 1
    db.close()
    return ok, rejected
