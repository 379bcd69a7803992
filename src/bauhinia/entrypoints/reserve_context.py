"""Wires the reserve's daily work (reconciliation, proof of liabilities) from the Container: the reserves store,
the read-only sources over the shared database, the ledger, the coin chains and their indexers.

Snapshot secrets (which salt the holder ids of a proof-of-liabilities snapshot) are kept as private files under
<data_dir>/pol-secrets, readable by the operator only; without one a snapshot's proofs cannot be re-issued.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

from bauhinia.domain.errors import ValidationError
from bauhinia.services.reconciliation import ReserveContext

_snapshot_id = re.compile(r"[A-Za-z0-9._-]{1,64}")


def secret_store(folder: Path) -> Any:
    def snapshot_secret(snapshot_id: str) -> bytes:
        if not _snapshot_id.fullmatch(snapshot_id) or snapshot_id.startswith("."):
            raise ValidationError("snapshot id: 1..64 of A-Z a-z 0-9 . _ -", code="bad_snapshot_id")
        path = folder / f"{snapshot_id}.key"
        if path.exists():
            return path.read_bytes().strip()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        value = secrets.token_hex(32).encode()
        with os.fdopen(fd, "wb") as fh:
            fh.write(value)
        return value

    return snapshot_secret


def reserve_context(container: Any) -> ReserveContext:
    """The ReserveContext of a bootstrap.Container (the issuance context supplies chains, cursors and index)."""
    from bauhinia.adapters.store.reserve_sources import SqlReserveSources

    ictx = container.issuance
    return ReserveContext(
        reserves=container.reserves,
        sources=SqlReserveSources(container.engine),
        ledger=container.ledger,
        chains=ictx.chains,
        coin_cursors=ictx.coin_cursors,
        index=ictx.index,
        reserve_accounts=ictx.reserve_accounts,
        clock=container.clock,
        snapshot_secret=secret_store(Path(container.settings.data_dir) / "pol-secrets"),
        buffer_bps=container.settings.coverage_buffer_bps,
    )
