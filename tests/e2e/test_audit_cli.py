"""`bauhinia audit verify` / `bauhinia audit export DIR` on the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bauhinia.adapters.store import audit
from bauhinia.adapters.store.audit_tables import audit_log
from bauhinia.adapters.store.db import make_engine, migrate


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BAUHINIA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BAUHINIA_DATABASE_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path}/bauhinia.sqlite3")
    migrate(engine)
    for i in range(3):
        with engine.begin() as conn:
            audit.append(conn, actor="ops", action="x", subject=f"s{i}", details={"i": i}, now_ns=i)
    engine.dispose()
    return tmp_path


def test_verify_export_and_tamper(data_dir: Path) -> None:
    from bauhinia.entrypoints.cli.main import root

    runner = CliRunner()
    ok = runner.invoke(root, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["entries_checked"] == 3
    exp = runner.invoke(root, ["audit", "export", str(data_dir / "exp")])
    assert exp.exit_code == 0, exp.output
    assert (data_dir / "exp" / "manifest.json").exists()
    assert runner.invoke(root, ["audit", "verify", "--export-dir", str(data_dir / "exp")]).exit_code == 0
    engine = make_engine(f"sqlite:///{data_dir}/bauhinia.sqlite3")
    with engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(actor="mallory"))
    engine.dispose()
    bad = runner.invoke(root, ["audit", "verify"])
    assert bad.exit_code != 0
    assert json.loads(bad.stdout)["first_broken_seq"] == 2


def test_events_cli(data_dir: Path) -> None:
    from bauhinia.adapters.events import outbox
    from bauhinia.entrypoints.cli.main import root

    engine = make_engine(f"sqlite:///{data_dir}/bauhinia.sqlite3")
    with engine.begin() as conn:
        outbox.enqueue(conn, "t.one", {"n": 1}, now_ns=1)
    engine.dispose()
    runner = CliRunner()
    assert json.loads(runner.invoke(root, ["events", "status"]).output)["pending"] == 1
    assert json.loads(runner.invoke(root, ["events", "relay", "--once"]).output)["published"] == 1
    assert json.loads(runner.invoke(root, ["events", "status"]).output)["pending"] == 0
    assert json.loads(runner.invoke(root, ["events", "replay-dead"]).output)["requeued"] == 0
