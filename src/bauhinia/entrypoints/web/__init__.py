"""Operations console (/console) and public transparency page (/transparency): server-rendered HTML over the
API's app, container and auth. `mount(app)` adds them to an app built by `entrypoints.api.app.create_app`."""

from __future__ import annotations

from typing import Any


def mount(app: Any) -> None:
    from fastapi.staticfiles import StaticFiles

    from bauhinia.domain.errors import BauhiniaError
    from bauhinia.entrypoints.api.problems import note_refusal
    from bauhinia.entrypoints.web import console, transparency
    from bauhinia.entrypoints.web.templating import STATIC_DIR, STATIC_PREFIX

    app.include_router(console.router)
    app.include_router(transparency.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(STATIC_DIR)), name="web-static")
    console.install_handlers(app)
    api_handler = app.exception_handlers.get(BauhiniaError)

    async def bauhinia_error(request: Any, exc: Exception) -> Any:
        if isinstance(exc, BauhiniaError):
            page = console.console_error(request, exc)
            if page is not None:
                await note_refusal(request, exc.http_status, exc.code, exc.detail, area="console")
                return page
        if api_handler is None:  # pragma: no cover - create_app always installs one
            raise exc
        return await api_handler(request, exc) if _is_async(api_handler) else api_handler(request, exc)

    app.add_exception_handler(BauhiniaError, bauhinia_error)


def _is_async(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)
