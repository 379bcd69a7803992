"""Escrow.vy: lock (approval, EIP-2612 permit, EIP-3009 authorisation), release against the locked document
hash, refund after expiry, disputes decided by the agent. Every refusal leaves every balance unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boa
import pytest
from contract_env import UNIT, actors, deploy_coin, mint, sign_authorization, sign_permit
from eth_utils import keccak
from settlement_contract_env import balances, escrow_deployer

A = actors()
IMPORTER, EXPORTER, AGENT = A.alice, A.bob, A.carol
DOCS = keccak(b"bill of lading 42 | packing list 42")
OTHER_DOCS = keccak(b"bill of lading 43 | packing list 43")
INVOICE = keccak(b"INV-2025-0001")
DAY_S = 24 * 3600
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def base() -> tuple[Any, Any]:
    coin = deploy_coin(A)
    for holder in (IMPORTER.address, EXPORTER.address):
        mint(coin, A, holder, 1_000 * UNIT)
    escrow = escrow_deployer().deploy(coin.address)
    return coin, escrow


@pytest.fixture()
def env(base: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
    with boa.env.anchor():
        yield base


def holders(escrow: Any) -> list[str]:
    return [IMPORTER.address, EXPORTER.address, AGENT.address, escrow.address, A.stranger]


def events(contract: Any, name: str) -> list[Any]:
    """The named events of the contract's last transaction (read right after it)."""
    return [e for e in contract.get_logs() if type(e).__name__ == name]


def expiry() -> int:
    return boa.env.timestamp + 7 * DAY_S


def lock(coin: Any, escrow: Any, amount: int = 100 * UNIT, *, invoice: bytes = INVOICE, agent: str | None = None,
         until: int | None = None) -> int:
    until = until or expiry()
    with boa.env.prank(IMPORTER.address):
        coin.approve(escrow.address, amount)
        escrow.lock(invoice, EXPORTER.address, agent or AGENT.address, amount, DOCS, until)
    return until


def refused(coin: Any, escrow: Any, reason: str, action: Callable[[], object]) -> None:
    """The action reverts with `reason` and no balance (nor the escrow's books) changes."""
    before = balances([coin], holders(escrow)), escrow.locked_total(), escrow.stateOf(INVOICE)
    with boa.reverts(reason):
        action()
    after = balances([coin], holders(escrow)), escrow.locked_total(), escrow.stateOf(INVOICE)
    assert after == before


# --- locking -----------------------------------------------------------------------------------------------


def test_lock_moves_coins_into_escrow_and_logs(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    until = lock(coin, escrow)
    locked = events(escrow, "Locked")
    assert coin.balanceOf(IMPORTER.address) == 900 * UNIT
    assert coin.balanceOf(escrow.address) == 100 * UNIT
    assert escrow.locked_total() == 100 * UNIT
    deal = escrow.deals(INVOICE)
    assert (deal[0], deal[1], deal[2], deal[3], deal[4], deal[5], deal[6]) == (
        IMPORTER.address, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, until, 1)
    assert locked and locked[0].amount == 100 * UNIT and locked[0].funding == 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("zero_amount", "zero amount"),
        ("past_expiry", "expiry in the past"),
        ("far_expiry", "expiry too far"),
        ("no_docs", "documents hash missing"),
        ("no_invoice", "invoice id missing"),
        ("self_dealing", "importer is the exporter"),
        ("agent_is_exporter", "agent is the exporter"),
        ("no_allowance", "allowance too low"),
        ("no_balance", "balance too low"),
    ],
)
def test_lock_refusals_leave_balances_unchanged(env: tuple[Any, Any], case: str, reason: str) -> None:
    coin, escrow = env
    amount, until, docs, invoice, exporter, agent = 100 * UNIT, expiry(), DOCS, INVOICE, EXPORTER.address, \
        AGENT.address
    approve = amount
    if case == "zero_amount":
        amount = 0
    elif case == "past_expiry":
        until = boa.env.timestamp
    elif case == "far_expiry":
        until = boa.env.timestamp + 3 * 366 * DAY_S
    elif case == "no_docs":
        docs = b"\x00" * 32
    elif case == "no_invoice":
        invoice = b"\x00" * 32
    elif case == "self_dealing":
        exporter = IMPORTER.address
    elif case == "agent_is_exporter":
        agent = EXPORTER.address
    elif case == "no_allowance":
        approve = amount - 1
    elif case == "no_balance":
        amount = approve = 1_001 * UNIT
    with boa.env.prank(IMPORTER.address):
        coin.approve(escrow.address, approve)

    def act() -> None:
        with boa.env.prank(IMPORTER.address):
            escrow.lock(invoice, exporter, agent, amount, docs, until)

    refused(coin, escrow, reason, act)


