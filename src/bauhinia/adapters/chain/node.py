"""Connecting to a JSON-RPC node, and the chain settings read from the environment.

BAUHINIA_CHAIN_RPC_URL (Settings.chain_rpc_url) selects the node; these extra variables belong to the chain:
  BAUHINIA_CHAIN_KEYSTORE_PASSWORD      decrypts the role keystores under <data_dir>/keystore (never logged)
  BAUHINIA_CHAIN_CONFIRMATIONS          blocks deep before a transaction/event counts as confirmed (default 12;
                                        no payout leaves before its burn is this deep)
  BAUHINIA_CHAIN_LICENCE_NUMBER         carried by each coin's contract
  BAUHINIA_CHAIN_CNH_APPROVAL_REFERENCE the mainland approval reference carried by the CNH coin
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from bauhinia.domain.errors import ConflictError

rpc_timeout_s = 30


@dataclass(frozen=True)
class ChainSettings:
    keystore_password: str
    confirmations: int
    licence_number: str
    cnh_approval_reference: str


def chain_settings(settings: Any) -> ChainSettings:
    """The node's settings out of config.Settings (the only reader of the environment)."""
    return ChainSettings(
        keystore_password=settings.chain_keystore_password,
        confirmations=int(settings.chain_confirmations),
        licence_number=settings.chain_licence_number,
        cnh_approval_reference=settings.chain_cnh_approval_reference,
    )


def connect_node(url: str) -> Web3:
    """A web3 over HTTP JSON-RPC with a bounded request timeout. The URL is never logged or echoed."""
    # the chain id, client and network versions of a node never change: asked once, not before every call
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": rpc_timeout_s}, cache_allowed_requests=True,
                                cacheable_requests={RPCEndpoint("eth_chainId"), RPCEndpoint("net_version"),
                                                    RPCEndpoint("web3_clientVersion")}))
    try:
        w3.eth.chain_id  # noqa: B018 - a cheap liveness check
    except Exception as exc:
        raise ConflictError(f"the chain node does not answer ({type(exc).__name__})",
                            code="chain_unreachable") from None
    return w3
