"""EIP-2612 permit and EIP-3009 authorisations with real secp256k1 signatures (eth-account)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boa
import pytest
from contract_env import (
    UNIT,
    actors,
    deploy_coin,
    mint,
    random_nonce,
    sign_authorization,
    sign_cancel,
    sign_permit,
)
from eth_utils import keccak

A = actors()
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module")
def base() -> Any:
    coin = deploy_coin(A)
    mint(coin, A, A.alice.address, 100 * UNIT)
    return coin


@pytest.fixture()
def coin(base: Any) -> Iterator[Any]:
    with boa.env.anchor():
        yield base


def deadline() -> int:
    return boa.env.timestamp + 3600


def test_domain_separator_matches_eip712_and_reads_chain_id_live(coin: Any) -> None:
    from eth_abi import encode

    def expected(chain_id: int) -> bytes:
        typehash = keccak(
            text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
        )
        return keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                             [typehash, keccak(text=coin.name()), keccak(text="1"), chain_id, coin.address]))

    chain_id = boa.env.evm.patch.chain_id
    assert coin.DOMAIN_SEPARATOR() == expected(chain_id)
    v, r, s = sign_permit(A.alice, coin, A.bob.address, 5, deadline())
    boa.env.evm.patch.chain_id = chain_id + 1  # as after a fork of the chain
    try:
        assert coin.DOMAIN_SEPARATOR() == expected(chain_id + 1)
        with boa.reverts("invalid signature"):
            coin.permit(A.alice.address, A.bob.address, 5, deadline(), v, r, s)
    finally:
        boa.env.evm.patch.chain_id = chain_id


def test_permit_sets_allowance_once(coin: Any) -> None:
    d = deadline()
    v, r, s = sign_permit(A.alice, coin, A.bob.address, 7 * UNIT, d)
    with boa.env.prank(A.stranger):  # anyone may submit it
        coin.permit(A.alice.address, A.bob.address, 7 * UNIT, d, v, r, s)
    assert coin.allowance(A.alice.address, A.bob.address) == 7 * UNIT
    assert coin.nonces(A.alice.address) == 1
    with boa.reverts("invalid signature"):  # replay: the nonce moved on
        coin.permit(A.alice.address, A.bob.address, 7 * UNIT, d, v, r, s)
    with boa.env.prank(A.bob.address):
        coin.transferFrom(A.alice.address, A.bob.address, 7 * UNIT)
    assert coin.balanceOf(A.bob.address) == 7 * UNIT


def test_permit_reverts(coin: Any) -> None:
    d = deadline()
    v, r, s = sign_permit(A.alice, coin, A.bob.address, 5, d)
    with boa.reverts("invalid signature"):  # different value than signed
        coin.permit(A.alice.address, A.bob.address, 6, d, v, r, s)
    with boa.reverts("invalid signature"):  # signed by someone else
        coin.permit(A.bob.address, A.bob.address, 5, d, v, r, s)
    with boa.reverts("invalid signature"):  # malleable high-s twin of a valid signature
        high_s = (SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big")
        coin.permit(A.alice.address, A.bob.address, 5, d, 55 - v, r, high_s)
    with boa.reverts("invalid signature"):
        coin.permit(A.alice.address, A.bob.address, 5, d, 29, r, s)
    with boa.reverts("invalid signature"):  # garbage that recovers to no address
        coin.permit(A.alice.address, A.bob.address, 5, d, 27, b"\x00" * 32, b"\x00" * 32)
    past = boa.env.timestamp - 1
    v2, r2, s2 = sign_permit(A.alice, coin, A.bob.address, 5, past)
    with boa.reverts("permit expired"):
        coin.permit(A.alice.address, A.bob.address, 5, past, v2, r2, s2)
    coin.permit(A.alice.address, A.bob.address, 5, d, v, r, s)  # the original still works


def test_transfer_with_authorization(coin: Any) -> None:
    n = random_nonce()
    after, before = boa.env.timestamp - 1, deadline()
    v, r, s = sign_authorization(A.alice, coin, "TransferWithAuthorization", A.bob.address, 3 * UNIT, after,
                                 before, n)
    with boa.env.prank(A.stranger):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 3 * UNIT, after, before, n, v, r, s)
    assert coin.balanceOf(A.bob.address) == 3 * UNIT
    assert coin.authorizationState(A.alice.address, n)
    with boa.env.prank(A.stranger), boa.reverts("authorization used or canceled"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 3 * UNIT, after, before, n, v, r, s)


def test_authorization_time_window_and_signature(coin: Any) -> None:
    now = boa.env.timestamp
    n = random_nonce()
    v, r, s = sign_authorization(A.alice, coin, "TransferWithAuthorization", A.bob.address, 1, now + 10,
                                 now + 100, n)
    with boa.reverts("authorization not yet valid"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 1, now + 10, now + 100, n, v, r, s)
    with boa.reverts("invalid signature"):  # tampered amount
        boa.env.time_travel(seconds=11)
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 2, now + 10, now + 100, n, v, r, s)
    boa.env.time_travel(seconds=100)
    with boa.reverts("authorization expired"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 1, now + 10, now + 100, n, v, r, s)
    # A receive-type signature cannot be used as a transfer-type one (different typehash).
    n2 = random_nonce()
    t = boa.env.timestamp
    v, r, s = sign_authorization(A.alice, coin, "ReceiveWithAuthorization", A.bob.address, 1, 0, t + 50, n2)
    with boa.reverts("invalid signature"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 1, 0, t + 50, n2, v, r, s)


def test_receive_with_authorization_only_by_payee(coin: Any) -> None:
    n = random_nonce()
    before = deadline()
    v, r, s = sign_authorization(A.alice, coin, "ReceiveWithAuthorization", A.bob.address, 4, 0, before, n)
    with boa.env.prank(A.stranger), boa.reverts("caller must be the payee"):
        coin.receiveWithAuthorization(A.alice.address, A.bob.address, 4, 0, before, n, v, r, s)
    with boa.env.prank(A.bob.address):
        coin.receiveWithAuthorization(A.alice.address, A.bob.address, 4, 0, before, n, v, r, s)
    assert coin.balanceOf(A.bob.address) == 4


def test_cancel_authorization(coin: Any) -> None:
    n = random_nonce()
    before = deadline()
    v, r, s = sign_authorization(A.alice, coin, "TransferWithAuthorization", A.bob.address, 1, 0, before, n)
    cv, cr, cs = sign_cancel(A.alice, coin, n)
    with boa.reverts("invalid signature"):  # bob cannot cancel alice's authorisation
        bv, br, bs = sign_cancel(A.bob, coin, n)
        coin.cancelAuthorization(A.alice.address, n, bv, br, bs)
    coin.cancelAuthorization(A.alice.address, n, cv, cr, cs)
    assert coin.authorizationState(A.alice.address, n)
    with boa.reverts("authorization used or canceled"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 1, 0, before, n, v, r, s)
    with boa.reverts("authorization used or canceled"):
        coin.cancelAuthorization(A.alice.address, n, cv, cr, cs)


def test_authorised_transfer_respects_balance(coin: Any) -> None:
    n = random_nonce()
    before = deadline()
    v, r, s = sign_authorization(A.alice, coin, "TransferWithAuthorization", A.bob.address, 101 * UNIT, 0,
                                 before, n)
    with boa.reverts("balance too low"):
        coin.transferWithAuthorization(A.alice.address, A.bob.address, 101 * UNIT, 0, before, n, v, r, s)
    assert not coin.authorizationState(A.alice.address, n)
