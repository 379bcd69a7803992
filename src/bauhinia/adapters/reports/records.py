"""Record keeping: an export for auditors as one archive (tar.gz) with a manifest of SHA-256 hashes, and its
offline check (`bauhinia audit verify-export ARCHIVE`).

The archive holds the hash-chained audit log (audit.jsonl, exported and verified by adapters.store.audit), every
customer's relationship end and retention date (records are kept at least five years after the relationship
ends), the incidents register, the periodic returns filed, and the requirements register. manifest.json names
each file with its size and hash (domain.regulatory.build_manifest); the archive is checked file by file."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bauhinia.adapters.reports.evidence import REGISTER_PATH
from bauhinia.adapters.store import audit
from bauhinia.adapters.store.regulatory_repo import SqlRegulatoryStore
from bauhinia.domain import regulatory as reg
from bauhinia.domain.cdd import retention_years_min
from bauhinia.domain.errors import ValidationError

MANIFEST = "manifest.json"
archive_bytes_max = 2 * 1024**3
archive_members_max = 1_000


def gather(engine: Engine, now_ns: int) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The files of the export and its retention summary."""
    store = SqlRegulatoryStore(engine)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="bauhinia-audit-") as tmp:
        audit_manifest = audit.export(engine, Path(tmp))
        files["audit/audit.jsonl"] = (Path(tmp) / audit.EXPORT_FILE).read_bytes()
        files["audit/manifest.json"] = (Path(tmp) / audit.MANIFEST_FILE).read_bytes()
    customers = store.customers_retention()
    files["customers_retention.json"] = (json.dumps(customers, indent=1, sort_keys=True) + "\n").encode()
    incidents = [reg.incident_to_dict(i, now_ns) for i in store.list_incidents()]
    files["incidents.json"] = (json.dumps(incidents, indent=1, sort_keys=True) + "\n").encode()
    for r in store.list_returns():
        body = store.get_return(r["return_id"])
        files[f"returns/{r['return_id'].replace(':', '_')}.json"] = \
            (json.dumps(body, indent=1, sort_keys=True, default=str) + "\n").encode()
    files["compliance_register.json"] = REGISTER_PATH.read_bytes()
    ended = [c for c in customers if c.get("relationship_ended_on")]
    retention = {
        "policy": f"records kept at least {retention_years_min} years after the relationship ends",
        "years_min": retention_years_min, "customers": len(customers), "relationships_ended": len(ended),
        "earliest_deletion_allowed": min((c["retention_until"] for c in ended if c.get("retention_until")),
                                         default=None),
        "audit_entries": audit_manifest["entries"], "audit_head_hash": audit_manifest["head_hash"],
    }
    return files, retention


def write_archive(path: Path, files: dict[str, bytes], manifest: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in [(MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()),
                           *sorted(files.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = manifest["created_at_ns"] // 1_000_000_000
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)
    return path


def export_records(engine: Engine, path: Path, now_ns: int) -> dict[str, Any]:
    files, retention = gather(engine, now_ns)
    manifest = reg.build_manifest(files, created_at_ns=now_ns, retention=retention)
    write_archive(path, files, manifest)
    return manifest


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every regular file of the archive; refuses links, absolute or parent paths, and size
    beyond the bounds (the archive may come from anywhere)."""
    if not path.is_file():
        raise ValidationError(f"no archive at {path}", code="export_not_found")
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for n, member in enumerate(tar):
                if n >= archive_members_max:
                    raise ValidationError("too many files in the archive", code="bad_export")
                if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                    raise ValidationError(f"archive member {member.name!r} is not a plain relative file",
                                          code="bad_export")
                total += member.size
                if total > archive_bytes_max:
                    raise ValidationError("archive too large", code="bad_export")
                fh = tar.extractfile(member)
                files[member.name] = fh.read() if fh else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValidationError(f"cannot read the archive: {exc}", code="bad_export") from None
    if MANIFEST not in files:
        raise ValidationError("the archive has no manifest.json", code="bad_export")
    try:
        manifest = json.loads(files.pop(MANIFEST))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"manifest.json is not JSON: {exc}", code="bad_export") from None
    return manifest, files


def verify_archive(path: Path) -> dict[str, Any]:
    """{ok, files, problems}: the manifest's hashes, then the audit log chain inside the archive."""
    manifest, files = read_archive(path)
    problems = reg.verify_manifest(manifest, files)
    if not problems and "audit/audit.jsonl" in files:
        with tempfile.TemporaryDirectory(prefix="bauhinia-verify-") as tmp:
            (Path(tmp) / audit.EXPORT_FILE).write_bytes(files["audit/audit.jsonl"])
            (Path(tmp) / audit.MANIFEST_FILE).write_bytes(files["audit/manifest.json"])
            report = audit.verify_export(Path(tmp))
            if not report.ok:
                problems.append(f"audit chain broken at entry {report.first_broken_seq}: {report.reason}")
    return {"ok": not problems, "archive": str(path), "files": len(files), "problems": problems,
            "retention": manifest.get("retention", {})}
