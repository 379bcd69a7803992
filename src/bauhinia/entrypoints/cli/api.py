"""`bauhinia serve` runs the API (uvicorn); `bauhinia api create-client` / `create-key` set up machine clients.

The first two admins come from here on a new install; after that staff roles come only through maker-checker
(a role grant one admin asks for and another approves), here as on the API.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

app = typer.Typer(help="API clients and keys.", no_args_is_help=True)


def _engine():  # type: ignore[no-untyped-def]
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return engine


BOOTSTRAP_ADMINS = 2  # a new install needs two admins before any maker-checker request can be decided


@app.command("create-client")
def create_client(
    client_id: Annotated[str, typer.Argument()],
    role: Annotated[list[str], typer.Option("--role", help="repeat for several roles")],
    customer_id: Annotated[str | None, typer.Option("--customer-id")] = None,
) -> None:
    """Create a client; prints its secret once. Staff roles are granted through maker-checker: the operator
    (BAUHINIA_OPERATOR_ID, an admin) asks, a different admin approves (`bauhinia approvals approve`). Only on a
    new install, while fewer than two admins exist, `--role admin` alone creates an admin at once (audited)."""
    from bauhinia.adapters.store import api_credentials as creds
    from bauhinia.adapters.store import audit
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    roles = set(role)
    creds.check_roles(roles)
    engine = _engine()
    staff = roles - {"customer"}
    if roles == {"admin"} and creds.count_with_role(engine, "admin") < BOOTSTRAP_ADMINS:
        secret = creds.create_client(engine, client_id, roles, customer_id)
        with engine.begin() as conn:
            audit.append(conn, actor="cli:bootstrap", action="client.bootstrapped", subject=f"client:{client_id}",
                         details={"roles": ["admin"]}, now_ns=time.time_ns())
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret, "roles": ["admin"]}))
        return
    actor = _identity.authenticate(engine=engine)
    controls.require_role(actor, {"admin"}, "creating a client")
    secret = creds.create_client(engine, client_id, roles - staff, customer_id)
    with engine.begin() as conn:
        audit.append(conn, actor=actor.subject, action="client.created", subject=f"client:{client_id}",
                     details={"roles": sorted(roles - staff), "requested_roles": sorted(staff),
                              "customer_id": customer_id}, now_ns=time.time_ns())
    approvals = _approvals()
    pending = [str(controls.request_role_grant(approvals, actor, client_id, r, created_by=actor.subject).request.id)
               for r in sorted(staff)]
    typer.echo(json.dumps({"client_id": client_id, "client_secret": secret, "roles": sorted(roles - staff),
                           "role_grants_pending": dict(zip(sorted(staff), pending, strict=True))}))


def _approvals() -> Any:
    from bauhinia.bootstrap import Container

    return Container().approvals


@app.command("create-key")
def create_key(
    client_id: Annotated[str, typer.Argument()],
    scope: Annotated[list[str], typer.Option("--scope", help="e.g. ledger:read; repeat; * for all")],
) -> None:
    """Create an API key for your own client or a customer client (as the operator); prints it once."""
    from bauhinia.adapters.store import api_credentials as creds
    from bauhinia.domain.errors import ForbiddenError
    from bauhinia.entrypoints.cli import _identity
    from bauhinia.services import controls

    engine = _engine()
    actor = _identity.current()
    controls.require_role(actor, {"admin"}, "creating an API key")
    if client_id != actor.client_id and creds.get_client(engine, client_id).roles - {"customer"}:
        raise ForbiddenError("API keys for another staff client are created by that client",
                             code="key_for_other_staff")
    typer.echo(json.dumps({"client_id": client_id, "api_key": creds.create_api_key(engine, client_id, set(scope))}))


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    relay: Annotated[bool, typer.Option(help="run the outbox relay in this process")] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes (one per core)")] = 1,
) -> None:
    """Run the REST API (OpenAPI at /openapi.json, metrics at /metrics)."""
    import threading

    import uvicorn

    from bauhinia.bootstrap import Container, load_settings
    from bauhinia.entrypoints.api.app import create_app
    from bauhinia.entrypoints.api.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    if workers > 1:
        # Several processes: each builds its app from the environment; the outbox relay runs on its own
        # (`bauhinia events relay`), so events keep one publisher and their order. Each worker would make its
        # own random signing secret, and a token from one would fail on the others: refuse instead.
        if settings.api_jwt_algorithm == "HS256" and not settings.api_jwt_secret:
            from bauhinia.domain.errors import ConfigError

            raise ConfigError("--workers > 1 needs one signing secret for every worker: set BAUHINIA_API_JWT_SECRET "
                              "(32+ characters) or ES256 with BAUHINIA_API_JWT_PRIVATE_KEY_FILE",
                              code="jwt_secret_not_shared")
        if relay:
            typer.echo("with --workers > 1 run the relay separately: bauhinia events relay", err=True)
        Container(settings).engine  # noqa: B018 - migrate once, before the workers start
        uvicorn.run("bauhinia.entrypoints.api.app:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_config=None, access_log=False)
        return
    container = Container(settings)
    api = create_app(settings, container=container)
    stop = threading.Event()
    if relay:
        from bauhinia.entrypoints.workers.outbox_relay import run_relay

        threading.Thread(target=run_relay, args=(container, stop), name="outbox-relay", daemon=True).start()
    try:
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
    finally:
        stop.set()


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
