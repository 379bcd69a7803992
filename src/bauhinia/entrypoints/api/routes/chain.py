"""Chain status per coin: supply, attested reserve, paused, roles, head block; the coin's powers (pause, unpause,
unfreeze, wipe) only as maker-checker requests (services/controls.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from bauhinia.domain.money import Currency
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, TREASURY, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.entrypoints.api.routes.reserves import CoinPath
from bauhinia.entrypoints.api.schemas import Text
from bauhinia.services import controls

router = APIRouter(prefix="/chain", route_class=IdempotentRoute, tags=["chain"])


class CoinStatusPublic(BaseModel):
    currency: str
    address: str
    chain_id: int
    total_supply_base_units: int
    attested_reserve_base_units: int
    attested_at_s: int
    reserve_max_age_s: int
    paused: bool
    licence_number: str
    approval_reference: str
    roles: dict[str, str]
    head_block: int


@router.get("/status/{coin}", response_model=CoinStatusPublic)
def chain_status(
    coin: CoinPath, container: ContainerDep,
    _: Annotated[Principal, Depends(require(OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN, scope="chain:read"))],
) -> CoinStatusPublic:
    s = container.chains.for_coin(Currency(coin.value)).status()
    return CoinStatusPublic(
        currency=s.currency, address=s.address, chain_id=s.chain_id, total_supply_base_units=s.total_supply_base_units,
        attested_reserve_base_units=s.attested_reserve_base_units, attested_at_s=s.attested_at_s,
        reserve_max_age_s=s.reserve_max_age_s, paused=s.paused, licence_number=s.licence_number,
        approval_reference=s.approval_reference, roles=dict(s.roles), head_block=s.head_block,
    )


class ChainControlCreate(BaseModel):
    action: Literal["pause", "unpause", "unfreeze", "wipe"]
    reason: Text = Field(min_length=1, max_length=500)
    addresses: list[Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]] = Field(default=[], max_length=100)
    order: Text = Field(default="", max_length=500, description="a wipe's order (its SHA-256 goes on chain)")


@router.post("/{coin}/controls", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def request_chain_control(
    coin: CoinPath, body: ChainControlCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(OPERATOR, COMPLIANCE, ADMIN, scope="chain:write"))],
) -> ApprovalPublic:
    """Ask to pause or unpause the coin, unfreeze addresses or wipe a frozen one: an approval request (see
    /v1/approvals); a different compliance officer or admin approves (two for a wipe), then it reaches the chain."""
    sub = controls.request_chain_control(container.approvals, principal.actor, body.action, Currency(coin.value),
                                         body.reason, addresses=body.addresses, order=body.order)
    return approval_public(sub.request)


class MinterChange(BaseModel):
    minter: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    allowance_base_units: int | None = Field(default=None, ge=0, le=2**256 - 1,
                                             description="the new allowance; omitted with remove=true")
    remove: bool = False
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{coin}/minters", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def change_minter(
    coin: CoinPath, body: MinterChange, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(TREASURY, ADMIN, scope="chain:write"))],
) -> ApprovalPublic:
    """Ask to make an address a minter with an allowance, change its allowance, or remove it (approval
    `minter_admin`: two other treasury users or admins), then the master minter's key does it on chain."""
    action = "minter_remove" if body.remove else "minter_allowance"
    sub = controls.request_chain_control(container.approvals, principal.actor, action, Currency(coin.value),
                                         body.reason, addresses=[body.minter],
                                         amount_base_units=body.allowance_base_units)
    return approval_public(sub.request)


class RescueCreate(BaseModel):
    token: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="the other token's contract")
    receiver: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    amount_base_units: int = Field(gt=0, le=2**256 - 1)
    reason: Text = Field(min_length=1, max_length=500)


@router.post("/{coin}/rescues", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def rescue(
    coin: CoinPath, body: RescueCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(ADMIN, scope="chain:write"))],
) -> ApprovalPublic:
    """Ask to return another token sent to the coin's contract by mistake (approval `rescue`: two other admins),
    then the rescuer's key sends it to the receiver."""
    sub = controls.request_chain_control(container.approvals, principal.actor, "rescue", Currency(coin.value),
                                         body.reason, addresses=[body.receiver], token=body.token,
                                         amount_base_units=body.amount_base_units)
    return approval_public(sub.request)
