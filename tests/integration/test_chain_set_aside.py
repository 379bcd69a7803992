"""Chain transactions are independent (issue 21 item 2): a journaled transaction the node will not take because its
key cannot pay the gas names the key and the gas it needs, is set aside by the recovery (with an incident) and does
not stop the others; once the key is funded it is sent. Both stores, the embedded revm chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bauhinia.adapters.chain.journal import TxJournal
from bauhinia.adapters.chain.sender import ChainKeyUnfunded, TxSender, gas_needed_wei
from bauhinia.domain.chain import ChainOp
from bauhinia.entrypoints.scenario import Issuer, make_issuer


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def _transfer(sender: TxSender, account: Any, key: str) -> Any:
    return sender.send(account=account, op=ChainOp.TRANSFER, idempotency_key=key, to=account.address, data="0x",
                       gas=21_000, preflight=False)


def test_an_unfunded_key_is_named_and_set_aside_while_the_others_go_on(issuer: Issuer) -> None:
    chain = issuer.chain()
    sender = chain.sender
    poor = Account.create()
    with pytest.raises(ChainKeyUnfunded) as exc:
        _transfer(sender, poor, "poor-1")
    row = sender.journal.get("poor-1")
    assert row is not None and row.state == "submitted" and row.block_number is None  # journaled, not taken
    need = gas_needed_wei(row.raw_tx)
    assert need >= 21_000 and exc.value.sender == poor.address and exc.value.need_wei == need
    assert f"fund {poor.address}" in str(exc.value) and str(need) in str(exc.value)

    # a restarted process: the recovery sets the unfunded one aside and still serves the others
    restarted = TxSender(sender.w3, TxJournal(sender.journal.engine), poll_interval_s=0.0)
    restarted.recover()
    assert [(a.idempotency_key, a.sender, a.gas_needed_wei, a.code) for a in restarted.set_aside] == [
        ("poor-1", poor.address, need, "chain_key_unfunded")]
    assert "fund" in (restarted.journal.get("poor-1").error or "")
    assert _transfer(restarted, chain.keys.minter, "rich-1").succeeded  # the minter's key is not held up

    issuer.container._open_set_aside_incidents(restarted.set_aside)
    issuer.container._open_set_aside_incidents(restarted.set_aside)  # once only
    incidents = [i for i in issuer.container.reserves.list_incidents() if i.kind == "chain_tx_set_aside"]
    assert len(incidents) == 1 and poor.address in incidents[0].summary

    # funded, the same journaled transaction goes at the next recovery
    sender.fund([poor.address], 10**17)
    again = TxSender(sender.w3, TxJournal(sender.journal.engine), poll_interval_s=0.0)
    assert again.recover() == 1 and again.set_aside == []
    assert again.wait_mined("poor-1", 10).succeeded
