"""The API application: `create_app(settings)` builds a FastAPI app over a bootstrap Container.

OpenAPI 3.1 at /openapi.json is the contract; every resource has its router under /v1 (routes/<resource>.py);
errors are RFC 9457 problem+json; /metrics serves Prometheus metrics; /healthz says the process is up.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bauhinia.bootstrap import Container
from bauhinia.config import Settings
from bauhinia.entrypoints.api import problems
from bauhinia.entrypoints.api.auth import TokenIssuer
from bauhinia.entrypoints.api.body_limits import BodyLimits
from bauhinia.entrypoints.api.observability import Metrics, MetricsMiddleware
from bauhinia.entrypoints.api.refusals import RefusalAuditor
from bauhinia.entrypoints.process import settle_recursion_limit

API_PREFIX = "/v1"
# Routes that take whole files (the bank's ISO 20022 messages): they get the upload body limit.
UPLOAD_PATHS = (API_PREFIX + "/bank-files",)


def _routers() -> list[Any]:
    from bauhinia.entrypoints.api import routes

    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "router"):
            found.append(module.router)
    return found


def _route_by_first_segment(router: Any, prefix: str) -> None:
    """Let a router turn down, at once, a path whose first segment after `prefix` none of its routes has.

    FastAPI matches a request by asking every included router in turn, and each router tries every route; with
    this API's fifteen routers that search was a third of a small request's cost. A router whose routes all start
    with a literal segment answers NONE for other segments without trying its routes; anything else (a router
    with a parameter as first segment) keeps the full search."""
    from starlette.routing import Match

    firsts: set[str] = set()
    for route in router.routes:
        segment = str(getattr(route, "path", "")).lstrip("/").split("/", 1)[0]
        if not segment or "{" in segment:
            return
        firsts.add(segment)
    full_search = router.matches
    start = len(prefix) + 1

    def matches(scope: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if not path.startswith(prefix + "/") or path[start:].split("/", 1)[0] not in firsts:
            return Match.NONE, {}
        return full_search(scope)  # type: ignore[no-any-return]

    router.matches = matches


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settle_recursion_limit()
    container = container or Container(settings)
    app = FastAPI(
        title="Bauhinia API",
        version="1.0.0",
        summary="The platform of a Hong Kong-licensed stablecoin issuer",
        description=(
            "Errors are RFC 9457 problem+json. Every POST takes an `Idempotency-Key` header (except the OAuth2 "
            "token endpoint). Lists are cursor-paginated: pass `next_cursor` back as `cursor`."
        ),
        responses=problems.PROBLEM_RESPONSES,
    )
    app.state.container = container
    app.state.tokens = TokenIssuer(container.settings)
    problems.install(app)
    for router in _routers():
        _route_by_first_segment(router, API_PREFIX)
        app.include_router(router, prefix=API_PREFIX)
    # --- web hook (owned by entrypoints/web): the operations console /console and the public /transparency page
    from bauhinia.entrypoints.web import mount as mount_web

    mount_web(app)
    # --- end web hook

    def outbox_stats() -> Any:
        from bauhinia.adapters.events.outbox import stats

        return stats(container.engine, time.time_ns())

    metrics = Metrics(outbox_stats)
    app.state.metrics = metrics
    app.state.refusals = RefusalAuditor(container.engine, container.clock, metrics.registry,
                                        container.settings.refusal_audit_per_minute)
    # Body limits sit inside the metrics (so refusals are counted and logged) and outside everything else: no
    # parser and no authentication sees a body before its size and JSON depth are checked.
    s = container.settings
    app.add_middleware(BodyLimits, max_bytes=s.api_body_max_bytes, upload_max_bytes=s.api_upload_body_max_bytes,
                       json_depth_max=s.api_json_depth_max, upload_prefixes=UPLOAD_PATHS)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Ready to serve: the database, the chain node and NATS (when configured) answer; with `bauhinia run`,
        which jobs this replica is running now. 503 when a dependency is down."""
        checks = _readiness(container)
        scheduler = getattr(app.state, "scheduler", None)
        body: dict[str, Any] = {"status": "ok" if all(v == "ok" for v in checks.values()) else "unavailable",
                                "checks": checks}
        if scheduler is not None:
            body["replica"] = scheduler.holder
            body["jobs_running_here"] = sorted(scheduler.held)
        return Response(json.dumps(body), status_code=200 if body["status"] == "ok" else 503,
                        media_type="application/json")

    return app


def _readiness(container: Any) -> dict[str, str]:
    import socket
    from urllib.parse import urlparse

    import httpx

    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    url = container.settings.chain_rpc_url
    if url:
        try:
            answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                                timeout=2.0).json()
            checks["chain"] = "ok" if "result" in answer else "down: error answer"
        except Exception as exc:
            checks["chain"] = f"down: {type(exc).__name__}"
    else:
        checks["chain"] = "ok"  # the in-process chain lives in this process
    if container.settings.nats_url:
        target = urlparse(container.settings.nats_url)
        try:
            with socket.create_connection((target.hostname or "127.0.0.1", target.port or 4222), timeout=2.0):
                checks["nats"] = "ok"
        except OSError as exc:
            checks["nats"] = f"down: {type(exc).__name__}"
    return checks


def app_from_environment() -> FastAPI:
    """The app built from BAUHINIA_* settings: the factory each uvicorn worker process calls."""
    from bauhinia.entrypoints.api.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
