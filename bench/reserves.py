"""Reserve benchmarks: proof-of-liabilities tree build and proof verification, three-way reconciliation.

Prints the figures and writes bench/results/reserves.json. `--quick` uses 20,000 holders instead of 1,000,000.
Targets: build 1M leaves < 10 s, verify one proof < 1 ms, reconcile 1M holders < 5 s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bauhinia.domain.proofs import build_sum_tree, hash_holder_id, verify_inclusion
from bauhinia.domain.reconciliation import ReconciliationInput, reconcile

RESULTS = Path(__file__).with_name("results") / "reserves.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 holders instead of 1,000,000")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    n = 20_000 if args.quick else 1_000_000
    salt = bytes(range(32))

    t0 = time.perf_counter()
    leaves = [(hash_holder_id(f"chain:0x{i:040x}", salt), (i % 5_000 + 1) * 1_000_000) for i in range(n)]
    hash_ids_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    tree = build_sum_tree(leaves, snapshot_id="bench", coin="BHKD")
    build_s = time.perf_counter() - t0
    root = tree.root

    proofs = [tree.proof(i) for i in range(0, n, max(1, n // 1_000))]
    t0 = time.perf_counter()
    for p in proofs:
        verify_inclusion(p, root.hash, root.total)
    verify_ms = (time.perf_counter() - t0) * 1_000 / len(proofs)

    holders = {f"0x{i:040x}": (i % 5_000 + 1) * 1_000_000 for i in range(n)}
    chain = dict(holders)
    chain["0x" + "f" * 40] = 1  # one planted break, so the break path is exercised
    total = sum(holders.values())
    data = ReconciliationInput(
        coin="BHKD",
        bank_closing_minor={"HSBC-001": total // 10_000},
        ledger_cash_minor={"HSBC-001": total // 10_000},
        ledger_holder_base_units=holders,
        ledger_total_supply_base_units=total,
        chain_holder_base_units=chain,
        chain_total_supply_base_units=total,
    )
    t0 = time.perf_counter()
    result = reconcile(data)
    reconcile_s = time.perf_counter() - t0
    if result.break_count != 2:
        raise SystemExit(f"expected 2 breaks, found {result.break_count}")

    scale = 1_000_000 / n
    figures = {
        "holders": n,
        "quick": args.quick,
        "pol_hash_ids_s": round(hash_ids_s, 3),
        "pol_build_s": round(build_s, 3),
        "pol_build_1m_s": round(build_s * scale, 3),  # measured at 1M in full mode, extrapolated in quick mode
        "pol_verify_ms": round(verify_ms, 4),
        "reconcile_s": round(reconcile_s, 3),
        "reconcile_1m_s": round(reconcile_s * scale, 3),
        "pol_build_1m_target_s": 10,
        "pol_verify_target_ms": 1,
        "reconcile_1m_target_s": 5,
    }
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
