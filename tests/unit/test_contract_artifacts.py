"""The committed ABI and bytecode in contracts/build/ must be what the Vyper source compiles to."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _compiler() -> object:
    path = ROOT / "tools" / "compile_contracts.py"
    spec = importlib.util.spec_from_file_location("compile_contracts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_artifact_matches_source() -> None:
    tool = _compiler()
    fresh = tool.render(tool.compile_source(ROOT / "contracts" / "StableCoin.vy"))  # type: ignore[attr-defined]
    committed = (ROOT / "contracts" / "build" / "StableCoin.json").read_text(encoding="utf-8")
    if fresh != committed:
        raise AssertionError("contracts/build/StableCoin.json is stale: run tools/compile_contracts.py")


def test_artifact_has_the_interface_the_adapter_uses() -> None:
    artifact = json.loads((ROOT / "contracts" / "build" / "StableCoin.json").read_text(encoding="utf-8"))
    names = {item.get("name") for item in artifact["abi"]}
    for needed in ("mint", "batchMint", "burn", "freeze", "freezeMany", "pause", "attestReserve", "permit",
                   "transferWithAuthorization", "receiveWithAuthorization", "cancelAuthorization",
                   "Transfer"):
        assert needed in names
    assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 1000
