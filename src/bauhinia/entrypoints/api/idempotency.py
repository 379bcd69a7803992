"""`Idempotency-Key` on every POST: the first response is stored; the same key with the same request replays it
(header `Idempotent-Replayed: true`); the same key with a different request is a 409 problem; a key whose first
request is still running is a 409 too. Keys are scoped to the authenticated client. Each accepted (< 400) POST
also gets an `api.<route name>` entry in the hash-chained audit log.

A route whose service keeps the key itself, in the same transaction as the state it guards, is marked
`openapi_extra={SERVICE_KEYED: True}`: the header is still required, and the route passes it to the service, which
answers a repeat with what the key recorded and refuses a different request under the same key (409). That saves
the two extra transactions around the call (a redemption request is one transaction, not three); the service's own
audit entry names the API client and the key.

Used as the router's `route_class`: `APIRouter(route_class=IdempotentRoute)`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.domain.errors import BauhiniaError
from bauhinia.entrypoints.api import problems
from bauhinia.entrypoints.api.auth import principal_from_request

HEADER = "Idempotency-Key"
KEY_LENGTH_MAX = 128
EXEMPT = "x-idempotency-exempt"
SERVICE_KEYED = "x-idempotency-service-keyed"
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_header(
    idempotency_key: Annotated[
        str, Header(alias=HEADER, min_length=1, max_length=KEY_LENGTH_MAX,
                    description="Unique per operation; repeating it with the same body replays the response")
    ],
) -> str:
    return idempotency_key


class IdempotentRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in (kwargs.get("methods") or [])}
        extra = kwargs.get("openapi_extra") or {}
        keyed_here = "POST" in methods and not extra.get(EXEMPT)
        self.idempotent = keyed_here and not extra.get(SERVICE_KEYED)
        if keyed_here:
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(idempotency_header)]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.idempotent:
            return handler

        async def idempotent_handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if not key or len(key) > KEY_LENGTH_MAX:
                return await handler(request)  # the header dependency answers with a 422 problem
            try:
                principal = principal_from_request(request)
            except BauhiniaError:
                return await handler(request)  # the auth dependency answers with a 401 problem
            engine = request.app.state.container.engine
            body = await request.body()
            digest = hashlib.sha256(
                request.method.encode() + b" " + request.url.path.encode() + b"?" + request.url.query.encode()
                + b"\n" + body
            ).hexdigest()
            # Database work runs in a worker thread: the event loop must never wait on a commit.
            stored = await run_in_threadpool(creds.idempotency_reserve, engine, principal.subject, key, digest)
            if stored is not None:
                if stored.request_sha256 != digest:
                    await problems.note_refusal(request, 409, "idempotency_key_reused",
                                                f"Idempotency-Key {key[:64]} reused with a different request")
                    return problems.problem_response(
                        request, status=409, code="idempotency_key_reused", title="Idempotency key reused",
                        detail="this Idempotency-Key was used with a different request",
                    )
                if stored.status_code == 0:
                    return problems.problem_response(
                        request, status=409, code="idempotency_in_progress", title="Request in progress",
                        detail="a request with this Idempotency-Key is still running; retry later",
                    )
                return Response(
                    stored.body, status_code=stored.status_code, media_type=stored.content_type,
                    headers={REPLAYED_HEADER: "true"},
                )
            try:
                response = await handler(request)
            except BauhiniaError as exc:
                await problems.note_refusal(request, exc.http_status, exc.code, exc.detail)
                response = problems.from_error(request, exc)
            except BaseException:
                await run_in_threadpool(creds.idempotency_release, engine, principal.subject, key)
                raise
            if response.status_code >= 500 or not hasattr(response, "body"):
                await run_in_threadpool(creds.idempotency_release, engine, principal.subject, key)
                return response
            entry = None
            if response.status_code < 400:
                # Every accepted state-changing call is in the hash-chained audit log (who, what, when).
                entry = {"actor": principal.subject, "action": f"api.{self.name}", "subject": request.url.path[:256],
                         "details": {"method": request.method, "status": response.status_code,
                                     "idempotency_key": key, "request_sha256": digest},
                         "now_ns": request.app.state.container.clock.now_ns()}
            await run_in_threadpool(
                creds.idempotency_store, engine, principal.subject, key, response.status_code,
                response.headers.get("content-type"), bytes(response.body), entry,
            )
            return response

        return idempotent_handler
