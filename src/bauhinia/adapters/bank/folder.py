"""The Bank port over folders: the embedded default, and the shape of a bank's host-to-host drop.

    <root>/inbox/        camt.053 / camt.054 files the bank delivers (*.xml)
    <root>/processed/    files whose content the caller has committed (moved by `acknowledge`)
    <root>/quarantine/   bad files, each with <name>.reason.txt saying why (code on the first line)
    <root>/outbox/       payment files we write (pain.001 / pacs.008), atomically: temp + fsync + rename
    <root>/held/         files a person uploaded, waiting for a second person's approval (`hold` / `release`)

With a `verifier` (the bank's public key), every inbound file needs its detached signature beside it
(`<name>.sig`); a file without one, or with a signature that does not verify, is quarantined unread. Copies of
rejected uploads are kept in quarantine/ within `quarantine_bytes_max` (the oldest are removed first).

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
from bauhinia.adapters.bank.signature import BankSignatureVerifier
from bauhinia.domain.banking import (
    BankFileRejected,
    BankMessage,
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
        verifier: BankSignatureVerifier | None = None,
        quarantine_bytes_max: int = 256 * 1024 * 1024,
    ) -> None:
        self.root = Path(root)
        self.inbox = self.root / "inbox"
        self.processed = self.root / "processed"
        self.quarantine_dir = self.root / "quarantine"
        self.outbox = self.root / "outbox"
        self.held = self.root / "held"
        self.verifier = verifier
        self.quarantine_bytes_max = quarantine_bytes_max
        self.accounts = dict(accounts) if accounts is not None else None
        self.scheme = scheme
        self.schema: SchemaMode = schema
        for d in (self.inbox, self.processed, self.quarantine_dir, self.outbox, self.held):
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
                self._check_signature(data, self._signature_of(path))
                message = parse_camt(data, accounts=self.accounts, schema=self.schema)
            except BankFileRejected as exc:
                self._move_to_quarantine(name, exc.code, exc.detail)
                out.append(InboundFile(name, content_hash, None, exc.code, exc.detail))
                continue
            out.append(InboundFile(name, content_hash, message))
        return out

    # --- signatures, uploads held for approval ---

    @staticmethod
    def _signature_of(path: Path) -> bytes | None:
        sig = path.with_name(path.name + ".sig")
        try:
            return sig.read_bytes()
        except FileNotFoundError:
            return None

    def _check_signature(self, data: bytes, signature: bytes | None) -> None:
        if self.verifier is None:
            return
        if not signature:
            raise BankFileRejected("the bank signs its files and this one has no signature",
                                   code="bank_signature_missing")
        try:
            ok = self.verifier.verify(data, signature)
        except ValidationError:
            ok = False
        if not ok:
            raise BankFileRejected("the file's signature does not verify with the bank's key",
                                   code="bank_signature_invalid")

    def hold(self, data: bytes, signature: bytes | None = None) -> tuple[str, BankMessage]:
        """Check an uploaded file (signature when the bank signs, then parse) and keep it in held/ until a
        second person releases it. A bad file raises BankFileRejected; a copy is kept in quarantine/."""
        content_hash = hashlib.sha256(data).hexdigest()
        name = f"upload-{content_hash[:32]}.xml"
        try:
            self._check_signature(data, signature)
            message = parse_camt(data, accounts=self.accounts, schema=self.schema)
        except BankFileRejected as exc:
            self._keep_rejected(name, data, exc.code, exc.detail)
            raise
        if not (self.held / name).exists():
            if signature:
                atomic_write(self.held / (name + ".sig"), signature)
            atomic_write(self.held / name, data)
        return name, message

    def release(self, name: str) -> bool:
        """Move a held upload into the inbox (its signature first). False when it is no longer held."""
        src = self.held / self._safe(name)
        if not src.exists():
            return False
        sig = src.with_name(src.name + ".sig")
        if sig.exists():
            os.replace(sig, self.inbox / sig.name)
        os.replace(src, self.inbox / src.name)
        _fsync_dir(self.inbox)
        return True

    def _keep_rejected(self, name: str, data: bytes, code: str, reason: str) -> None:
        target = self.quarantine_dir / name
        if not target.exists():
            atomic_write(target, data)
            atomic_write(target.with_name(target.name + ".reason.txt"), f"{code}\n{reason}\n".encode())
        files = sorted((p for p in self.quarantine_dir.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.quarantine_bytes_max:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)

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
        sig = src.with_name(src.name + ".sig")
        if sig.exists():  # a detached signature travels with its file
            os.replace(sig, target.with_name(target.name + ".sig"))
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
