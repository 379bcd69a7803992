"""Every role-guarded function of StableCoin.vy, both ways: the role's key succeeds, any other key reverts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boa
import pytest
from contract_env import UNIT, Actors, actors, deploy_coin, mint, pack_credits

A = actors()

# (function name, role attribute on Actors, revert reason, args builder)
Args = Callable[[Any, Actors], tuple[Any, ...]]
GUARDED: list[tuple[str, str, str, Args]] = [
    ("transferOwnership", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("updateMasterMinter", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("updatePauser", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("updateBlacklister", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("updateRescuer", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("updateReserveAttestor", "owner", "not owner", lambda c, a: (a.stranger,)),
    ("setReserveMaxAge", "owner", "not owner", lambda c, a: (3600,)),
    ("setCoinConfig", "owner", "not owner", lambda c, a: ("HKMA-SC-0002", "PBOC-CB-2026-001")),
    ("configureMinter", "master_minter", "not master minter", lambda c, a: (a.carol.address, 5)),
    ("removeMinter", "master_minter", "not master minter", lambda c, a: (a.minter,)),
    ("mint", "minter", "not minter", lambda c, a: (a.alice.address, UNIT)),
    ("batchMint", "minter", "not minter", lambda c, a: (pack_credits([a.alice.address], [UNIT]),)),
    ("burn", "minter", "not minter", lambda c, a: (UNIT,)),
    ("pause", "pauser", "not pauser", lambda c, a: ()),
    ("unpause", "pauser", "not pauser", lambda c, a: ()),
    ("freeze", "blacklister", "not blacklister", lambda c, a: (a.carol.address,)),
    ("unfreeze", "blacklister", "not blacklister", lambda c, a: (a.carol.address,)),
    ("freezeMany", "blacklister", "not blacklister", lambda c, a: ([a.carol.address, a.bob.address],)),
    ("unfreezeMany", "blacklister", "not blacklister", lambda c, a: ([a.carol.address],)),
    ("wipeFrozenBalance", "blacklister", "not blacklister", lambda c, a: (a.carol.address, b"\x01" * 32)),
    ("rescueERC20", "rescuer", "not rescuer", lambda c, a: (c._other.address, a.bob.address, UNIT)),
    ("attestReserve", "attestor", "not reserve attestor",
     lambda c, a: (2_000_000 * UNIT, boa.env.timestamp, b"\x22" * 32)),
]


@pytest.fixture(scope="module")
def base() -> Any:
    coin = deploy_coin(A)
    # State so that every guarded call can succeed for its role: minter holds coins to burn, carol is frozen
    # with a balance to wipe, the contract holds another ERC-20 to rescue.
    mint(coin, A, A.minter, 10 * UNIT)
    mint(coin, A, A.carol.address, 3 * UNIT)
    with boa.env.prank(A.blacklister):
        coin.freeze(A.carol.address)
    other = deploy_coin(A, symbol="BHKD")
    mint(other, A, coin.address, 5 * UNIT)
    coin._other = other
    return coin


@pytest.fixture()
def coin(base: Any) -> Iterator[Any]:
    with boa.env.anchor():
        yield base


@pytest.mark.parametrize("fn,role,reason,args", GUARDED, ids=[g[0] for g in GUARDED])
def test_role_holder_may_call(coin: Any, fn: str, role: str, reason: str, args: Args) -> None:
    if fn == "unpause":
        with boa.env.prank(A.pauser):
            coin.pause()
    with boa.env.prank(getattr(A, role)):
        getattr(coin, fn)(*args(coin, A))


CALLERS = ["stranger", "owner", "master_minter", "minter", "pauser", "blacklister", "rescuer", "attestor"]
REFUSED = [(caller, *g) for g in GUARDED for caller in CALLERS if caller != g[1]]


@pytest.mark.parametrize("caller,fn,role,reason,args", REFUSED, ids=[f"{r[1]}-by-{r[0]}" for r in REFUSED])
def test_other_keys_are_refused(coin: Any, caller: str, fn: str, role: str, reason: str, args: Args) -> None:
    with boa.env.prank(getattr(A, caller)), boa.reverts(reason):
        getattr(coin, fn)(*args(coin, A))


def test_owner_transfer_is_two_step(coin: Any) -> None:
    with boa.env.prank(A.owner):
        coin.transferOwnership(A.bob.address)
    assert coin.owner() == A.owner  # not yet
    assert coin.pending_owner() == A.bob.address
    with boa.env.prank(A.stranger), boa.reverts("not pending owner"):
        coin.acceptOwnership()
    with boa.env.prank(A.bob.address):
        coin.acceptOwnership()
    assert coin.owner() == A.bob.address
    assert coin.pending_owner() == "0x0000000000000000000000000000000000000000"
    with boa.env.prank(A.owner), boa.reverts("not owner"):
        coin.updatePauser(A.owner)


@pytest.mark.parametrize(
    "fn",
    ["updateMasterMinter", "updatePauser", "updateBlacklister", "updateRescuer", "updateReserveAttestor",
     "transferOwnership"],
)
def test_roles_cannot_be_given_to_the_zero_address(coin: Any, fn: str) -> None:
    with boa.env.prank(A.owner), boa.reverts("zero address"):
        getattr(coin, fn)("0x0000000000000000000000000000000000000000")


def test_role_change_moves_the_power(coin: Any) -> None:
    with boa.env.prank(A.owner):
        coin.updatePauser(A.bob.address)
    with boa.env.prank(A.pauser), boa.reverts("not pauser"):
        coin.pause()
    with boa.env.prank(A.bob.address):
        coin.pause()
    assert coin.paused()


def test_minter_allowance_is_consumed_and_removal_revokes(coin: Any) -> None:
    with boa.env.prank(A.master_minter):
        coin.configureMinter(A.bob.address, 5 * UNIT)
    with boa.env.prank(A.bob.address):
        coin.mint(A.alice.address, 3 * UNIT)
        assert coin.minterAllowance(A.bob.address) == 2 * UNIT
        with boa.reverts("minter allowance exceeded"):
            coin.mint(A.alice.address, 2 * UNIT + 1)
        coin.mint(A.alice.address, 2 * UNIT)
        with boa.reverts("minter allowance exceeded"):
            coin.mint(A.alice.address, 1)
    with boa.env.prank(A.master_minter):
        coin.removeMinter(A.bob.address)
        with boa.reverts("not a minter"):
            coin.removeMinter(A.bob.address)
    assert not coin.isMinter(A.bob.address)
    with boa.env.prank(A.bob.address), boa.reverts("not minter"):
        coin.mint(A.alice.address, 1)


def test_coin_config_is_carried(coin: Any) -> None:
    assert coin.licence_number() == "HKMA-SC-0001"
    assert coin.approval_reference() == "PBOC-CB-2025-017"
    assert coin.currency() == "CNH"
    assert coin.decimals() == 6
    with boa.env.prank(A.owner):
        coin.setCoinConfig("HKMA-SC-0009", "")
    assert coin.licence_number() == "HKMA-SC-0009"
    assert coin.approval_reference() == ""
