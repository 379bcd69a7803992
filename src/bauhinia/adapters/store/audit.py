"""The append-only, hash-chained audit log.

Entry n stores `prev_hash` (entry n-1's hash; 64 zeros for the first) and
`hash = sha256(prev_hash || "\\n" || canonical JSON of {seq, at_ns, actor, action, subject, details})`.
Editing any stored field, deleting an entry or reordering entries breaks the chain, and `verify` names the first
broken entry. `append` runs inside the caller's transaction and locks the single `audit_head` row first
(SELECT ... FOR UPDATE on PostgreSQL; SQLite writers already hold the database write lock), so concurrent
writers queue on the head and never fork the chain; the primary key on `seq` refuses a fork regardless.

`export` writes the log as JSONL plus a manifest (entry count, first/last seq, head hash, file SHA-256) that
auditors check offline with `verify_export`, without database access.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.audit_tables import audit_head, audit_log
from bauhinia.domain.errors import InvariantViolation, ValidationError

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 5_000
FIELD_LENGTH_MAX = {"actor": 128, "action": 128, "subject": 256}
DETAILS_BYTES_MAX = 64 * 1024
EXPORT_FILE = "audit.jsonl"
MANIFEST_FILE = "manifest.json"
# The statements of `append`, built once (it runs in every audited transaction).
_Q_HEAD_FOR_UPDATE = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_I_ENTRY = audit_log.insert()
_U_HEAD = (audit_head.update().where(audit_head.c.id == 1, audit_head.c.seq == sa.bindparam("old_seq"))
           .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash")))


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(
    prev_hash: str, *, seq: int, at_ns: int, actor: str, action: str, subject: str, details: dict[str, Any]
) -> str:
    body = canonical_json(
        {"seq": seq, "at_ns": at_ns, "actor": actor, "action": action, "subject": subject, "details": details}
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(
    conn: sa.Connection, *, actor: str, action: str, subject: str, details: dict, now_ns: int
) -> str:
    """Append one entry inside the caller's transaction; returns its hash."""
    for name, value in (("actor", actor), ("action", action), ("subject", subject)):
        if not value or len(value) > FIELD_LENGTH_MAX[name]:
            raise ValidationError(f"audit {name} must be 1..{FIELD_LENGTH_MAX[name]} characters")
    try:
        details_json = canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"audit details are not JSON: {exc}") from exc
    if len(details_json.encode()) > DETAILS_BYTES_MAX:
        raise ValidationError(f"audit details larger than {DETAILS_BYTES_MAX} bytes")
    details = json.loads(details_json)
    head = conn.execute(_Q_HEAD_FOR_UPDATE).one_or_none()
    if head is None:
        raise InvariantViolation("audit head row is missing; was the audit branch migrated?")
    seq = int(head.seq) + 1
    digest = entry_hash(
        head.hash, seq=seq, at_ns=now_ns, actor=actor, action=action, subject=subject, details=details
    )
    conn.execute(_I_ENTRY, {"seq": seq, "at_ns": now_ns, "actor": actor, "action": action, "subject": subject,
                            "details": details_json, "prev_hash": head.hash, "hash": digest})
    updated = conn.execute(_U_HEAD, {"old_seq": head.seq, "new_seq": seq, "new_hash": digest}).rowcount
    if updated != 1:
        raise InvariantViolation("audit head moved under a writer; the chain would fork")
    return digest


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
        }


def _iter_rows(engine: Engine) -> Iterator[Any]:
    last = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                sa.select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(VERIFY_BATCH)
            ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].seq)


