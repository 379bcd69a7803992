"""Chain status per coin: supply, attested reserve, paused, roles, head block."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from bauhinia.domain.money import Currency
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, OPERATOR, TREASURY, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.routes.reserves import CoinPath

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
