"""Child process for the crash test: posts deterministic batches forever (until killed) and prints each
committed batch number. Usage: python ledger_crash_child.py DB_URL FIRST_BATCH LAST_BATCH"""

from __future__ import annotations

import sys
import time

from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.adapters.store.ledger_store import SqlLedger
from bauhinia.domain.ledger import Account, AccountFlags, AccountKind, Transfer, TransferFlags

ACCOUNTS = 20
BATCH = 50


def batch(k: int) -> list[Transfer]:
    """Batch k, all of whose transfers succeed: deposits from the bank, a linked two-leg entry, payments from
    the customers funded in this batch, and a pending hold."""
    base = 1_000_000 + k * 1_000
    funded = [2 + (k + j) % ACCOUNTS for j in range(10)]
    out = [Transfer(base + j, 1, funded[j], 10_000, "HKD", code=1, reference=f"b{k}") for j in range(10)]
    linked = int(TransferFlags.LINKED)
    out.append(Transfer(base + 100, 1, funded[0], 500, "HKD", flags=linked, reference=f"b{k}"))
    out.append(Transfer(base + 101, funded[0], funded[1], 500, "HKD", reference=f"b{k}"))
    for j in range(BATCH - len(out) - 1):
        payer = funded[j % 10]
        payee = 2 + (k + 10 + j % 10) % ACCOUNTS
        out.append(Transfer(base + 200 + j, payer, payee, 1 + (k + j) % 200, "HKD", code=2))
    out.append(Transfer(base + 900, funded[2], 1, 10, "HKD", flags=int(TransferFlags.PENDING)))
    return out


def accounts() -> list[Account]:
    dr = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    return [Account(1, "HKD", AccountKind.ASSET)] + [
        Account(i, "HKD", AccountKind.LIABILITY, dr) for i in range(2, ACCOUNTS + 2)
    ]


def main() -> None:
    url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    engine = make_engine(url)
    migrate(engine)
    ledger = SqlLedger(engine, time.time_ns)
    ledger.create_accounts(accounts())
    for k in range(first, last):
        ledger.create_transfers(batch(k))
        print(k, flush=True)


if __name__ == "__main__":
    main()
