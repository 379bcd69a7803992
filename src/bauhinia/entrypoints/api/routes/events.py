"""Events: outbox lag, webhook dead letters and their replay."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from bauhinia.adapters.events import outbox
from bauhinia.domain.limits import int64_max
from bauhinia.entrypoints.api.auth import ADMIN, AUDITOR, OPERATOR, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params

router = APIRouter(prefix="/events", route_class=IdempotentRoute, tags=["events"])


class OutboxStatsPublic(BaseModel):
    pending: int
    dead: int
    oldest_pending_age_ns: int


@router.get("/outbox", response_model=OutboxStatsPublic)
def outbox_stats(
    container: ContainerDep, _: Annotated[Principal, Depends(require(OPERATOR, AUDITOR, ADMIN, scope="events:read"))]
) -> OutboxStatsPublic:
    s = outbox.stats(container.engine, time.time_ns())
    return OutboxStatsPublic(pending=s.pending, dead=s.dead, oldest_pending_age_ns=s.oldest_pending_age_ns)


class DeadLetterPublic(BaseModel):
    id: int
    event_id: int
    endpoint: str
    topic: str
    attempts: int
    last_error: str
    created_at_ns: int


@router.get("/webhook-dead-letters", response_model=Page[DeadLetterPublic])
def dead_letters(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(OPERATOR, AUDITOR, ADMIN, scope="events:read"))],
) -> dict:
    rows = container.webhooks.dead_letters(limit=1_000)
    if isinstance(pg.after, int):
        rows = [d for d in rows if d.id > pg.after]
    items = [DeadLetterPublic(id=d.id, event_id=d.event_id, endpoint=d.endpoint, topic=d.topic,
                              attempts=d.attempts, last_error=d.last_error, created_at_ns=d.created_at_ns)
             for d in rows[: pg.limit + 1]]
    return page(items, pg.limit, lambda d: d.id)


class ReplayResult(BaseModel):
    delivered: int
    still_failing: int


@router.post("/webhook-dead-letters/{dead_letter_id}/replay", response_model=ReplayResult)
def replay(
    dead_letter_id: Annotated[int, Path(ge=1, le=int64_max)], container: ContainerDep,
    _: Annotated[Principal, Depends(require(OPERATOR, ADMIN, scope="events:write"))],
) -> ReplayResult:
    delivered, failing = container.webhooks.replay(dead_letter_id)
    return ReplayResult(delivered=delivered, still_failing=failing)
