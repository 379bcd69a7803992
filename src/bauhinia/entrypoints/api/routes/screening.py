"""Screening: a name against the sanctions/PEP lists, a wallet against listed addresses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from bauhinia.domain import compliance as cmp
from bauhinia.entrypoints.api.auth import ADMIN, COMPLIANCE, OPERATOR, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.schemas import StrictCount

router = APIRouter(prefix="/screening", route_class=IdempotentRoute, tags=["screening"])

SCREENERS = (OPERATOR, COMPLIANCE, ADMIN)


class NameScreen(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    schema_: cmp.PartySchema | None = Field(default=None, alias="schema")
    date_of_birth: str = Field(default="", max_length=10, pattern=r"^(\d{4}(-\d{2}(-\d{2})?)?)?$")
    nationality: str = Field(default="", max_length=64)
    limit: StrictCount = Field(default=5, ge=1, le=50)


class HitPublic(BaseModel):
    entity_id: str
    matched_name: str
    score: float
    explanation: list[str]


class NameScreenResult(BaseModel):
    list_version: str
    hits: list[HitPublic]


@router.post("/names", response_model=NameScreenResult)
def screen_name(
    body: NameScreen, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*SCREENERS, scope="screening:run"))],
) -> NameScreenResult:
    screener = container.screener
    hits = screener.screen_name(body.name, body.schema_, body.date_of_birth, body.nationality, body.limit)
    return NameScreenResult(
        list_version=screener.list_version,
        hits=[HitPublic(entity_id=h.entity_id, matched_name=h.matched_name, score=h.score,
                        explanation=list(h.explanation)) for h in hits],
    )


class WalletScreen(BaseModel):
    address: str = Field(min_length=1, max_length=128)


class WalletScreenResult(BaseModel):
    address: str
    decision: str
    reasons: list[str]
    exposed_amount_base_units: int
    list_version: str


@router.post("/wallets", response_model=WalletScreenResult)
def screen_wallet(
    body: WalletScreen, container: ContainerDep,
    _: Annotated[Principal, Depends(require(*SCREENERS, scope="screening:run"))],
) -> WalletScreenResult:
    screener = container.screener
    a = screener.screen_wallet(body.address)
    return WalletScreenResult(address=a.address, decision=str(a.decision), reasons=list(a.reasons),
                              exposed_amount_base_units=a.exposed_amount_base_units,
                              list_version=screener.list_version)
