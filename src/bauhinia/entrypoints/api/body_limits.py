"""Request body limits in front of every parser and before authentication.

An ASGI middleware, outermost in the stack, that reads a request's body itself, bounded:
- a body larger than its route class allows is answered 413 problem+json. A declared `Content-Length` over the
  limit is refused before a byte of the body is read; a chunked body is read only up to the limit plus one byte;
- a JSON body (declared as JSON, or undeclared and starting with `[` or `{`, which FastAPI would parse as JSON)
  nested deeper than the limit is answered 400 problem+json without being handed to any JSON decoder.

The body, once checked, is replayed to the application unchanged, so routes, idempotency and authentication see
exactly what the client sent. Nothing here resolves a token: an anonymous attacker gets the same cheap refusal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from itertools import accumulate
from typing import Any

from bauhinia.entrypoints.api.problems import MEDIA_TYPE, PROBLEM_BASE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A JSON string, escapes included: removed before counting brackets, so brackets inside strings do not count.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether `body` nests arrays and objects more than `limit` levels deep (brackets inside strings aside).

    Runs at C speed for ordinary bodies: a body with no more opening brackets than the limit cannot be deeper,
    whatever its shape. Otherwise it counts, and stops at the first level past the limit."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return any(depth > limit for depth in accumulate(_STEP[b] for b in brackets))


def _is_json(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media:
        return media == "application/json" or media.endswith("+json")
    return body.lstrip()[:1] in (b"[", b"{")


class BodyLimits:
    """ASGI middleware: `max_bytes` for every body, `upload_max_bytes` for paths under `upload_prefixes`, and
    `json_depth_max` for JSON bodies."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int, json_depth_max: int,
                 upload_prefixes: tuple[str, ...] = ()) -> None:
        if max_bytes < 1 or upload_max_bytes < max_bytes or json_depth_max < 1:
            raise ValueError("body limits: need 1 <= max_bytes <= upload_max_bytes and json_depth_max >= 1")
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.json_depth_max = json_depth_max
        self.upload_prefixes = upload_prefixes

    def limit_for(self, path: str) -> int:
        return self.upload_max_bytes if path.startswith(self.upload_prefixes) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length", "")
        if declared:
            if not declared.isdigit():
                await _problem(send, path, 400, "bad_content_length", "Bad request",
                               "Content-Length must be a decimal number of bytes")
                return
            if int(declared) > limit:
                await _too_large(send, path, limit)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, path, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(headers.get("content-type", ""), body) and json_too_deep(body, self.json_depth_max):
            await _problem(send, path, 400, "json_too_deep", "Bad request",
                           f"the JSON body is nested deeper than {self.json_depth_max} levels")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)


async def _too_large(send: Send, path: str, limit: int) -> None:
    await _problem(send, path, 413, "body_too_large", "Request body too large",
                   f"this route takes bodies of at most {limit} bytes", close=True)


async def _problem(send: Send, path: str, status: int, code: str, title: str, detail: str,
                   close: bool = False) -> None:
    body = json.dumps({"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail,
                       "code": code, "instance": path}).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
