"""Prometheus metrics, structured JSON logs with request ids, and the filter that keeps secrets out of logs.

`MetricsMiddleware` (pure ASGI) counts requests and observes latency by method, route template and status,
sets a request id (the client's `X-Request-Id` if sane, else a new one) for the logs and echoes it back.
`RedactingFilter` masks JWTs, bearer tokens, API keys, secrets in key=value / JSON form, PEM blocks, 32-byte
hex keys and long digit runs (account numbers: only the last 4 digits stay).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), "[private-key]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[jwt]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\bbk_[0-9a-f]{16}_[A-Za-z0-9_-]+"), "bk_[redacted]"),
    (
        re.compile(
            r"(?i)([\"']?\b(?:[a-z_]*secret|password|passwd|api[_-]?key|client_secret|access_token|token|"
            r"private[_-]?key|authorization|mnemonic)\b[\"']?\s*[:=]\s*[\"']?)([^\"'\s,;}&]+)"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]{64}\b"), "0x[redacted-32-bytes]"),
    (re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"), lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:]),
    (re.compile(r"(?<![\d.])\d{9,34}(?![\d.])"), lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:]),
)


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)  # type: ignore[arg-type]
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: "[redacted]" if _secret_key(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 9:
        return redact(str(value))
    return value


def _secret_key(key: Any) -> bool:
    k = str(key).lower()
    return any(w in k for w in ("secret", "password", "token", "api_key", "apikey", "private_key", "authorization"))


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class RedactingFilter(logging.Filter):
    """Masks secrets, keys, JWTs and account numbers in the message, its arguments and any extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD:
                record.__dict__[name] = "[redacted]" if _secret_key(name) else _redact_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD:
                out[name] = value
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_logs: bool = True, stream: Any = None) -> logging.Handler:
    """Install one handler on the root logger with the redacting filter (and JSON lines when asked)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_bauhinia", False):
            root.removeHandler(h)
    handler._bauhinia = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


class Metrics:
    def __init__(self, outbox_stats: Callable[[], Any] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bauhinia_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "bauhinia_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        if outbox_stats is not None:
            self.registry.register(_OutboxCollector(outbox_stats))


class _OutboxCollector:
    def __init__(self, stats: Callable[[], Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            s = self.stats()
        except Exception:  # the database being down must not break the scrape
            return []
        return [
            GaugeMetricFamily("bauhinia_outbox_pending_events", "Outbox events not yet published", value=s.pending),
            GaugeMetricFamily("bauhinia_outbox_dead_events", "Outbox events out of attempts", value=s.dead),
            GaugeMetricFamily(
                "bauhinia_outbox_lag_seconds", "Age of the oldest unpublished outbox event",
                value=s.oldest_pending_age_ns / 1e9,
            ),
        ]


def _client_of(scope: dict[str, Any]) -> str:
    """The client the request authenticated as (API principal or console session), else "-"."""
    state = scope.get("state")
    if not isinstance(state, dict):
        return "-"
    principal = state.get("principal")
    if principal is None:
        principal = getattr(state.get("console_session"), "principal", None)
    return str(getattr(principal, "client_id", None) or "-")


class MetricsMiddleware:
    """Pure ASGI: request id, metrics by route template and status, one JSON access log line per request."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("bauhinia.api.access")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID_OK.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(rid)
        scope.setdefault("state", {})  # shared with the request: the access line names who authenticated
        status = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            fastapi_scope = scope.get("fastapi")  # FastAPI keeps the route with its full (prefixed) path here
            ctx = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
            template = getattr(ctx, "path", None) or getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            if self.log.isEnabledFor(logging.INFO):
                client = _client_of(scope)
                peer = scope.get("client")
                address = str(peer[0]) if peer else "-"
                self.log.info(
                    "%s %s %s client=%s addr=%s", method, template, status["code"], client, address,
                    extra={"status": status["code"], "duration_ms": round(elapsed * 1000, 3), "client": client,
                           "remote_addr": address},
                )
            request_id_var.reset(token)
