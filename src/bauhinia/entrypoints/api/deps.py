"""Shared dependencies for routers: the container and the clock."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request


async def get_container(request: Request) -> Any:
    # async: a plain attribute read needs no worker thread (each sync dependency costs a thread hop)
    return request.app.state.container


ContainerDep = Annotated[Any, Depends(get_container)]
