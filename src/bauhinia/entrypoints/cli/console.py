"""`bauhinia console serve` runs the API with the operations console (/console) and the public transparency page
(/transparency); `--demo-data` first fills a fresh data folder with the demo scenario. `bauhinia console
demo-data` only fills it (and prints the demo staff credentials)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Operations console and transparency page.", no_args_is_help=True)

DataDirOpt = Annotated[Path, typer.Option(help="demo data folder (wiped first)")]


def _seed(data_dir: Path) -> object:
    from rich.console import Console
    from rich.table import Table

    from bauhinia.entrypoints.web import demo_data

    data = demo_data.seed(data_dir)
    demo_data.write_credentials(data, data_dir / "console-users.json")
    proofs = demo_data.write_proofs(data, data_dir / "proofs")
    out = Console()
    table = Table(title="Demo console users (demo only; also in console-users.json)")
    table.add_column("client id")
    table.add_column("role")
    table.add_column("secret")
    for client_id, secret in data.secrets.items():
        role = demo_data.STAFF.get(client_id, "customer")
        table.add_row(client_id, role, secret)
    out.print(table)
    out.print(f"holders' proofs of inclusion: {', '.join(str(p) for p in proofs)}")
    out.print(f"database {data.issuer.settings.resolved_database_url()}")
    return data


@app.command("demo-data")
def demo_data_command(data_dir: DataDirOpt = Path("var/console-demo")) -> None:
    """Fill a fresh database with the demo scenario (customers, mints, redemptions, reserves, approvals, cases).

    The in-process EVM ends with this command: serve the same folder with `bauhinia console serve` to browse the
    stored figures, or use `serve --demo-data` to keep the chain too."""
    data = _seed(data_dir)
    data.container.close()  # type: ignore[attr-defined]


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    demo: Annotated[bool, typer.Option("--demo-data", help="seed the demo scenario into --data-dir first")] = False,
    data_dir: DataDirOpt = Path("var/console-demo"),
) -> None:
    """Serve the API, the console and the transparency page (single process, outbox relay included)."""
    import threading

    import uvicorn

    from bauhinia.bootstrap import Container, load_settings
    from bauhinia.entrypoints.api.app import create_app
    from bauhinia.entrypoints.api.observability import configure_logging

    if demo:
        data = _seed(data_dir)
        container = data.container  # type: ignore[attr-defined]
        settings = container.settings
    else:
        settings = load_settings()
        container = Container(settings)
    configure_logging(settings.log_level, settings.log_json)
    api = create_app(settings, container=container)
    stop = threading.Event()
    from bauhinia.entrypoints.workers.outbox_relay import run_relay

    threading.Thread(target=run_relay, args=(container, stop), name="outbox-relay", daemon=True).start()
    typer.echo(json.dumps({"console": f"http://{host}:{port}/console",
                           "transparency": f"http://{host}:{port}/transparency"}))
    try:
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
    finally:
        stop.set()
