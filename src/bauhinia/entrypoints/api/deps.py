"""Shared dependencies for routers: the container and the clock."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request


def get_container(request: Request) -> Any:
    return request.app.state.container


ContainerDep = Annotated[Any, Depends(get_container)]
