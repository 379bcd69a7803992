"""Swap.vy: a maker-signed firm quote settles both legs (CNH coin against HKD coin) in one transaction or
neither. Every refusal leaves all four balances unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boa
import pytest
from contract_env import UNIT, account, actors, deploy_coin, mint
from eth_utils import keccak
from settlement_contract_env import balances, sign_quote, swap_deployer

A = actors()
MAKER, TAKER = A.alice, A.bob  # the issuer's treasury quotes; a customer takes
HOUR_S = 3600


@pytest.fixture(scope="module")
def base() -> tuple[Any, Any, Any]:
    bcnh = deploy_coin(A, symbol="BCNH")
    bhkd = deploy_coin(A, symbol="BHKD")
    swap = swap_deployer().deploy(bcnh.address, bhkd.address)
    for coin in (bcnh, bhkd):
        for holder in (MAKER.address, TAKER.address):
            mint(coin, A, holder, 10_000 * UNIT)
            coin.approve(swap.address, 5_000 * UNIT, sender=holder)
    return bcnh, bhkd, swap


@pytest.fixture()
def env(base: tuple[Any, Any, Any]) -> Iterator[tuple[Any, Any, Any]]:
    with boa.env.anchor():
        yield base


def quote(bcnh: Any, bhkd: Any, **changes: Any) -> dict[str, Any]:
    """The maker sells 1,000 BHKD for 920 BCNH (1 HKD = 0.92 CNH), valid for an hour."""
    q = {
        "maker": MAKER.address,
        "taker": TAKER.address,
        "makerToken": bhkd.address,
        "makerAmount": 1_000 * UNIT,
        "takerToken": bcnh.address,
        "takerAmount": 920 * UNIT,
        "expiry": boa.env.timestamp + HOUR_S,
        "nonce": keccak(b"quote-1"),
    }
    q.update(changes)
    return q


def args(q: dict[str, Any]) -> list[Any]:
    return [q["maker"], q["taker"], q["makerToken"], q["makerAmount"], q["takerToken"], q["takerAmount"],
            q["expiry"], q["nonce"]]


def settle(swap: Any, q: dict[str, Any], sig: tuple[int, bytes, bytes], sender: str | None = None) -> None:
    swap.settle(*args(q), *sig, sender=sender or TAKER.address)


def snapshot(bcnh: Any, bhkd: Any, swap: Any) -> list[int]:
    return balances([bcnh, bhkd], [MAKER.address, TAKER.address, swap.address])


def test_settle_moves_both_legs_and_logs(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, swap = env
    q = quote(bcnh, bhkd)
    assert swap.quoteDigest(*args(q)) != b"\x00" * 32
    settle(swap, q, sign_quote(MAKER, swap, q))
    swapped = [e for e in swap.get_logs() if type(e).__name__ == "Swapped"]
    assert snapshot(bcnh, bhkd, swap) == [
        10_920 * UNIT, 9_080 * UNIT, 0,  # BCNH: maker, taker, contract
        9_000 * UNIT, 11_000 * UNIT, 0,  # BHKD
    ]
    assert len(swapped) == 1 and swapped[0].maker_amount == 1_000 * UNIT and swapped[0].taker_amount == 920 * UNIT
    assert swap.quoteUsed(MAKER.address, q["nonce"])


def test_settle_the_other_direction(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, swap = env
    q = quote(bcnh, bhkd, makerToken=bcnh.address, makerAmount=920 * UNIT, takerToken=bhkd.address,
              takerAmount=1_000 * UNIT)
    settle(swap, q, sign_quote(MAKER, swap, q))
    assert bcnh.balanceOf(TAKER.address) == 10_920 * UNIT and bhkd.balanceOf(MAKER.address) == 11_000 * UNIT


def _refused(env: tuple[Any, Any, Any], reason: str, q: dict[str, Any], sig: tuple[int, bytes, bytes] | None = None,
             sender: str | None = None) -> None:
    bcnh, bhkd, swap = env
    before = snapshot(bcnh, bhkd, swap)
    used_before = swap.quoteUsed(q["maker"], q["nonce"])
    with boa.reverts(reason):
        settle(swap, q, sig or sign_quote(MAKER, swap, q), sender)
    assert snapshot(bcnh, bhkd, swap) == before
    assert swap.quoteUsed(q["maker"], q["nonce"]) == used_before


def test_expired_quote_is_refused(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, _ = env
    q = quote(bcnh, bhkd)
    sig = sign_quote(MAKER, env[2], q)
    boa.env.time_travel(seconds=HOUR_S + 1)
    _refused(env, "quote expired", q, sig)


def test_a_tampered_quote_is_refused(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, swap = env
    q = quote(bcnh, bhkd)
    sig = sign_quote(MAKER, swap, q)
    for change in ({"makerAmount": 1_001 * UNIT}, {"takerAmount": 900 * UNIT}, {"expiry": q["expiry"] + 1},
                   {"nonce": keccak(b"other")}):
        _refused(env, "invalid signature", {**q, **change}, sig)
    stranger = account("impostor")
    _refused(env, "invalid signature", q, sign_quote(stranger, swap, q))  # signed by someone else
    v, r, _s = sig
    _refused(env, "invalid signature", q, (v, r, (2**256 - 1).to_bytes(32, "big")))  # high s


def test_only_the_named_taker_settles(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, _ = env
    _refused(env, "caller is not the taker", quote(bcnh, bhkd), sender=A.carol.address)


def test_unsupported_pair_and_zero_amounts(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, _ = env
    _refused(env, "pair not supported", quote(bcnh, bhkd, takerToken=bhkd.address))
    _refused(env, "zero amount", quote(bcnh, bhkd, takerAmount=0))
    _refused(env, "maker is the taker", quote(bcnh, bhkd, taker=MAKER.address), sender=MAKER.address)


def test_a_quote_settles_once_and_can_be_cancelled(env: tuple[Any, Any, Any]) -> None:
    bcnh, bhkd, swap = env
    q = quote(bcnh, bhkd)
    sig = sign_quote(MAKER, swap, q)
    settle(swap, q, sig)
    _refused(env, "quote used or cancelled", q, sig)
    q2 = quote(bcnh, bhkd, nonce=keccak(b"quote-2"))
    swap.cancelQuote(q2["nonce"], sender=MAKER.address)
    _refused(env, "quote used or cancelled", q2)
    with boa.reverts("quote used or cancelled"):
        swap.cancelQuote(q2["nonce"], sender=MAKER.address)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("maker_frozen", "frozen"),
        ("taker_frozen", "frozen"),
        ("maker_balance", "balance too low"),
        ("taker_balance", "balance too low"),  # the maker's leg already moved: the whole transaction reverts
        ("maker_allowance", "allowance too low"),
        ("taker_allowance", "allowance too low"),
        ("paused_bhkd", "paused"),
        ("paused_bcnh", "paused"),
    ],
)
def test_a_refused_leg_leaves_both_sides_unchanged(env: tuple[Any, Any, Any], case: str, reason: str) -> None:
    bcnh, bhkd, swap = env
    q = quote(bcnh, bhkd)
    if case == "maker_frozen":
        bhkd.freeze(MAKER.address, sender=A.blacklister)
    elif case == "taker_frozen":
        bcnh.freeze(TAKER.address, sender=A.blacklister)
    elif case == "maker_balance":
        bhkd.transfer(A.carol.address, 9_500 * UNIT, sender=MAKER.address)
    elif case == "taker_balance":
        bcnh.transfer(A.carol.address, 9_500 * UNIT, sender=TAKER.address)
    elif case == "maker_allowance":
        bhkd.approve(swap.address, 999 * UNIT, sender=MAKER.address)
    elif case == "taker_allowance":
        bcnh.approve(swap.address, 919 * UNIT, sender=TAKER.address)
    elif case == "paused_bhkd":
        bhkd.pause(sender=A.pauser)
    elif case == "paused_bcnh":
        bcnh.pause(sender=A.pauser)
    allowances = (bhkd.allowance(MAKER.address, swap.address), bcnh.allowance(TAKER.address, swap.address))
    _refused(env, reason, q)
    assert (bhkd.allowance(MAKER.address, swap.address), bcnh.allowance(TAKER.address, swap.address)) == allowances