def test_lock_refused_for_frozen_parties_and_paused_coin(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    with boa.env.prank(IMPORTER.address):
        coin.approve(escrow.address, 100 * UNIT)

    def act() -> None:
        with boa.env.prank(IMPORTER.address):
            escrow.lock(INVOICE, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, expiry())

    for who, reason in ((EXPORTER.address, "exporter frozen"), (AGENT.address, "agent frozen"),
                        (IMPORTER.address, "frozen")):
        with boa.env.prank(A.blacklister):
            coin.freeze(who)
        refused(coin, escrow, reason, act)
        with boa.env.prank(A.blacklister):
            coin.unfreeze(who)
    with boa.env.prank(A.pauser):
        coin.pause()
    refused(coin, escrow, "paused", act)


def test_an_invoice_is_escrowed_once(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    lock(coin, escrow)
    refused(coin, escrow, "invoice already escrowed", lambda: lock(coin, escrow))


# --- release -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accepter", ["importer", "agent"])
def test_release_pays_the_exporter(env: tuple[Any, Any], accepter: str) -> None:
    coin, escrow = env
    lock(coin, escrow)
    who = IMPORTER.address if accepter == "importer" else AGENT.address
    with boa.env.prank(who):
        escrow.release(INVOICE, DOCS)
    released = events(escrow, "Released")
    assert coin.balanceOf(EXPORTER.address) == 1_100 * UNIT
    assert coin.balanceOf(escrow.address) == 0 and escrow.locked_total() == 0
    assert escrow.stateOf(INVOICE) == 2
    assert released and released[0].accepted_by == who and released[0].documents_hash == DOCS


def test_a_document_hash_that_does_not_match_refuses_release(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    lock(coin, escrow)
    for who in (IMPORTER.address, AGENT.address):
        def act(who: str = who) -> None:
            with boa.env.prank(who):
                escrow.release(INVOICE, OTHER_DOCS)

        refused(coin, escrow, "documents hash mismatch", act)
    assert escrow.stateOf(INVOICE) == 1


def test_release_refusals(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    refused(coin, escrow, "not locked", lambda: escrow.release(INVOICE, DOCS))
    lock(coin, escrow)
    for who in (EXPORTER.address, A.stranger):
        def act(who: str = who) -> None:
            with boa.env.prank(who):
                escrow.release(INVOICE, DOCS)

        refused(coin, escrow, "not importer or agent", act)
    with boa.env.prank(A.blacklister):
        coin.freeze(EXPORTER.address)

    def by_importer() -> None:
        with boa.env.prank(IMPORTER.address):
            escrow.release(INVOICE, DOCS)

    refused(coin, escrow, "frozen", by_importer)
    with boa.env.prank(A.blacklister):
        coin.unfreeze(EXPORTER.address)
    boa.env.time_travel(seconds=7 * DAY_S)
    refused(coin, escrow, "escrow expired", by_importer)


def test_without_an_agent_only_the_importer_releases(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    with boa.env.prank(IMPORTER.address):
        coin.approve(escrow.address, 5 * UNIT)
        escrow.lock(INVOICE, EXPORTER.address, ZERO, 5 * UNIT, DOCS, expiry())

    def by_zero() -> None:
        with boa.env.prank(ZERO):
            escrow.release(INVOICE, DOCS)

    refused(coin, escrow, "not importer or agent", by_zero)


# --- refund and expiry -------------------------------------------------------------------------------------


def test_refund_only_after_expiry_then_final(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    until = lock(coin, escrow)
    refused(coin, escrow, "not expired", lambda: escrow.refund(INVOICE))
    boa.env.time_travel(seconds=until - boa.env.timestamp)
    with boa.env.prank(A.stranger):  # anyone may return expired coins to the importer
        escrow.refund(INVOICE)
    refunded = events(escrow, "Refunded")
    assert coin.balanceOf(IMPORTER.address) == 1_000 * UNIT
    assert escrow.stateOf(INVOICE) == 3 and escrow.locked_total() == 0
    assert refunded and refunded[0].amount == 100 * UNIT
    refused(coin, escrow, "not locked", lambda: escrow.refund(INVOICE))

    def release() -> None:
        with boa.env.prank(IMPORTER.address):
            escrow.release(INVOICE, DOCS)

    refused(coin, escrow, "not locked", release)


# --- disputes ----------------------------------------------------------------------------------------------


def test_dispute_hands_the_decision_to_the_agent(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    until = lock(coin, escrow)
    refused(coin, escrow, "not a party", lambda: escrow.dispute(INVOICE, sender=A.stranger))
    escrow.dispute(INVOICE, sender=EXPORTER.address)
    assert escrow.stateOf(INVOICE) == 4
    refused(coin, escrow, "disputed: agent only", lambda: escrow.release(INVOICE, DOCS, sender=IMPORTER.address))
    boa.env.time_travel(seconds=until - boa.env.timestamp + 1)
    refused(coin, escrow, "disputed: agent only", lambda: escrow.refund(INVOICE, sender=A.stranger))
    refused(coin, escrow, "documents hash mismatch",
            lambda: escrow.release(INVOICE, OTHER_DOCS, sender=AGENT.address))
    escrow.refund(INVOICE, sender=AGENT.address)
    assert coin.balanceOf(IMPORTER.address) == 1_000 * UNIT


def test_dispute_needs_an_agent(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    with boa.env.prank(IMPORTER.address):
        coin.approve(escrow.address, 5 * UNIT)
        escrow.lock(INVOICE, EXPORTER.address, ZERO, 5 * UNIT, DOCS, expiry())
    refused(coin, escrow, "no agent appointed", lambda: escrow.dispute(INVOICE, sender=IMPORTER.address))


# --- permit and authorisation funding ----------------------------------------------------------------------


def test_lock_with_permit(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    deadline = boa.env.timestamp + 3600
    v, r, s = sign_permit(IMPORTER, coin, escrow.address, 100 * UNIT, deadline)
    with boa.env.prank(IMPORTER.address):
        escrow.lockWithPermit(INVOICE, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, expiry(), deadline,
                              v, r, s)
    assert coin.balanceOf(escrow.address) == 100 * UNIT
    assert coin.allowance(IMPORTER.address, escrow.address) == 0


def test_lock_with_permit_survives_a_front_run_permit(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    deadline = boa.env.timestamp + 3600
    v, r, s = sign_permit(IMPORTER, coin, escrow.address, 100 * UNIT, deadline)
    coin.permit(IMPORTER.address, escrow.address, 100 * UNIT, deadline, v, r, s, sender=A.stranger)
    escrow.lockWithPermit(INVOICE, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, expiry(), deadline, v, r, s,
                          sender=IMPORTER.address)
    assert coin.balanceOf(escrow.address) == 100 * UNIT


def test_lock_with_permit_refusals(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    deadline = boa.env.timestamp + 3600
    v, r, s = sign_permit(IMPORTER, coin, escrow.address, 100 * UNIT, deadline)
    # a permit for 100 cannot fund 200; nor can someone else submit it as their own lock
    refused(coin, escrow, "invalid signature", lambda: escrow.lockWithPermit(
        INVOICE, EXPORTER.address, AGENT.address, 200 * UNIT, DOCS, expiry(), deadline, v, r, s,
        sender=IMPORTER.address))
    refused(coin, escrow, "invalid signature", lambda: escrow.lockWithPermit(
        INVOICE, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, expiry(), deadline, v, r, s,
        sender=A.stranger))
    boa.env.time_travel(seconds=3601)
    refused(coin, escrow, "permit expired", lambda: escrow.lockWithPermit(
        INVOICE, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS, expiry(), deadline, v, r, s,
        sender=IMPORTER.address))


def _authorisation(coin: Any, escrow: Any, amount: int, until: int, *, exporter: str | None = None
                   ) -> tuple[int, int, int, bytes, bytes]:
    nonce = escrow.termsHash(INVOICE, exporter or EXPORTER.address, AGENT.address, DOCS, until)
    valid_after, valid_before = boa.env.timestamp - 1, boa.env.timestamp + 3600
    v, r, s = sign_authorization(IMPORTER, coin, "ReceiveWithAuthorization", escrow.address, amount, valid_after,
                                 valid_before, nonce)
    return valid_after, valid_before, v, r, s


def test_lock_with_authorisation_by_a_relayer(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    until = expiry()
    va, vb, v, r, s = _authorisation(coin, escrow, 100 * UNIT, until)
    escrow.lockWithAuthorization(INVOICE, IMPORTER.address, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS,
                                 until, va, vb, v, r, s, sender=A.stranger)
    assert events(escrow, "Locked")[0].funding == 3
    assert coin.balanceOf(escrow.address) == 100 * UNIT


def test_lock_with_authorisation_refusals(env: tuple[Any, Any]) -> None:
    coin, escrow = env
    until = expiry()
    va, vb, v, r, s = _authorisation(coin, escrow, 100 * UNIT, until)
    # the signature fixes the terms: another exporter, amount or document hash is refused
    refused(coin, escrow, "invalid signature", lambda: escrow.lockWithAuthorization(
        INVOICE, IMPORTER.address, A.stranger, AGENT.address, 100 * UNIT, DOCS, until, va, vb, v, r, s))
    refused(coin, escrow, "invalid signature", lambda: escrow.lockWithAuthorization(
        INVOICE, IMPORTER.address, EXPORTER.address, AGENT.address, 99 * UNIT, DOCS, until, va, vb, v, r, s))
    refused(coin, escrow, "invalid signature", lambda: escrow.lockWithAuthorization(
        INVOICE, IMPORTER.address, EXPORTER.address, AGENT.address, 100 * UNIT, OTHER_DOCS, until, va, vb, v, r,
        s))
    escrow.lockWithAuthorization(INVOICE, IMPORTER.address, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS,
                                 until, va, vb, v, r, s)
    # a replay under another invoice id carries another nonce: refused by the signature
    other = keccak(b"INV-2025-0002")
    before = balances([coin], holders(escrow))
    with boa.reverts("invalid signature"):
        escrow.lockWithAuthorization(other, IMPORTER.address, EXPORTER.address, AGENT.address, 100 * UNIT, DOCS,
                                     until, va, vb, v, r, s)
    assert balances([coin], holders(escrow)) == before
