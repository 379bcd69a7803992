"""`bauhinia serve` runs the API (uvicorn); `bauhinia api create-client` / `create-key` set up machine clients.

The first admin client has to come from here (the API grants staff roles only through maker-checker).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="API clients and keys.", no_args_is_help=True)


def _engine():  # type: ignore[no-untyped-def]
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return engine


@app.command("create-client")
def create_client(
    client_id: Annotated[str, typer.Argument()],
    role: Annotated[list[str], typer.Option("--role", help="repeat for several roles")],
    customer_id: Annotated[str | None, typer.Option("--customer-id")] = None,
) -> None:
    """Create a client with roles; prints its secret once."""
    from bauhinia.adapters.store import api_credentials as creds

    secret = creds.create_client(_engine(), client_id, set(role), customer_id)
    typer.echo(json.dumps({"client_id": client_id, "client_secret": secret, "roles": sorted(role)}))


@app.command("create-key")
def create_key(
    client_id: Annotated[str, typer.Argument()],
    scope: Annotated[list[str], typer.Option("--scope", help="e.g. ledger:read; repeat; * for all")],
) -> None:
    """Create an API key for a client; prints it once."""
    from bauhinia.adapters.store import api_credentials as creds

    typer.echo(json.dumps({"client_id": client_id, "api_key": creds.create_api_key(_engine(), client_id, set(scope))}))


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
