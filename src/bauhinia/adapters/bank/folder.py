"""The Bank port over folders: the embedded default, and the shape of a bank's host-to-host drop.

    <root>/inbox/        camt.053 / camt.054 files the bank delivers (*.xml)
    <root>/processed/    files whose content the caller has committed (moved by `acknowledge`)
    <root>/quarantine/   bad files, each with <name>.reason.txt saying why (code on the first line)
    <root>/outbox/       payment files we write (pain.001 / pacs.008), atomically: temp + fsync + rename

Reading does not move a good file: the caller books it, commits, then acknowledges. A crash in between
leaves the file in the inbox, to be read again; the caller's idempotency (content hash, message key, entry
keys) makes the second reading change nothing. A bad file is quarantined at once: it changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from bauhinia.adapters.bank.camt import SchemaMode, parse_camt
from bauhinia.adapters.bank.payments import write_payment
from bauhinia.domain.banking import (
    BankFileRejected,
    InboundFile,
    PaymentBatch,
    PaymentFile,
    PaymentScheme,
)
from bauhinia.domain.errors import ConflictError, ValidationError

inbound_files_per_read_max: int = 1_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write temp file in the same folder, fsync it, rename over the target, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


class FolderBank:
    """Implements ports.Bank with four folders under `root`."""

    def __init__(
        self,
        root: Path | str,
        *,
        accounts: Mapping[str, str] | None = None,
        scheme: PaymentScheme = PaymentScheme.PAIN_001_001_09,
        schema: SchemaMode = "auto",
    ) -> None:
        self.root = Path(root)
        self.inbox = self.root / "inbox"
        self.processed = self.root / "processed"
        self.quarantine_dir = self.root / "quarantine"
        self.outbox = self.root / "outbox"
        self.accounts = dict(accounts) if accounts is not None else None
        self.scheme = scheme
        self.schema: SchemaMode = schema
        for d in (self.inbox, self.processed, self.quarantine_dir, self.outbox):
            d.mkdir(parents=True, exist_ok=True)

    # --- inbound ---

    def pending_names(self) -> list[str]:
        return sorted(
            p.name for p in self.inbox.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".xml"
        )

    def read_inbound(self, max_files: int = 100) -> list[InboundFile]:
        """Parse up to `max_files` inbox files (oldest name first). Bad ones are quarantined and returned
        with their reason; good ones stay in the inbox until `acknowledge`."""
        max_files = max(0, min(max_files, inbound_files_per_read_max))
        out: list[InboundFile] = []
        for name in self.pending_names()[:max_files]:
            path = self.inbox / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # taken by a concurrent reader
                continue
            content_hash = hashlib.sha256(data).hexdigest()
            try:
                message = parse_camt(data, accounts=self.accounts, schema=self.schema)
            except BankFileRejected as exc:
                self._move_to_quarantine(name, exc.code, exc.detail)
                out.append(InboundFile(name, content_hash, None, exc.code, exc.detail))
                continue
            out.append(InboundFile(name, content_hash, message))
        return out

    def acknowledge(self, name: str) -> None:
        """The caller committed this file's content: move it to processed/. Idempotent."""
        self._move(self.inbox / self._safe(name), self.processed)

    def quarantine(self, name: str, code: str, reason: str) -> None:
        """Quarantine a parsed file for a reason only the caller knows (duplicate statement, unknown
        account...). Idempotent."""
        self._move_to_quarantine(self._safe(name), code, reason)

    def _move_to_quarantine(self, name: str, code: str, reason: str) -> None:
        target = self._move(self.inbox / name, self.quarantine_dir)
        if target is not None:
            atomic_write(target.with_name(target.name + ".reason.txt"), f"{code}\n{reason}\n".encode())

    def _move(self, src: Path, folder: Path) -> Path | None:
        if not src.exists():
            return None
        target = folder / src.name
        n = 1
        while target.exists():  # never overwrite an earlier file of the same name
            target = folder / f"{src.stem}.{n}{src.suffix}"
            n += 1
            if n > 10_000:
                raise ConflictError(f"too many files named {src.name} in {folder}")
        os.replace(src, target)
        _fsync_dir(folder)
        return target

    @staticmethod
    def _safe(name: str) -> str:
        if not _SAFE_NAME.match(name) or name.startswith("."):
            raise ValidationError(f"not a bank file name: {name!r}", code="bad_file_name")
        return name

    # --- outbound ---

    def write_payment_file(self, batch: PaymentBatch, scheme: PaymentScheme | None = None) -> PaymentFile:
        """Write the batch's payment file to the outbox. Writing the same batch again is a no-op that
        returns the same file; a different content under the same message id is a conflict."""
        scheme = scheme or self.scheme
        data, content_hash = write_payment(batch, scheme)
        name = self._safe(f"{scheme.value}-{batch.message_id}.xml")
        path = self.outbox / name
        if path.exists():
            existing = hashlib.sha256(path.read_bytes()).hexdigest()
            if existing != content_hash:
                raise ConflictError(
                    f"payment file {name} already written with other content", code="payment_file_conflict"
                )
        else:
            atomic_write(path, data)
        return PaymentFile(name, scheme, batch.message_id, content_hash, len(batch.payouts))

    def written_files(self) -> list[str]:
        return sorted(p.name for p in self.outbox.iterdir() if p.is_file() and not p.name.startswith("."))
