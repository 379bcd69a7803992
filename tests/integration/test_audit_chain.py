"""The hash-chained audit log over SQLite and PostgreSQL: appends chain, tampering is detected, exports verify."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from bauhinia.adapters.store import audit
from bauhinia.adapters.store.audit_tables import audit_head, audit_log
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.domain.errors import ValidationError


@pytest.fixture()
def engine(db_url: str):
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


def _fill(engine, n: int = 5) -> list[str]:
    hashes = []
    for i in range(n):
        with engine.begin() as conn:
            hashes.append(
                audit.append(
                    conn, actor=f"user{i % 2}", action="ledger.transfer", subject=f"acct:{i}",
                    details={"amount_minor": 100 * i, "note": "日元"}, now_ns=1_000 + i,
                )
            )
    return hashes


def test_chain_links_and_verifies(engine) -> None:
    hashes = _fill(engine)
    report = audit.verify(engine)
    assert report.ok, report
    assert report.entries_checked == 5 and report.head_hash == hashes[-1]
    rows = audit.list_entries(engine)
    assert rows[0]["prev_hash"] == audit.GENESIS_HASH
    assert [r["prev_hash"] for r in rows[1:]] == hashes[:-1]


def test_rolled_back_append_leaves_no_trace(engine) -> None:
    _fill(engine, 2)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.append(conn, actor="a", action="x", subject="s", details={}, now_ns=5)
        raise RuntimeError("caller fails")
    assert audit.verify(engine).ok and audit.verify(engine).entries_checked == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "mallory"), ("action", "other"), ("subject", "acct:99"), ("at_ns", 1), ("details", '{"amount_minor":1}'),
     ("prev_hash", "f" * 64), ("hash", "e" * 64)],
)
def test_editing_any_field_is_detected(engine, column: str, value: object) -> None:
    _fill(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 3).values({column: value}))
    report = audit.verify(engine)
    assert not report.ok
    assert report.first_broken_seq in (3, 4)  # a changed stored hash surfaces at the next entry's link
    if column not in ("hash",):
        assert report.first_broken_seq == 3


def test_deleting_an_entry_is_detected(engine) -> None:
    _fill(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 2))
    report = audit.verify(engine)
    assert not report.ok and report.first_broken_seq == 2 and "missing" in report.reason


def test_deleting_the_tail_is_detected(engine) -> None:
    _fill(engine)
    with engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 5))
    report = audit.verify(engine)
    assert not report.ok and report.first_broken_seq == 5


def test_reordering_entries_is_detected(engine) -> None:
    _fill(engine)
    with engine.begin() as conn:
        rows = {r.seq: dict(r._mapping) for r in conn.execute(sa.select(audit_log))}
        conn.execute(audit_log.delete().where(audit_log.c.seq.in_([2, 3])))
        a, b = rows[2], rows[3]
        a["seq"], b["seq"] = 3, 2
        conn.execute(audit_log.insert(), [b, a])
    report = audit.verify(engine)
    assert not report.ok and report.first_broken_seq == 2


def test_bad_input_is_refused(engine) -> None:
    with engine.begin() as conn, pytest.raises(ValidationError):
        audit.append(conn, actor="", action="x", subject="s", details={}, now_ns=1)
    with engine.begin() as conn, pytest.raises(ValidationError):
        audit.append(conn, actor="a", action="x", subject="s", details={"x": object()}, now_ns=1)


def test_concurrent_writers_do_not_fork(engine) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(10):
                with engine.begin() as conn:
                    audit.append(conn, actor=f"w{w}", action="a", subject="s", details={"i": i}, now_ns=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    report = audit.verify(engine)
    assert report.ok and report.entries_checked == 40
    with engine.connect() as conn:
        assert conn.execute(sa.select(audit_head.c.seq)).scalar_one() == 40


def test_export_and_offline_verify(engine, tmp_path: Path) -> None:
    hashes = _fill(engine)
    manifest = audit.export(engine, tmp_path / "exp")
    assert manifest["entries"] == 5 and manifest["head_hash"] == hashes[-1]
    assert audit.verify_export(tmp_path / "exp").ok
    lines = (tmp_path / "exp" / "audit.jsonl").read_text().splitlines()
    entry = json.loads(lines[1])
    entry["actor"] = "mallory"
    lines[1] = json.dumps(entry)
    (tmp_path / "exp" / "audit.jsonl").write_text("\n".join(lines) + "\n")
    assert not audit.verify_export(tmp_path / "exp").ok
