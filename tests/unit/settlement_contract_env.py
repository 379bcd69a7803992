"""Helpers for the escrow and swap contract tests (titanoboa): deploy, sign quotes, snapshot balances."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import boa
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"

QUOTE_TYPES = [
    {"name": "maker", "type": "address"},
    {"name": "taker", "type": "address"},
    {"name": "makerToken", "type": "address"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerToken", "type": "address"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]
DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@cache
def escrow_deployer() -> Any:
    return boa.load_partial(str(CONTRACTS / "Escrow.vy"))


@cache
def swap_deployer() -> Any:
    return boa.load_partial(str(CONTRACTS / "Swap.vy"))


def sign_quote(key: LocalAccount, swap: Any, quote: dict[str, Any]) -> tuple[int, bytes, bytes]:
    typed = {
        "types": {"EIP712Domain": DOMAIN_TYPES, "Quote": QUOTE_TYPES},
        "primaryType": "Quote",
        "domain": {"name": "Bauhinia Swap", "version": "1", "chainId": boa.env.evm.patch.chain_id,
                   "verifyingContract": swap.address},
        "message": quote,
    }
    signed = key.sign_message(encode_typed_data(full_message=typed))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def balances(coins: list[Any], holders: list[str]) -> list[int]:
    return [coin.balanceOf(h) for coin in coins for h in holders]
