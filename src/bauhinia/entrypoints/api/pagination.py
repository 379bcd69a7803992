"""Cursor pagination: `?limit=&cursor=`; responses are `{"items": [...], "next_cursor": "..." | null}`.

The cursor is opaque to clients (URL-safe base64 of the last key seen); pass `next_cursor` back to continue.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from bauhinia.domain.errors import ValidationError

T = TypeVar("T")
LIMIT_DEFAULT = 50
LIMIT_MAX = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    after: Any = None


def encode_cursor(last_key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": last_key}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)["k"]
    except (ValueError, KeyError, TypeError):
        raise ValidationError("the cursor is not one this API issued", code="bad_cursor") from None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX, description="items per page")] = LIMIT_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor))


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """Build a page from up to limit+1 fetched items; `key(item)` gives the cursor key of an item."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(key(items[-1])) if more and items else None}
