"""The `bauhinia` command. Each capability adds a Typer sub-app in its own module of this package.

A module `entrypoints/cli/<name>.py` that defines `app` becomes `bauhinia <name> ...`; one that defines
`register(root)` adds top-level commands. Expected errors print one line and exit non-zero.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import click
import typer

from bauhinia.domain.errors import BauhiniaError

root = typer.Typer(
    name="bauhinia",
    help="Bauhinia: the platform of a Hong Kong-licensed stablecoin issuer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _load_commands() -> None:
    from bauhinia.entrypoints import cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in ("main",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(root)
        if hasattr(module, "app"):
            root.add_typer(module.app, name=info.name.replace("_", "-"))


_load_commands()


def build_command() -> Any:
    """The `bauhinia` command with every command guarded by who runs it (entrypoints/cli/_identity.py)."""
    from bauhinia.entrypoints.cli import _identity

    command = typer.main.get_command(root)
    for path, leaf in _identity.leaves(command):
        _identity.guard(path, leaf)
    return command


def main() -> None:
    from bauhinia.entrypoints.process import settle_recursion_limit

    settle_recursion_limit()  # before any command parses a file: see entrypoints/process.py
    try:
        rc = build_command().main(prog_name="bauhinia", standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except BauhiniaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        # Typer ships its own copy of click (typer._click): recognise a usage error by its shape.
        if isinstance(exc, click.exceptions.ClickException) or (
                hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)):
            print(f"error: {exc.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        import pydantic

        from bauhinia.config import Settings

        if isinstance(exc, pydantic.ValidationError):  # a BAUHINIA_ setting the environment gives is malformed
            print(f"error: {settings_problem(exc)}", file=sys.stderr)
            sys.exit(2)
        if getattr(exc, "code", None) == "chain_key_unfunded":  # an operator's task, said in one line
            print(f"error: chain_key_unfunded: {exc}", file=sys.stderr)
            sys.exit(2)
        if Settings().debug:
            raise
        print(f"error: internal: {type(exc).__name__}: {exc} (set BAUHINIA_DEBUG=1 for the traceback)",
              file=sys.stderr)
        sys.exit(1)


def settings_problem(exc: Any) -> str:
    """One line naming each malformed setting (BAUHINIA_<NAME>) and what it should be."""
    parts = []
    for err in exc.errors()[:10]:
        name = "BAUHINIA_" + "_".join(str(x) for x in err.get("loc", ())).upper()
        parts.append(f"{name}={str(err.get('input', ''))[:60]!r}: {err.get('msg', 'invalid')}")
    return "bad setting(s): " + "; ".join(parts)


if __name__ == "__main__":
    main()
