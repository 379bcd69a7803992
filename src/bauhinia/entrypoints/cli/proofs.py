"""`bauhinia verify-proof FILE [--root HEX --total N] [--holder-id ID]`: check a proof of liabilities.

Needs nothing but the proof file and the published root (hash and total). Exit 0 when the proof holds;
otherwise one line saying why and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bauhinia.domain.errors import ValidationError
from bauhinia.domain.proofs import ProofInvalid, proof_from_json, verify_holder, verify_inclusion

proof_file_bytes_max = 1_000_000


def verify_proof(
    file: Annotated[Path, typer.Argument(help="the inclusion proof (JSON) you downloaded")],
    root: Annotated[str | None, typer.Option("--root", help="published root hash (64 hex characters)")] = None,
    total: Annotated[str | None, typer.Option("--total", help="published total, in token base units")] = None,
    holder_id: Annotated[
        str | None, typer.Option("--holder-id", help="also check the leaf is yours (e.g. chain:0xabc...)")
    ] = None,
) -> None:
    """Verify that your balance is counted in the published total of liabilities."""
    try:
        if file.stat().st_size > proof_file_bytes_max:
            raise ProofInvalid(f"{file} is larger than a proof can be")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {file}: {exc.strerror}", code="file_unreadable") from None
    except UnicodeDecodeError:
        raise ProofInvalid(f"{file} is not UTF-8 text") from None
    proof = proof_from_json(text)
    if (root is None) != (total is None):
        raise ValidationError("give both --root and --total (the published root), or neither", code="bad_root")
    if root is not None and total is not None:
        try:
            root_hash = bytes.fromhex(root.strip().removeprefix("0x"))
        except ValueError:
            raise ValidationError("--root is not hex", code="bad_root") from None
        if len(root_hash) != 32:
            raise ValidationError("--root must be 32 bytes (64 hex characters)", code="bad_root")
        if not total.strip().isdigit():
            raise ValidationError("--total must be a non-negative integer (base units)", code="bad_root")
        root_total = int(total.strip())
        against = "the published root"
    else:
        root_hash, root_total = proof.root_hash, proof.root_total
        against = "the root inside the file (pass --root and --total to check against the published one)"
    verify_inclusion(proof, root_hash, root_total)
    if holder_id is not None:
        verify_holder(proof, holder_id)
    typer.echo(
        f"valid: balance {proof.balance} base units of {proof.coin or 'the coin'} (snapshot "
        f"{proof.snapshot_id or '-'}) is included in total {root_total} under root {root_hash.hex()}, "
        f"checked against {against}"
    )


def register(root: typer.Typer) -> None:
    root.command("verify-proof")(verify_proof)
