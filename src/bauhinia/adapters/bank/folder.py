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
keys) makes the second reading change nothing. A bad file is quarantined: it changes nothing.

Files still arriving. `*.part`, `*.tmp` and dot files are never read (a bank that writes under a temporary name
and renames when done needs nothing more). A file is read whole and taken when it parses: a truncated XML
document never does (its root element is not closed). A file whose size or mtime changed while it was read is
left for the next run. A file that does not parse (or whose `.sig` is missing or does not verify) is left in
place, not quarantined, while it, or its signature, was modified less than `settle_s` seconds ago, unless the
bank marked it complete with `<name>.done` beside it. A file quarantined as it was read is stamped (size, mtime,
sha256 in its reason file): if it changes afterwards (a writer was still writing into it), it is moved back to
the inbox and read again, flagged `requeued`, so a finished file never stays in quarantine unbooked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
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
# rejections a file still being written (or whose signature is still being written) can give
_MAYBE_UNFINISHED = frozenset({"bank_file_malformed", "bank_signature_missing", "bank_signature_invalid"})
_UNFINISHED_SUFFIXES = (".part", ".tmp")
_DONE = ".done"
_STAMP = "seen "


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _changed(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ino) != (b.st_size, b.st_mtime_ns, b.st_ino)


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
        schemes: Mapping[str, PaymentScheme] | None = None,
        schema: SchemaMode = "auto",
        verifier: BankSignatureVerifier | None = None,
        quarantine_bytes_max: int = 256 * 1024 * 1024,
        settle_s: float = 0.0,
        clock: Callable[[], float] = time.time,
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
        self.scheme = scheme  # the payout message of a rail not in `schemes`
        self.schemes = dict(schemes or {})  # currency of the batch -> its rail's payout message
        self.schema: SchemaMode = schema
        if settle_s < 0:
            raise ValidationError("settle_s must not be negative", code="bad_settle_time")
        self.settle_s = settle_s
        self.clock = clock
        self._requeued: set[str] = set()
        for d in (self.inbox, self.processed, self.quarantine_dir, self.outbox, self.held):
            d.mkdir(parents=True, exist_ok=True)

    # --- inbound ---

    def pending_names(self) -> list[str]:
        return sorted(
            p.name for p in self.inbox.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == ".xml"
            and not p.name.lower().endswith(_UNFINISHED_SUFFIXES)
        )

    def read_inbound(self, max_files: int = 100) -> list[InboundFile]:
        """Parse up to `max_files` inbox files (oldest name first). Bad ones are quarantined and returned
        with their reason; good ones stay in the inbox until `acknowledge`. A file that may still be arriving
        is left where it is (see the module's notes); a quarantined file that changed since is read again."""
        max_files = max(0, min(max_files, inbound_files_per_read_max))
        self._requeue_changed()
        out: list[InboundFile] = []
        for name in self.pending_names()[:max_files]:
            path = self.inbox / name
            try:
                before = path.stat()
                data = path.read_bytes()
                after = path.stat()
            except FileNotFoundError:  # taken by a concurrent reader
                continue
            if _changed(before, after) or len(data) != after.st_size:
                continue  # still being written: read on the next run
            requeued = name in self._requeued
            content_hash = hashlib.sha256(data).hexdigest()
            try:
                self._check_signature(data, self._signature_of(path))
                message = parse_camt(data, accounts=self.accounts, schema=self.schema)
            except BankFileRejected as exc:
                if exc.code in _MAYBE_UNFINISHED and not self._settled(path, after):
                    continue  # may still be arriving (or its signature): not quarantined yet
                self._move_to_quarantine(name, exc.code, exc.detail, stamp=(after, content_hash))
                self._requeued.discard(name)
                out.append(InboundFile(name, content_hash, None, exc.code, exc.detail, requeued=requeued))
                continue
            out.append(InboundFile(name, content_hash, message, requeued=requeued))
        return out

    def _settled(self, path: Path, st: os.stat_result) -> bool:
        """Complete by the bank's marker, or neither the file nor its signature modified for `settle_s`."""
        if path.with_name(path.name + _DONE).exists():
            return True
        newest = st.st_mtime
        with contextlib.suppress(FileNotFoundError):
            newest = max(newest, path.with_name(path.name + ".sig").stat().st_mtime)
        return self.clock() - newest >= self.settle_s

    def _requeue_changed(self) -> list[str]:
        """Move back to the inbox every file quarantined as it was read whose bytes changed since (it was still
        being written when it was judged). Its reason file goes; the file is read again, flagged requeued."""
        moved: list[str] = []
        for reason_path in sorted(self.quarantine_dir.glob("*.reason.txt")):
            try:
                lines = reason_path.read_text().splitlines()
            except (FileNotFoundError, UnicodeDecodeError):
                continue
            stamp = next((line[len(_STAMP):] for line in lines if line.startswith(_STAMP)), None)
            if stamp is None:
                continue
            fields = dict(part.split("=", 1) for part in stamp.split() if "=" in part)
            target = reason_path.with_name(reason_path.name[: -len(".reason.txt")])
            try:
                st = target.stat()
            except FileNotFoundError:
                continue
            if str(st.st_size) == fields.get("size") and str(st.st_mtime_ns) == fields.get("mtime_ns"):
                continue
            if hashlib.sha256(target.read_bytes()).hexdigest() == fields.get("sha256"):
                continue  # touched, same bytes: the judgement stands
            name = target.name
            if (self.inbox / name).exists():
                continue  # a file of that name is waiting: this one goes back after it
            for side in (".sig", _DONE):
                extra = target.with_name(name + side)
                if extra.exists():
                    os.replace(extra, self.inbox / (name + side))
            os.replace(target, self.inbox / name)
            reason_path.unlink(missing_ok=True)
            _fsync_dir(self.inbox)
            self._requeued.add(name)
            moved.append(name)
        return moved

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
        self._requeued.discard(name)

    def quarantine(self, name: str, code: str, reason: str) -> None:
        """Quarantine a parsed file for a reason only the caller knows (duplicate statement, unknown
        account...). Idempotent."""
        self._move_to_quarantine(self._safe(name), code, reason)
        self._requeued.discard(name)

    def _move_to_quarantine(self, name: str, code: str, reason: str,
                            stamp: tuple[os.stat_result, str] | None = None) -> None:
        target = self._move(self.inbox / name, self.quarantine_dir)
        if target is not None:
            text = f"{code}\n{reason}\n"
            if stamp is not None:  # what was judged: a later change means it was still arriving
                st, content_hash = stamp
                text += f"{_STAMP}size={st.st_size} mtime_ns={st.st_mtime_ns} sha256={content_hash}\n"
            atomic_write(target.with_name(target.name + ".reason.txt"), text.encode())

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
        for side in (".sig", _DONE):  # a detached signature and the bank's done marker travel with their file
            extra = src.with_name(src.name + side)
            if extra.exists():
                os.replace(extra, target.with_name(target.name + side))
        os.replace(src, target)
        _fsync_dir(folder)
        return target

    @staticmethod
    def _safe(name: str) -> str:
        if not _SAFE_NAME.match(name) or name.startswith("."):
            raise ValidationError(f"not a bank file name: {name!r}", code="bad_file_name")
        return name

    # --- outbound ---

    def scheme_for(self, currency: str) -> PaymentScheme:
        """The payout message of the rail paying in `currency` (Settings.payout_messages), else `scheme`."""
        return self.schemes.get(currency, self.scheme)

    def write_payment_file(self, batch: PaymentBatch, scheme: PaymentScheme | None = None) -> PaymentFile:
        """Write the batch's payment file to the outbox, in `scheme` or else its rail's message (`scheme_for`
        the batch's currency). Writing the same batch again is a no-op that returns the same file; a different
        content under the same message id is a conflict."""
        scheme = scheme or self.scheme_for(batch.currency)
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
