"""`bauhinia audit verify` checks the hash chain; `bauhinia audit export DIR` writes JSONL + manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bauhinia.domain.errors import InvariantViolation

app = typer.Typer(help="The hash-chained audit log: verify the chain, export it for auditors.", no_args_is_help=True)


def _engine():  # type: ignore[no-untyped-def]
    from bauhinia.adapters.store.db import make_engine, migrate
    from bauhinia.bootstrap import load_settings

    engine = make_engine(load_settings().resolved_database_url())
    migrate(engine)
    return engine


@app.command()
def verify(
    export_dir: Annotated[
        Path | None, typer.Option("--export-dir", help="Verify an export folder offline instead of the database")
    ] = None,
) -> None:
    """Recompute the chain; exit non-zero naming the first broken entry."""
    from bauhinia.adapters.store import audit

    report = audit.verify_export(export_dir) if export_dir is not None else audit.verify(_engine())
    print(json.dumps(report.as_dict(), indent=2))
    if not report.ok:
        raise InvariantViolation(f"audit chain broken at entry {report.first_broken_seq}: {report.reason}")


@app.command()
def export(directory: Annotated[Path, typer.Argument(help="Folder for audit.jsonl and manifest.json")]) -> None:
    """Export the verified log as JSONL with a manifest of hashes."""
    from bauhinia.adapters.store import audit

    manifest = audit.export(_engine(), directory)
    print(json.dumps(manifest, indent=2, sort_keys=True))


@app.command("verify-export")
def verify_export_archive(
    archive: Annotated[Path, typer.Argument(help="Records export (.tar.gz) of `regulatory export-records`")],
) -> None:
    """Check a records export offline: each file's SHA-256 against its manifest, then the audit chain inside."""
    from bauhinia.entrypoints.cli.regulatory import verify_export_cmd

    verify_export_cmd(archive)
