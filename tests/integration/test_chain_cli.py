"""`bauhinia chain deploy/status` against the Hardhat node, and the indexer worker's bounded loop."""

from __future__ import annotations

from pathlib import Path

import chain_node
import pytest
from typer.testing import CliRunner

from bauhinia.entrypoints.cli.main import root

pytestmark = pytest.mark.node
hardhat_url = chain_node.hardhat_url  # fixture


def test_deploy_then_status_then_index(hardhat_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAUHINIA_CHAIN_RPC_URL", hardhat_url)
    monkeypatch.setenv("BAUHINIA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BAUHINIA_CHAIN_KEYSTORE_PASSWORD", "test-only")
    monkeypatch.setenv("BAUHINIA_CHAIN_LICENCE_NUMBER", "HKMA-SC-CLI")
    monkeypatch.setenv("BAUHINIA_CHAIN_CONFIRMATIONS", "0")
    monkeypatch.setattr("bauhinia.adapters.chain.keys.SCRYPT_N_DEFAULT", 2**4)
    runner = CliRunner()
    result = runner.invoke(root, ["chain", "deploy", "--currency", "HKD", "--fund-from-node"])
    assert result.exit_code == 0, result.output
    assert "BHKD deployed at 0x" in result.output
    assert (tmp_path / "keystore" / "BHKD-minter.json").exists()
    again = runner.invoke(root, ["chain", "deploy", "--currency", "HKD"])
    assert "already deployed" in again.output
    status = runner.invoke(root, ["chain", "status", "--currency", "HKD"])
    assert status.exit_code == 0, status.output
    assert "HKMA-SC-CLI" in status.output and "not indexed" in status.output

    from bauhinia.entrypoints.workers import indexer as worker

    assert worker.main(["--iterations", "1"]) == 0
    status = runner.invoke(root, ["chain", "status", "--currency", "HKD"])
    assert "not indexed" not in status.output
