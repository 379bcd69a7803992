"""Wallet screening adapter: OFAC addresses + issuer blacklist, direct vs indirect exposure."""

from __future__ import annotations

from pathlib import Path

import pytest

from bauhinia.adapters.screening.lists import load_ofac_addresses
from bauhinia.adapters.screening.wallets import WalletScreener, load_blacklist, load_transfers
from bauhinia.domain.compliance import Transfer, WalletDecision
from bauhinia.domain.errors import ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "screening"
CUSTOMER = "0x1111111111111111111111111111111111111111"
BLACK = "0x3333333333333333333333333333333333333333"


@pytest.fixture()
def screener(tmp_path: Path) -> WalletScreener:
    blacklist = tmp_path / "blacklist.txt"
    blacklist.write_text(f"# issuer's own list\n{BLACK},phishing report 2026-01\n", encoding="utf-8")
    return WalletScreener(load_ofac_addresses(FIXTURES), load_blacklist(blacklist))


def test_ofac_eth_address_blocks(screener: WalletScreener) -> None:
    eth = next(a.address for a in load_ofac_addresses(FIXTURES) if a.currency == "ETH")
    assert screener.screen(eth.upper().replace("0X", "0x")).decision is WalletDecision.BLOCK


def test_blacklisted_address_blocks_with_reason(screener: WalletScreener) -> None:
    result = screener.screen(BLACK)
    assert result.decision is WalletDecision.BLOCK and "phishing" in result.reasons[0]


def test_one_hop_alerts_and_clean_is_clear(screener: WalletScreener, tmp_path: Path) -> None:
    transfers = tmp_path / "transfers.csv"
    transfers.write_text(f"from,to,amount\n{BLACK},{CUSTOMER},2500000\n", encoding="utf-8")
    assert screener.screen(CUSTOMER, load_transfers(transfers)).decision is WalletDecision.ALERT
    assert screener.screen(CUSTOMER, [Transfer(CUSTOMER, "0x" + "4" * 40, 1)]).decision is WalletDecision.CLEAR


def test_malformed_inputs_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("0x1234\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="20-byte"):
        load_blacklist(bad)
    transfers = tmp_path / "t.csv"
    transfers.write_text("from,to\nA,B\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="from,to,amount"):
        load_transfers(transfers)
    transfers.write_text("from,to,amount\nA,B,1.5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="whole base units"):
        load_transfers(transfers)


def test_list_screener_port_and_list_version_changes(tmp_path: Path) -> None:
    import shutil

    from bauhinia.adapters.screening.screener import ListScreener

    for name in ("un_small.xml", "ofac_sdn.csv", "ofac_alt.csv", "ofac_sdn_comments.csv"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    first = ListScreener(tmp_path)
    assert first.screen_name("張磊")[0].entity_id == "ofac-16318"
    assert first.screen_wallet(CUSTOMER).decision is WalletDecision.CLEAR
    (tmp_path / "extra.ftm.json").write_text(
        '{"id": "n1", "schema": "Person", "properties": {"name": ["CHAN Tai Man"]}}\n', encoding="utf-8")
    second = ListScreener(tmp_path)
    assert second.list_version != first.list_version
    assert second.screen_name("陳大文")[0].entity_id == "ftm-n1"
