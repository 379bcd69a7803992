"""The hash-chained audit log: verify the chain, page through entries (auditors' export)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from bauhinia.adapters.store import audit
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, COMPLIANCE, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params

router = APIRouter(prefix="/audit", route_class=IdempotentRoute, tags=["audit"])


class VerifyPublic(BaseModel):
    ok: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    reason: str


class AuditEntryPublic(BaseModel):
    seq: int
    at_ns: int
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@router.get("/verify", response_model=VerifyPublic)
def verify(
    container: ContainerDep, _: Annotated[Principal, Depends(require(AUDITOR, ADMIN, scope="audit:read"))]
) -> VerifyPublic:
    return VerifyPublic(**audit.verify(container.engine).as_dict())


@router.get("/entries", response_model=Page[AuditEntryPublic])
def entries(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(AUDITOR, COMPLIANCE, ADMIN, scope="audit:read"))],
    subject: Annotated[str | None, Query(max_length=256)] = None,
) -> dict:
    after = pg.after if isinstance(pg.after, int) and not isinstance(pg.after, bool) else 0
    rows = audit.list_entries(container.engine, after_seq=after, limit=pg.limit + 1, subject=subject)
    return page(rows, pg.limit, lambda e: e["seq"])
