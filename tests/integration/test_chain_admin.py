"""Minter administration and rescue have entrances (issue 21 item 1), each maker-checker: a treasury user asks to
set or remove a minter's allowance and two others approve before the master minter's key does it; an admin asks
to return another token sent to a coin's contract by mistake and two other admins approve. Both stores, the
embedded chain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from bauhinia.domain.errors import ForbiddenError, ValidationError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import controls
from bauhinia.services import issuance as svc


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def who(name: str, role: str) -> controls.Actor:
    return controls.Actor(name, frozenset({role}))


def test_a_minter_allowance_needs_two_other_people_then_reaches_the_chain(issuer: Issuer) -> None:
    approvals, chain = issuer.container.approvals, issuer.chain(Currency.CNH)
    new_minter = Account.create().address
    with pytest.raises(ForbiddenError):  # an operator may not ask
        controls.request_chain_control(approvals, who("op", "operator"), "minter_allowance", Currency.CNH, "more",
                                       addresses=[new_minter], amount_base_units=1)
    with pytest.raises(ValidationError):
        controls.request_chain_control(approvals, who("t1", "treasury"), "minter_allowance", Currency.CNH, "more",
                                       addresses=[new_minter])  # no allowance given
    amount = minor_to_base_units(5_000_000_00)
    sub = controls.request_chain_control(approvals, who("t1", "treasury"), "minter_allowance", Currency.CNH,
                                         "a second minting desk", addresses=[new_minter], amount_base_units=amount)
    request = sub.request
    assert request is not None and request.kind == "minter_admin" and request.approvals_required == 2
    assert chain.minter_allowance(new_minter) == (False, 0)
    with pytest.raises(ForbiddenError):
        controls.approve(approvals, request.id, who("t1", "treasury"))
    assert controls.approve(approvals, request.id, who("t2", "treasury")).status == "requested"
    assert chain.minter_allowance(new_minter) == (False, 0)  # one approval is not enough
    done = controls.approve(approvals, request.id, who("a1", "admin"))
    assert done.status == "executed" and done.result["tx_hash"]
    assert chain.minter_allowance(new_minter) == (True, amount)

    removal = controls.request_chain_control(approvals, who("t2", "treasury"), "minter_remove", Currency.CNH,
                                             "desk closed", addresses=[new_minter]).request
    controls.approve(approvals, removal.id, who("t1", "treasury"))
    controls.approve(approvals, removal.id, who("a1", "admin"))
    assert chain.minter_allowance(new_minter) == (False, 0)


def test_a_token_sent_to_the_contract_by_mistake_is_rescued_by_two_admins(issuer: Issuer) -> None:
    ctx, approvals = issuer.ctx, issuer.container.approvals
    hkd, cnh = issuer.chain(Currency.HKD), issuer.chain(Currency.CNH)
    h = issuer.add_holder("kln", "Kowloon Importers Ltd", "024-888-300400-101", fiat=Currency.HKD)
    issuer.fund_gas(h)
    issuer.drop_notification([issuer.deposit(h, 1_000_00, "IN-1")], datetime.now(UTC), fiat=Currency.HKD)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, Currency.HKD).minted == 1
    amount = minor_to_base_units(1_000_00)
    hkd.transfer_as(h.key, cnh.address, amount, idempotency_key="oops")  # BHKD sent to the BCNH contract
    assert hkd.balance_of(cnh.address) == amount and hkd.balance_of(h.wallet) == 0
    with pytest.raises(ForbiddenError):  # treasury may not ask for a rescue
        controls.request_chain_control(approvals, who("t1", "treasury"), "rescue", Currency.CNH, "return",
                                       addresses=[h.wallet], token=hkd.address, amount_base_units=amount)
    request = controls.request_chain_control(approvals, who("a1", "admin"), "rescue", Currency.CNH,
                                             "the customer's BHKD sent to the BCNH contract", addresses=[h.wallet],
                                             token=hkd.address, amount_base_units=amount).request
    controls.approve(approvals, request.id, who("a2", "admin"))
    assert hkd.balance_of(h.wallet) == 0
    assert controls.approve(approvals, request.id, who("a3", "admin")).status == "executed"
    assert hkd.balance_of(h.wallet) == amount and hkd.balance_of(cnh.address) == 0
