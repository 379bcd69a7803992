"""StableCoin.vy behaviour: ERC-20, reserve-guarded minting, batch mint, burn, pause and freeze on every
path, wipe, rescue, retire. Every revert reason is exercised."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boa
import pytest
from contract_env import (
    MAX_AGE_S,
    UNIT,
    account,
    actors,
    deploy_coin,
    mint,
    pack_credits,
    random_nonce,
    sign_authorization,
    sign_cancel,
    sign_permit,
)

A = actors()
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def base() -> Any:
    coin = deploy_coin(A)
    for holder in (A.alice.address, A.bob.address, A.carol.address, A.minter):
        mint(coin, A, holder, 100 * UNIT)
    with boa.env.prank(A.alice.address):
        coin.approve(A.bob.address, 50 * UNIT)
    with boa.env.prank(A.bob.address):
        coin.approve(A.alice.address, 50 * UNIT)
    return coin


@pytest.fixture()
def coin(base: Any) -> Iterator[Any]:
    with boa.env.anchor():
        yield base


def supply_of(coin: Any) -> int:
    return sum(coin.balanceOf(h) for h in (A.alice.address, A.bob.address, A.carol.address, A.minter))


# --- ERC-20 ------------------------------------------------------------------------------------------------


def test_transfer_and_transfer_from(coin: Any) -> None:
    with boa.env.prank(A.alice.address):
        assert coin.transfer(A.bob.address, 10 * UNIT)
    assert coin.balanceOf(A.alice.address) == 90 * UNIT
    assert coin.balanceOf(A.bob.address) == 110 * UNIT
    with boa.env.prank(A.bob.address):
        coin.transferFrom(A.alice.address, A.carol.address, 20 * UNIT)
    assert coin.allowance(A.alice.address, A.bob.address) == 30 * UNIT
    assert coin.balanceOf(A.carol.address) == 120 * UNIT
    assert coin.totalSupply() == supply_of(coin) == 400 * UNIT


def test_erc20_reverts(coin: Any) -> None:
    with boa.env.prank(A.alice.address):
        with boa.reverts("balance too low"):
            coin.transfer(A.bob.address, 100 * UNIT + 1)
        with boa.reverts("zero address"):
            coin.transfer(ZERO, 1)
        with boa.reverts("zero address"):
            coin.approve(ZERO, 1)
        with boa.reverts("allowance too low"):
            coin.transferFrom(A.bob.address, A.alice.address, 50 * UNIT + 1)
    with boa.env.prank(A.carol.address), boa.reverts("allowance too low"):
        coin.transferFrom(A.alice.address, A.carol.address, 1)


def test_infinite_allowance_is_not_decremented(coin: Any) -> None:
    with boa.env.prank(A.alice.address):
        coin.approve(A.carol.address, 2**256 - 1)
    with boa.env.prank(A.carol.address):
        coin.transferFrom(A.alice.address, A.carol.address, 5 * UNIT)
    assert coin.allowance(A.alice.address, A.carol.address) == 2**256 - 1


# --- reserve-guarded minting -------------------------------------------------------------------------------


def test_mint_up_to_the_attested_reserve_exactly(coin: Any) -> None:
    # Attest HKD/CNH 1,000.00 of reserve = 1,000 * 10**6 base units: decimals must line up to the unit.
    with boa.env.prank(A.attestor):
        coin.attestReserve(400 * UNIT + 1_000 * UNIT, boa.env.timestamp, b"\x01" * 32)
    assert coin.mintHeadroom() == 1_000 * UNIT
    with boa.env.prank(A.minter):
        with boa.reverts("reserve exceeded"):
            coin.mint(A.alice.address, 1_000 * UNIT + 1)
        coin.mint(A.alice.address, 1_000 * UNIT)
        with boa.reverts("reserve exceeded"):
            coin.mint(A.alice.address, 1)
    assert coin.totalSupply() == coin.attested_reserve()
    assert coin.mintHeadroom() == 0


def test_reserve_posted_in_minor_units_blocks_minting(coin: Any) -> None:
    # A reserve of HKD 1,000.00 wrongly posted in cents (100,000) is far below supply: no mint passes.
    with boa.env.prank(A.attestor):
        coin.attestReserve(100_000, boa.env.timestamp, b"\x01" * 32)
    with boa.env.prank(A.minter), boa.reverts("reserve exceeded"):
        coin.mint(A.alice.address, 1)


def test_stale_attestation_blocks_minting_until_refreshed(coin: Any) -> None:
    posted_at = coin.attested_at()
    boa.env.time_travel(seconds=posted_at + MAX_AGE_S - boa.env.timestamp)
    with boa.env.prank(A.minter):
        coin.mint(A.alice.address, 1)  # exactly at the maximum age: still fresh
    boa.env.time_travel(seconds=1)
    assert not coin.reserveIsFresh()
    assert coin.mintHeadroom() == 0
    with boa.env.prank(A.minter), boa.reverts("reserve attestation stale"):
        coin.mint(A.alice.address, 1)
    with boa.env.prank(A.owner):
        coin.setReserveMaxAge(MAX_AGE_S + 10)
    with boa.env.prank(A.minter):
        coin.mint(A.alice.address, 1)
    with boa.env.prank(A.attestor):
        coin.attestReserve(10**9 * UNIT, boa.env.timestamp, b"\x02" * 32)
    assert coin.reserveIsFresh()


def test_no_attestation_means_no_mint() -> None:
    with boa.env.anchor():
        fresh = deploy_coin(A, reserve_base_units=0)
        assert fresh.attested_at() == 0
        with boa.env.prank(A.minter), boa.reverts("reserve attestation stale"):
            fresh.mint(A.alice.address, 1)


def test_attestation_reverts(coin: Any) -> None:
    now = boa.env.timestamp
    with boa.env.prank(A.attestor):
        with boa.reverts("attestation in the future"):
            coin.attestReserve(1, now + 1, b"\x00" * 32)
        with boa.reverts("attestation older than current"):
            coin.attestReserve(1, coin.attested_at() - 1, b"\x00" * 32)
    with boa.env.prank(A.owner), boa.reverts("max age is zero"):
        coin.setReserveMaxAge(0)


def test_mint_reverts(coin: Any) -> None:
    with boa.env.prank(A.minter):
        with boa.reverts("zero amount"):
            coin.mint(A.alice.address, 0)
        with boa.reverts("zero address"):
            coin.mint(ZERO, 1)


def test_batch_mint(coin: Any) -> None:
    receivers = [account(f"batch{i}").address for i in range(50)]
    amounts = [(i + 1) * UNIT for i in range(50)]
    before = coin.totalSupply()
    allowance = coin.minterAllowance(A.minter)
    with boa.env.prank(A.minter):
        coin.batchMint(pack_credits(receivers, amounts))
    assert [coin.balanceOf(r) for r in receivers] == amounts
    assert coin.totalSupply() == before + sum(amounts)
    assert coin.minterAllowance(A.minter) == allowance - sum(amounts)


def test_batch_mint_reverts_as_a_whole(coin: Any) -> None:
    with boa.env.prank(A.blacklister):
        coin.freeze(A.carol.address)
    before = coin.totalSupply()
    with boa.env.prank(A.minter):
        with boa.reverts("empty batch"):
            coin.batchMint(pack_credits([], []))
        with boa.reverts("zero address"):
            coin.batchMint(pack_credits([A.alice.address, ZERO], [1, 1]))
        with boa.reverts("zero amount"):
            coin.batchMint(pack_credits([A.alice.address, A.bob.address], [1, 0]))
        with boa.reverts("frozen"):
            coin.batchMint(pack_credits([A.alice.address, A.carol.address], [1, 1]))
        with boa.reverts("reserve exceeded"):
            coin.batchMint(pack_credits([A.alice.address, A.bob.address], [1, coin.mintHeadroom()]))
    assert coin.totalSupply() == before
    assert coin.balanceOf(A.alice.address) == 100 * UNIT


def test_burn(coin: Any) -> None:
    with boa.env.prank(A.minter):
        coin.burn(40 * UNIT)
        with boa.reverts("balance too low"):
            coin.burn(60 * UNIT + 1)
        with boa.reverts("zero amount"):
            coin.burn(0)
    assert coin.balanceOf(A.minter) == 60 * UNIT
    assert coin.totalSupply() == 360 * UNIT == supply_of(coin)


# --- pause stops everything listed -------------------------------------------------------------------------

DEADLINE = 2**40


def _permit(coin: Any) -> None:
    v, r, s = sign_permit(A.alice, coin, A.carol.address, 1, DEADLINE)
    coin.permit(A.alice.address, A.carol.address, 1, DEADLINE, v, r, s)


def _transfer_auth(coin: Any) -> None:
    n = random_nonce()
    v, r, s = sign_authorization(A.alice, coin, "TransferWithAuthorization", A.carol.address, 1, 0, DEADLINE,
                                 n)
    coin.transferWithAuthorization(A.alice.address, A.carol.address, 1, 0, DEADLINE, n, v, r, s)


def _receive_auth(coin: Any) -> None:
    n = random_nonce()
    v, r, s = sign_authorization(A.alice, coin, "ReceiveWithAuthorization", A.carol.address, 1, 0, DEADLINE,
                                 n)
    with boa.env.prank(A.carol.address):
        coin.receiveWithAuthorization(A.alice.address, A.carol.address, 1, 0, DEADLINE, n, v, r, s)


def _cancel_auth(coin: Any) -> None:
    n = random_nonce()
    v, r, s = sign_cancel(A.alice, coin, n)
    coin.cancelAuthorization(A.alice.address, n, v, r, s)


PAUSED_PATHS: dict[str, Callable[[Any], Any]] = {
    "transfer": lambda c: _as(A.alice.address, c.transfer, A.carol.address, 1),
    "transferFrom": lambda c: _as(A.bob.address, c.transferFrom, A.alice.address, A.carol.address, 1),
    "approve": lambda c: _as(A.alice.address, c.approve, A.carol.address, 1),
    "permit": lambda c: _as(A.stranger, _permit, c),
    "transferWithAuthorization": lambda c: _as(A.stranger, _transfer_auth, c),
    "receiveWithAuthorization": _receive_auth,
    "cancelAuthorization": lambda c: _as(A.stranger, _cancel_auth, c),
    "mint": lambda c: _as(A.minter, c.mint, A.carol.address, 1),
    "batchMint": lambda c: _as(A.minter, c.batchMint, pack_credits([A.carol.address], [1])),
    "burn": lambda c: _as(A.minter, c.burn, 1),
}


def _as(who: str, fn: Callable[..., Any], *args: Any) -> Any:
    with boa.env.prank(who):
        return fn(*args)


@pytest.mark.parametrize("path", sorted(PAUSED_PATHS))
def test_every_path_works_unpaused_and_stops_when_paused(coin: Any, path: str) -> None:
    with boa.env.anchor():
        PAUSED_PATHS[path](coin)  # works while live
    with boa.env.prank(A.pauser):
        coin.pause()
    with boa.reverts("paused"):
        PAUSED_PATHS[path](coin)
    with boa.env.prank(A.pauser):
        coin.unpause()
    PAUSED_PATHS[path](coin)


def test_wipe_stops_when_paused(coin: Any) -> None:
    with boa.env.prank(A.blacklister):
        coin.freeze(A.carol.address)
    with boa.env.prank(A.pauser):
        coin.pause()
    with boa.env.prank(A.blacklister), boa.reverts("paused"):
        coin.wipeFrozenBalance(A.carol.address, b"\x01" * 32)


# --- a frozen address is blocked on every path --------------------------------------------------------------

# Each case: who gets frozen, and the call that must then revert with "frozen".
FROZEN_PATHS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("transfer: sender", "alice", PAUSED_PATHS["transfer"]),
    ("transfer: receiver", "carol", PAUSED_PATHS["transfer"]),
    ("transferFrom: owner", "alice", PAUSED_PATHS["transferFrom"]),
    ("transferFrom: spender", "bob", PAUSED_PATHS["transferFrom"]),
    ("transferFrom: receiver", "carol", PAUSED_PATHS["transferFrom"]),
    ("approve: owner", "alice", PAUSED_PATHS["approve"]),
    ("approve: spender", "carol", PAUSED_PATHS["approve"]),
    ("permit: owner", "alice", PAUSED_PATHS["permit"]),
    ("permit: spender", "carol", PAUSED_PATHS["permit"]),
    ("transferWithAuthorization: payer", "alice", PAUSED_PATHS["transferWithAuthorization"]),
    ("transferWithAuthorization: payee", "carol", PAUSED_PATHS["transferWithAuthorization"]),
    ("transferWithAuthorization: relayer", "stranger", PAUSED_PATHS["transferWithAuthorization"]),
    ("receiveWithAuthorization: payer", "alice", PAUSED_PATHS["receiveWithAuthorization"]),
    ("receiveWithAuthorization: payee", "carol", PAUSED_PATHS["receiveWithAuthorization"]),
    ("cancelAuthorization: authorizer", "alice", PAUSED_PATHS["cancelAuthorization"]),
    ("cancelAuthorization: relayer", "stranger", PAUSED_PATHS["cancelAuthorization"]),
    ("mint: receiver", "carol", PAUSED_PATHS["mint"]),
    ("mint: minter", "minter", PAUSED_PATHS["mint"]),
    ("batchMint: receiver", "carol", PAUSED_PATHS["batchMint"]),
    ("batchMint: minter", "minter", PAUSED_PATHS["batchMint"]),
    ("burn: minter", "minter", PAUSED_PATHS["burn"]),
]


def _address(label: str) -> str:
    value = getattr(A, label)
    return value if isinstance(value, str) else value.address


@pytest.mark.parametrize("case,who,call", FROZEN_PATHS, ids=[f[0] for f in FROZEN_PATHS])
def test_frozen_address_is_blocked(coin: Any, case: str, who: str, call: Callable[[Any], Any]) -> None:
    with boa.env.anchor():
        call(coin)  # the same call passes while nobody is frozen
    with boa.env.prank(A.blacklister):
        coin.freeze(_address(who))
    with boa.reverts("frozen"):
        call(coin)
    with boa.env.prank(A.blacklister):
        coin.unfreeze(_address(who))
    call(coin)


def test_freeze_many_and_unfreeze_many(coin: Any) -> None:
    many = [A.alice.address, A.bob.address, A.carol.address]
    with boa.env.prank(A.blacklister):
        coin.freezeMany(many)
    assert all(coin.isFrozen(x) for x in many)
    with boa.env.prank(A.blacklister):
        coin.unfreezeMany(many[:2])
    assert [coin.isFrozen(x) for x in many] == [False, False, True]
    with boa.env.prank(A.blacklister), boa.reverts("zero address"):
        coin.freeze(ZERO)


@pytest.mark.requirement("RES-FROZEN-IN-SUPPLY")
def test_frozen_balance_stays_in_supply_then_wipe_under_order(coin: Any) -> None:
    with boa.env.prank(A.blacklister):
        coin.freeze(A.carol.address)
    assert coin.totalSupply() == 400 * UNIT  # frozen balances are still outstanding
    with boa.env.prank(A.blacklister):
        with boa.reverts("not frozen"):
            coin.wipeFrozenBalance(A.alice.address, b"\x01" * 32)
        with boa.reverts("order reference missing"):
            coin.wipeFrozenBalance(A.carol.address, b"\x00" * 32)
        coin.wipeFrozenBalance(A.carol.address, b"\x07" * 32)
    logs = coin.get_logs()
    wiped = [e for e in logs if type(e).__name__ == "FrozenBalanceWiped"]
    assert len(wiped) == 1 and wiped[0].value == 100 * UNIT and wiped[0].order_reference == b"\x07" * 32
    assert coin.balanceOf(A.carol.address) == 0
    assert coin.totalSupply() == 300 * UNIT == supply_of(coin)
    with boa.env.prank(A.blacklister), boa.reverts("nothing to wipe"):
        coin.wipeFrozenBalance(A.carol.address, b"\x07" * 32)


# --- rescue and retire -------------------------------------------------------------------------------------


def test_rescue_returns_other_tokens(coin: Any) -> None:
    other = deploy_coin(A, symbol="BHKD")
    mint(other, A, coin.address, 5 * UNIT)
    with boa.env.prank(A.rescuer):
        with boa.reverts("zero address"):
            coin.rescueERC20(other.address, ZERO, 1)
        coin.rescueERC20(other.address, A.bob.address, 5 * UNIT)
    assert other.balanceOf(A.bob.address) == 5 * UNIT
    assert other.balanceOf(coin.address) == 0


@pytest.mark.requirement("CHN-UPGRADE-CONTROL")
def test_retire_names_a_successor_and_is_final(coin: Any) -> None:
    successor = deploy_coin(A)
    with boa.env.prank(A.owner), boa.reverts("pause first"):
        coin.retire(successor.address)
    with boa.env.prank(A.pauser):
        coin.pause()
    with boa.env.prank(A.owner):
        with boa.reverts("bad successor"):
            coin.retire(coin.address)
        coin.retire(successor.address)
        with boa.reverts("retired"):
            coin.retire(successor.address)
    assert coin.successor() == successor.address
    with boa.env.prank(A.pauser), boa.reverts("retired"):
        coin.unpause()


def test_constructor_refuses_zero_max_age() -> None:
    from contract_env import deployer

    with boa.reverts("max age is zero"):
        deployer().deploy("X", "X", "HKD", "L", "", 0)