def _check_entries(entries: Iterator[dict[str, Any]]) -> tuple[int, int, str, int | None, str]:
    """Walk entries in order; returns (checked, last seq, last hash, first broken seq, reason)."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    for e in entries:
        seq = int(e["seq"])
        if seq != expected_seq:
            return checked, expected_seq - 1, prev, expected_seq, f"entry {expected_seq} is missing (found {seq})"
        if e["prev_hash"] != prev:
            return checked, seq - 1, prev, seq, "prev_hash does not match the previous entry's hash"
        try:
            details = e["details"] if isinstance(e["details"], dict) else json.loads(e["details"])
        except (TypeError, ValueError):
            return checked, seq - 1, prev, seq, "details are not valid JSON"
        digest = entry_hash(
            prev,
            seq=seq,
            at_ns=int(e["at_ns"]),
            actor=e["actor"],
            action=e["action"],
            subject=e["subject"],
            details=details,
        )
        if digest != e["hash"]:
            return checked, seq - 1, prev, seq, "hash does not match the entry's contents"
        prev = digest
        expected_seq += 1
        checked += 1
    return checked, expected_seq - 1, prev, None, ""


def verify(engine: Engine) -> VerifyReport:
    """Recompute the whole chain; the report names the first broken entry, if any."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(audit_head).where(audit_head.c.id == 1)).one()
    checked, last_seq, last_hash, broken, reason = _check_entries(dict(r._mapping) for r in _iter_rows(engine))
    if broken is not None:
        return VerifyReport(False, checked, int(head.seq), head.hash, broken, reason)
    if last_seq != int(head.seq) or last_hash != head.hash:
        return VerifyReport(
            False,
            checked,
            int(head.seq),
            head.hash,
            last_seq + 1,
            f"the head says seq {head.seq} but the log ends at seq {last_seq} (entries removed from the end?)",
        )
    return VerifyReport(True, checked, int(head.seq), head.hash)


def list_entries(engine: Engine, *, after_seq: int = 0, limit: int = 100, subject: str | None = None) -> list[dict]:
    stmt = sa.select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq).limit(min(limit, 1_000))
    if subject is not None:
        stmt = stmt.where(audit_log.c.subject == subject)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["details"] = json.loads(d["details"])
        out.append(d)
    return out


def export(engine: Engine, directory: Path) -> dict[str, Any]:
    """Write audit.jsonl (one canonical JSON entry per line, in seq order) and manifest.json; returns the
    manifest. The chain is verified first; a broken chain refuses to export as if it were sound."""
    report = verify(engine)
    if not report.ok:
        raise InvariantViolation(f"audit chain broken at entry {report.first_broken_seq}: {report.reason}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / EXPORT_FILE
    tmp = path.with_suffix(".tmp")
    sha = hashlib.sha256()
    count = 0
    first_seq: int | None = None
    last_seq = 0
    with tmp.open("wb") as fh:
        for r in _iter_rows(engine):
            d = dict(r._mapping)
            d["details"] = json.loads(d["details"])
            line = (canonical_json(d) + "\n").encode()
            sha.update(line)
            fh.write(line)
            count += 1
            first_seq = first_seq if first_seq is not None else int(d["seq"])
            last_seq = int(d["seq"])
    tmp.replace(path)
    manifest = {
        "format": "bauhinia-audit-export/1",
        "file": EXPORT_FILE,
        "file_sha256": sha.hexdigest(),
        "entries": count,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "genesis_hash": GENESIS_HASH,
        "head_hash": report.head_hash,
        "hash_rule": 'sha256(prev_hash + "\\n" + canonical_json({seq, at_ns, actor, action, subject, details}))',
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify_export(directory: Path) -> VerifyReport:
    """Check an export offline: the file hash against the manifest, then the chain itself."""
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    data = (directory / manifest["file"]).read_bytes()
    head_hash = str(manifest["head_hash"])
    if hashlib.sha256(data).hexdigest() != manifest["file_sha256"]:
        return VerifyReport(False, 0, int(manifest["last_seq"]), head_hash, None, "file SHA-256 differs from manifest")
    entries = (json.loads(line) for line in data.decode().splitlines() if line)
    checked, last_seq, last_hash, broken, reason = _check_entries(entries)
    if broken is not None:
        return VerifyReport(False, checked, int(manifest["last_seq"]), head_hash, broken, reason)
    if checked != manifest["entries"] or last_hash != head_hash:
        last = int(manifest["last_seq"])
        return VerifyReport(False, checked, last, head_hash, last_seq + 1, "manifest head mismatch")
    return VerifyReport(True, checked, last_seq, head_hash)
