"""RFC 9457 problem details (application/problem+json) for every error the API returns.

BauhiniaError subclasses map by their own `code` (type URI), `http_status`, `title` and `detail`; request
validation errors, HTTP errors raised by the framework and unexpected exceptions get the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from bauhinia.domain.errors import BauhiniaError

log = logging.getLogger("bauhinia.api")

PROBLEM_BASE = "https://bauhinia.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Unauthenticated(BauhiniaError):
    code = "unauthenticated"
    title = "Authentication required"
    http_status = 401


class Problem(BaseModel):
    """The problem+json body (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    errors: list[dict[str, Any]] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": title}
    for status, title in (
        (400, "Bad request"), (401, "Not authenticated"), (403, "Not allowed"), (404, "Not found"),
        (409, "Conflict"), (422, "Invalid or refused"),
    )
}


def problem_response(
    request: Request | None, *, status: int, code: str, title: str, detail: str,
    errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(request: Request | None, exc: BauhiniaError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="bauhinia"'} if exc.http_status == 401 else None
    if exc.http_status >= 500:
        log.error("invariant or server error %s: %s", exc.code, exc.detail)
    return problem_response(
        request, status=exc.http_status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers
    )


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    out = []
    for e in errors[:50]:
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))})
    return out


async def note_refusal(request: Request, status: int, code: str, detail: str, area: str = "api") -> None:
    """Refused attempts (401, 403, 429, idempotency conflicts, ...) go to the audit log (rate-limited): see
    `refusals`. The auditor is on `app.state.refusals` (absent in apps built without one)."""
    auditor = getattr(request.app.state, "refusals", None)
    if auditor is not None:
        from bauhinia.entrypoints.api.refusals import is_refusal

        if is_refusal(status, code):
            await auditor.arecord(request, status=status, reason=code, detail=detail, area=area)


CANDIDATE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes on this request's path. Starlette's 405 names only the methods of
    the first route whose path matched, though several routes (GET and POST on a collection) share a path. Each
    method is tried against the app's routes through their public `matches` (included routers answer for theirs)."""
    from starlette.routing import Match

    methods = []
    for method in CANDIDATE_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


def install(app: FastAPI) -> None:
    @app.exception_handler(BauhiniaError)
    async def _bauhinia(request: Request, exc: BauhiniaError) -> JSONResponse:
        await note_refusal(request, exc.http_status, exc.code, exc.detail)
        return from_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            request, status=422, code="invalid_request", title="Invalid request",
            detail="the request does not match the schema", errors=_clean(list(exc.errors())),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        await note_refusal(request, exc.status_code, code, str(exc.detail))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(
            request, status=exc.status_code, code=code, title=str(exc.detail) or "HTTP error",
            detail=str(exc.detail), headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, status=500, code="internal_error", title="Internal error",
            detail="an unexpected error happened; it was logged with the request id",
        )
