"""Mutation check of the requirements register: switch off one control at a time and show that at least one of
the requirement's tests fails.

For each requirement, runs `pytest -p _mutations` on that requirement's listed tests (SQLite only, to bound the
time) first unmutated (they must pass), then with BAUHINIA_MUTATE=<id> (at least one must fail). The mutants are
in tests/_mutations.py. Prints the table and writes docs/mutation_check.json.

    .venv/bin/python tools/mutation_check.py                    # every requirement
    .venv/bin/python tools/mutation_check.py --requirement AML-CDD-THRESHOLD --out /tmp/m.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from _mutations import CONTRACT_MUTANTS, MUTANTS  # noqa: E402
from bauhinia.domain import regulatory as reg  # noqa: E402

run_timeout_s = 600
FAILED_LINE = re.compile(r"^FAILED (\S+)", re.M)


def run(tests: list[str], mutate: str | None) -> tuple[int, list[str], float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    env.pop("BAUHINIA_MUTATE", None)
    if mutate:
        env["BAUHINIA_MUTATE"] = mutate
    cmd = [sys.executable, "-m", "pytest", "-p", "_mutations", "-p", "no:cacheprovider", "-q", "-rf", "--no-header",
           "-k", "not postgres", *tests]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=run_timeout_s, check=False)
    return proc.returncode, FAILED_LINE.findall(proc.stdout), time.monotonic() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requirement", action="append", help="only these ids (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "mutation_check.json")
    args = ap.parse_args()
    register = reg.parse_register(json.loads((ROOT / "src" / "bauhinia" / "compliance_register.json").read_text()))
    ids = args.requirement or list(register.ids)
    rows = []
    started = time.monotonic()
    for rid in ids:
        r = register.get(rid)
        if rid not in MUTANTS and rid not in CONTRACT_MUTANTS:
            rows.append({"requirement": rid, "control": r.controls[0], "mutated_behaviour": "(no mutant)",
                         "baseline": "n/a", "tests_failed": [], "killed": False, "seconds": 0.0})
            continue
        base_code, base_failed, base_s = run(list(r.tests), None)
        code, failed, s = run(list(r.tests), rid)
        rows.append({"requirement": rid, "control": r.controls[0], "mutated_behaviour": r.mutation,
                     "baseline": "pass" if base_code == 0 else f"FAIL ({', '.join(base_failed)})",
                     "tests_failed": failed, "killed": base_code == 0 and code != 0 and bool(failed),
                     "seconds": round(base_s + s, 1)})
        row = rows[-1]
        print(f"{rid:<22} {'KILLED' if row['killed'] else 'SURVIVED':<8} {len(failed)} test(s) failed "
              f"({row['seconds']:.0f} s)", flush=True)
    total_s = time.monotonic() - started
    print()
    print(f"{'requirement':<22} {'control':<48} {'mutated behaviour':<60} tests failed")
    for row in rows:
        failed = ", ".join(t.split("::", 1)[1] for t in row["tests_failed"]) or "NONE"
        print(f"{row['requirement']:<22} {row['control']:<48} {row['mutated_behaviour'][:58]:<60} {failed}")
    killed = sum(1 for row in rows if row["killed"])
    print(f"\n{killed} of {len(rows)} mutants killed in {total_s:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"mutants_total": len(rows), "mutants_killed": killed,
                                    "seconds_total": round(total_s, 1), "rows": rows}, indent=2) + "\n")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
