"""Compile the Vyper contracts and write their ABI and bytecode to contracts/build/<Name>.json.

Usage: .venv/bin/python tools/compile_contracts.py [--check]

The output is deterministic (sorted keys, fixed compiler version), so the committed artifacts can be compared
with a fresh compile: `--check` exits 1 when they differ (tests/unit/test_contract_artifacts.py
does the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import vyper

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SOURCES = ("StableCoin.vy", "Escrow.vy", "Swap.vy")


def compile_source(path: Path) -> dict[str, object]:
    source = path.read_text(encoding="utf-8")
    out = vyper.compile_code(source, output_formats=["abi", "bytecode", "bytecode_runtime"])
    return {
        "contract_name": path.stem,
        "source_path": f"contracts/{path.name}",
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "compiler": f"vyper {vyper.__version__}",
        "abi": out["abi"],
        "bytecode": out["bytecode"],
        "bytecode_runtime": out["bytecode_runtime"],
    }


def render(artifact: dict[str, object]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed artifacts only")
    args = parser.parse_args(argv)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for name in SOURCES:
        text = render(compile_source(CONTRACTS_DIR / name))
        target = BUILD_DIR / f"{Path(name).stem}.json"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("stale artifacts (run tools/compile_contracts.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
