"""Trade settlement on a JSON-RPC node (Hardhat): the container deploys the escrow and swap contracts once per
chain with the relayer/treasury/agent keys in the keystore, a restarted process finds the same ones, and the
CLI's coin-moving steps run an invoice through escrow (the importer's key from its keystore file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chain_node
import pytest
from eth_account import Account
from typer.testing import CliRunner

from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.domain import settlement as st
from bauhinia.domain.errors import BauhiniaError
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.cli.main import root
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as isvc

hardhat_url = chain_node.hardhat_url  # fixture
pytestmark = [pytest.mark.node, pytest.mark.slow]


def test_node_wiring_and_cli_escrow(hardhat_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("BAUHINIA_CHAIN_RPC_URL", hardhat_url), ("BAUHINIA_DATA_DIR", str(tmp_path)),
                        ("BAUHINIA_CHAIN_KEYSTORE_PASSWORD", "test-only"), ("BAUHINIA_CHAIN_CONFIRMATIONS", "0"),
                        ("BAUHINIA_CHAIN_DEV_FUNDING", "true"), ("BAUHINIA_TRADE_KEY_PASSWORD", "party-pw")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("bauhinia.adapters.chain.keys.SCRYPT_N_DEFAULT", 2**4)
    issuer = make_issuer(tmp_path, chain_rpc_url=hardhat_url, chain_dev_funding=True)
    sc = issuer.container.settlement.chain
    assert (tmp_path / "keystore" / "SETTLEMENT-relayer.json").exists()
    restarted = Container(Settings()).settlement.chain
    assert restarted.addresses() == sc.addresses()
    assert restarted.treasury.address == sc.treasury.address

    exporter = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    importer = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(exporter, importer)
    issuer.drop_notification([issuer.deposit(importer, 100_000_00, "IN-1")], datetime.now(UTC))
    isvc.ingest_bank_files(issuer.ctx)
    assert isvc.run_subscriptions(issuer.ctx, Currency.CNH).minted == 1
    keyfile = tmp_path / "importer.json"
    keyfile.write_text(json.dumps(Account.encrypt(importer.key.key, "party-pw", iterations=2**4)))

    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(root, ["trade", *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    cli("party", "szx-hk", "--country", "CN", "--wallet", exporter.wallet)
    cli("party", "kln-imp", "--country", "HK", "--wallet", importer.wallet)
    bl, pl = st.document_hash(b"B/L 1"), st.document_hash(b"PL 1")
    due = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    cli("invoice", "issue", "INV-NODE-1", "--exporter", "szx-hk", "--importer", "kln-imp", "--currency", "CNH",
        "--due", due, "--item", "LED panels|10|40000.00", "--bill-of-lading-hash", bl, "--packing-list-hash", pl)
    cli("invoice", "accept", "INV-NODE-1")
    assert "state funded" in cli("invoice", "fund", "INV-NODE-1", "--keystore", str(keyfile))
    cnh = issuer.ctx.chains[Currency.CNH]
    before = (cnh.balance_of(exporter.wallet), cnh.balance_of(sc.escrow_addresses[Currency.BCNH]))
    wrong = runner.invoke(root, ["trade", "invoice", "release", "INV-NODE-1", "--documents-hash", "ab" * 32])
    assert isinstance(wrong.exception, BauhiniaError) and wrong.exception.code == "documents_mismatch"
    assert (cnh.balance_of(exporter.wallet), cnh.balance_of(sc.escrow_addresses[Currency.BCNH])) == before
    assert "state released" in cli("invoice", "release", "INV-NODE-1", "--documents-hash",
                                   st.documents_commitment(bl, pl))
    assert cnh.balance_of(exporter.wallet) == before[0] + 40_000 * 10**6
    bad = runner.invoke(root, ["trade", "swap", "Q-none"])
    assert isinstance(bad.exception, BauhiniaError) and bad.exception.code == "quote_not_found"
