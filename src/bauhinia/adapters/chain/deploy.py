"""Deploy one coin's contract and hand each role to its own key (all through the journal)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
from eth_abi import encode as encode_abi
from web3 import Web3

from bauhinia.adapters.chain.artifacts import stablecoin_bytecode
from bauhinia.adapters.chain.keys import RoleKeys
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.chain.web3_chain import GAS, Web3Chain
from bauhinia.adapters.store.chain_tables import deployments
from bauhinia.domain.chain import ChainOp
from bauhinia.domain.errors import ConflictError, ValidationError
from bauhinia.domain.money import Currency

GAS_DEPLOY = 6_000_000
RESERVE_MAX_AGE_S_DEFAULT = 36 * 3600  # a daily attestation, with slack for a late one
MINTER_ALLOWANCE_DEFAULT = 10**30
GAS_MONEY_WEI = 10**20  # 100 ETH on a dev node


def deploy_coin(
    sender: TxSender,
    keys: RoleKeys,
    coin: Currency,
    *,
    licence_number: str,
    approval_reference: str = "",
    reserve_max_age_s: int = RESERVE_MAX_AGE_S_DEFAULT,
    minter_allowance_base_units: int = MINTER_ALLOWANCE_DEFAULT,
    fund_from_dev_account: bool = False,
    key_prefix: str | None = None,
    confirmations: int = 0,
) -> Web3Chain:
    """Deploy (idempotently, under `key_prefix`) and configure every role. Returns the chain for the coin.

    A CNH coin may be deployed without a mainland approval reference, but the issuance service refuses to
    mint it until the contract carries one (setCoinConfig)."""
    coin = coin.coin
    if not licence_number:
        raise ValidationError("a licence number is required to deploy a coin", code="licence_missing")
    prefix = key_prefix or f"deploy:{sender.chain_id}:{coin.value}"
    if fund_from_dev_account:
        sender.fund([a.address for a in keys.all()], GAS_MONEY_WEI)
    args = encode_abi(
        ["string", "string", "string", "string", "string", "uint256"],
        [f"Bauhinia {coin.fiat.value} Coin", coin.value, coin.fiat.value, licence_number, approval_reference,
         reserve_max_age_s],
    )
    data = stablecoin_bytecode() + args.hex()
    tx = sender.send(account=keys.owner, op=ChainOp.DEPLOY, idempotency_key=f"{prefix}:contract", to=None,
                     data=data, gas=GAS_DEPLOY)
    receipt = sender.w3.eth.get_transaction_receipt(tx.tx_hash)  # type: ignore[arg-type]
    address = receipt["contractAddress"]
    if not address:
        raise ConflictError(f"deployment {tx.tx_hash} created no contract", code="deploy_failed")
    chain = Web3Chain(coin, sender.w3, address, keys, sender, confirmations=confirmations)
    contract = chain.contract
    steps = [
        ("updateMasterMinter", keys.master_minter.address),
        ("updatePauser", keys.pauser.address),
        ("updateBlacklister", keys.blacklister.address),
        ("updateRescuer", keys.rescuer.address),
        ("updateReserveAttestor", keys.reserve_attestor.address),
    ]
    for fn, who in steps:
        sender.send(account=keys.owner, op=ChainOp.CONFIGURE, idempotency_key=f"{prefix}:{fn}", to=address,
                    data=contract.encode_abi(fn, args=[who]), gas=GAS["role"])
    sender.send(account=keys.master_minter, op=ChainOp.CONFIGURE, idempotency_key=f"{prefix}:configureMinter",
                to=address, data=contract.encode_abi("configureMinter", args=[keys.minter.address,
                                                                                minter_allowance_base_units]),
                gas=GAS["role"])
    chain.deploy_block = int(receipt["blockNumber"])  # type: ignore[attr-defined]
    chain.deploy_tx_hash = tx.tx_hash  # type: ignore[attr-defined]
    return chain


def record_deployment(engine: sa.Engine, chain: Web3Chain) -> None:
    """Remember the deployment (idempotent), so `chain status` and the indexer can find it."""
    with engine.begin() as conn:
        exists = conn.execute(sa.select(deployments.c.address).where(
            deployments.c.chain_id == chain.sender.chain_id, deployments.c.address == chain.address)).first()
        if exists:
            return
        conn.execute(deployments.insert().values(
            chain_id=chain.sender.chain_id, address=chain.address, coin=chain.coin.value, deployment_version=1,
            deploy_block=getattr(chain, "deploy_block", 0), deploy_tx_hash=getattr(chain, "deploy_tx_hash", ""),
            roles_json=json.dumps(chain.keys.addresses(), sort_keys=True), created_at_ns=time.time_ns(),
        ))


def find_deployment(engine: sa.Engine, chain_id: int, coin: Currency) -> dict[str, object] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(deployments).where(deployments.c.chain_id == chain_id, deployments.c.coin == coin.coin.value)
            .order_by(deployments.c.deployment_version.desc(), deployments.c.created_at_ns.desc())
        ).first()
    return dict(row._mapping) if row else None


def checksum(address: str) -> str:
    return str(Web3.to_checksum_address(address))
