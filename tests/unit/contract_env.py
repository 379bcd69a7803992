"""Helpers for the titanoboa contract tests: deploy a coin with every role on its own key, sign EIP-712."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boa
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "contracts" / "StableCoin.vy"
UNIT = 10**6  # one coin in base units
MAX_AGE_S = 7 * 24 * 3600
LICENCE = "HKMA-SC-0001"
APPROVAL = "PBOC-CB-2025-017"


@cache
def deployer() -> Any:
    return boa.load_partial(str(CONTRACT_PATH))


def account(label: str) -> LocalAccount:
    """A deterministic key per label (test keys only)."""
    seed = label.encode().ljust(32, b"\x01")[:32]
    return Account.from_key(seed)


@dataclass
class Actors:
    owner: str
    master_minter: str
    minter: str
    pauser: str
    blacklister: str
    rescuer: str
    attestor: str
    alice: LocalAccount
    bob: LocalAccount
    carol: LocalAccount
    stranger: str


def actors() -> Actors:
    return Actors(
        owner=account("owner").address,
        master_minter=account("master_minter").address,
        minter=account("minter").address,
        pauser=account("pauser").address,
        blacklister=account("blacklister").address,
        rescuer=account("rescuer").address,
        attestor=account("attestor").address,
        alice=account("alice"),
        bob=account("bob"),
        carol=account("carol"),
        stranger=account("stranger").address,
    )


def deploy_coin(
    a: Actors,
    *,
    symbol: str = "BCNH",
    reserve_base_units: int = 1_000_000 * UNIT,
    minter_allowance: int = 10**30,
) -> Any:
    """Deploy with all roles set, one minter, and a fresh reserve attestation."""
    with boa.env.prank(a.owner):
        coin = deployer().deploy(f"Bauhinia {symbol}", symbol, symbol[1:], LICENCE, APPROVAL, MAX_AGE_S)
        coin.updateMasterMinter(a.master_minter)
        coin.updatePauser(a.pauser)
        coin.updateBlacklister(a.blacklister)
        coin.updateRescuer(a.rescuer)
        coin.updateReserveAttestor(a.attestor)
    with boa.env.prank(a.master_minter):
        coin.configureMinter(a.minter, minter_allowance)
    if reserve_base_units:
        with boa.env.prank(a.attestor):
            coin.attestReserve(reserve_base_units, boa.env.timestamp, b"\x11" * 32)
    return coin


def mint(coin: Any, a: Actors, to: str, amount: int) -> None:
    with boa.env.prank(a.minter):
        coin.mint(to, amount)


def _domain(coin: Any) -> dict[str, Any]:
    return {
        "name": coin.name(),
        "version": "1",
        "chainId": boa.env.evm.patch.chain_id,
        "verifyingContract": coin.address,
    }


def _sign(key: LocalAccount, coin: Any, primary: str, types: list[dict[str, str]], message: dict[str, Any],
          domain: dict[str, Any] | None = None) -> tuple[int, bytes, bytes]:
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: types,
        },
        "primaryType": primary,
        "domain": domain or _domain(coin),
        "message": message,
    }
    signed = key.sign_message(encode_typed_data(full_message=typed))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def sign_permit(key: LocalAccount, coin: Any, spender: str, value: int, deadline: int,
                nonce: int | None = None, domain: dict[str, Any] | None = None) -> tuple[int, bytes, bytes]:
    types = [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
    message = {
        "owner": key.address,
        "spender": spender,
        "value": value,
        "nonce": coin.nonces(key.address) if nonce is None else nonce,
        "deadline": deadline,
    }
    return _sign(key, coin, "Permit", types, message, domain)


def sign_authorization(key: LocalAccount, coin: Any, kind: str, to: str, value: int, valid_after: int,
                       valid_before: int, nonce: bytes) -> tuple[int, bytes, bytes]:
    """kind: 'TransferWithAuthorization' or 'ReceiveWithAuthorization'."""
    types = [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ]
    message = {"from": key.address, "to": to, "value": value, "validAfter": valid_after,
               "validBefore": valid_before, "nonce": nonce}
    return _sign(key, coin, kind, types, message)


def sign_cancel(key: LocalAccount, coin: Any, nonce: bytes) -> tuple[int, bytes, bytes]:
    types = [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}]
    return _sign(key, coin, "CancelAuthorization", types, {"authorizer": key.address, "nonce": nonce})


def random_nonce() -> bytes:
    return os.urandom(32)


def pack_credits(receivers: list[str], amounts: list[int]) -> list[int]:
    """batchMint's packed words: amount << 160 | receiver."""
    return [(amount << 160) | int(receiver, 16) for receiver, amount in zip(receivers, amounts, strict=True)]
