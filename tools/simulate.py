"""Seeded fault simulation of the money flows (issue 14, item 6): the real services, the embedded revm chain over
JSON-RPC, crashes at every commit boundary, overlapping runners, reorganisations, lost and dropped transactions,
refusals, and bank files split, duplicated, delayed, truncated, restated and batched; after each scenario the
money is checked from the tables, the chain and the bank folders directly (bauhinia.entrypoints.simulation).

Usage: python tools/simulate.py --seed N --scenarios K [--store sqlite|postgres] [--quick] [--faults a,b,...]
                                [--pg-url URL] [--confirmations N] [--out FILE] [--jobs N] [--verbose]
Scenario i uses seed N+i; a violation prints the one line that reproduces it and the run exits 1.
Writes bench/results/simulation.json (a flat object: scenarios, violations, faults_injected, faults_<kind>, seconds,
store). --quick: small scenarios (3 by default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("BAUHINIA_DEMO", "1")  # a simulation is a demo run: demo licence, accounts and pepper
os.environ.setdefault("BAUHINIA_SCREEN_ISSUANCE", "0")

from bauhinia.entrypoints.simulation import FAULT_KINDS, PG_ADMIN_URL_DEFAULT, STORES, run_simulation

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "simulation.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenarios", type=int)
    ap.add_argument("--store", choices=STORES, default="sqlite")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--faults", default=",".join(FAULT_KINDS),
                    help=f"comma-separated fault kinds (default all: {','.join(FAULT_KINDS)})")
    ap.add_argument("--pg-url", default=os.environ.get("BAUHINIA_TEST_PG_URL", PG_ADMIN_URL_DEFAULT),
                    help="PostgreSQL server (a database is created and dropped per scenario)")
    ap.add_argument("--confirmations", type=int, help="confirmation depth of the node (default: the setting's, 12)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--jobs", type=int, default=1,
                    help="scenarios run at once, each in a worker process (default 1; about 2 per core)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    kinds = tuple(k.strip() for k in args.faults.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        ap.error(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}")
    scenarios = args.scenarios if args.scenarios is not None else (3 if args.quick else 50)
    report = run_simulation(args.seed, scenarios, store=args.store, kinds=kinds, quick=args.quick,
                            pg_admin_url=args.pg_url, confirmations=args.confirmations, verbose=args.verbose,
                            jobs=args.jobs)
    figures = report.figures(args.quick)
    print(json.dumps(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
