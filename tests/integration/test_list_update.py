"""`bauhinia screening update-lists` against a local publisher (http.server on 127.0.0.1): the same lists change
nothing; a new entry naming an existing customer is stored as a new version, made current, and the customer is
re-screened with an alert and a case; a collapsed list is refused with one line and nothing changes."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bauhinia.adapters.screening.lists import SNAPSHOT_DIR, read_list_bytes

ROOT = Path(__file__).resolve().parents[2]
FILES = ("un_consolidated.xml", "ofac_sdn.csv", "ofac_alt.csv", "ofac_add.csv", "ofac_sdn_comments.csv")
NEW_ROWS = (
    b'90000001,"LAU, Wing Kei","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    b'90000002,"KOWLOON IMPORTERS LTD",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def publisher(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    served = tmp_path / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _publish(served: Path, sdn: bytes | None = None) -> None:
    for name in FILES:
        (served / name).write_bytes(read_list_bytes(SNAPSHOT_DIR / name))
    if sdn is not None:
        (served / "ofac_sdn.csv").write_bytes(sdn)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bauhinia.entrypoints.cli.main", *args], capture_output=True,
                          text=True, timeout=300, check=False, cwd=ROOT, env=env)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _state(var: Path) -> tuple[list[str], str]:
    root = var / "sanctions"
    names = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    current = (root / "CURRENT").read_text() if (root / "CURRENT").is_file() else ""
    return names, current


@pytest.mark.slow
def test_update_lists_stores_a_version_rescreens_and_refuses_a_collapse(
    publisher: tuple[Path, str], tmp_path: Path
) -> None:
    served, base = publisher
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "BAUHINIA_SANCTIONS_DIR"}
    env.update({"BAUHINIA_DATA_DIR": str(var), "BAUHINIA_DATABASE_URL": "", "BAUHINIA_ACTOR": "olivia",
                "COLUMNS": "250"})
    for name in FILES:
        env["BAUHINIA_LIST_URL_" + name.split(".")[0].upper()] = f"{base}/{name}"

    # A customer onboarded (CDD + screening) and one known only to issuance, both clear today.
    customers = tmp_path / "customers.json"
    customers.write_text(json.dumps({"customer_id": "C1", "identity_verified": True, "parties": [
        {"kind": "natural", "party_id": "C1-p", "names": ["Lau Wing Kei"], "nationality": "HK",
         "documents": [{"type": "hkid", "number": "Z6837120", "issuing_country": "HK"}]}]}), encoding="utf-8")
    fixtures = ROOT / "tests" / "fixtures" / "screening"
    assert "C1 Lau Wing Kei: accepted" in _ok(_run(env, "compliance", "onboard", str(customers), "--lists",
                                                    str(fixtures)))
    _ok(_run(env, "issuance", "customer", "add", "kln-imp", "Kowloon Importers Ltd"))

    # The publishers still serve the packaged snapshot: nothing to store.
    _publish(served)
    out = _ok(_run(env, "screening", "update-lists"))
    assert "lists unchanged" in out
    assert _state(var) == ([], "")

    # Two new SDN entries name the customers: a new version, made current, and both re-screened with alerts.
    snapshot_sdn = read_list_bytes(SNAPSHOT_DIR / "ofac_sdn.csv")
    _publish(served, snapshot_sdn.rstrip(b"\x1a").rstrip() + b"\r\n" + NEW_ROWS)
    out = _ok(_run(env, "screening", "update-lists"))
    names, current = _state(var)
    assert len(names) == 2 and "CURRENT" in names
    version = current.strip()
    assert version in names and f"-> {version}" in out
    manifest = json.loads((var / "sanctions" / version / "manifest.json").read_text())
    assert manifest["version"] == version and manifest["delta"]["added"] == 2
    assert manifest["files"]["ofac_sdn.csv"]["url"] == f"{base}/ofac_sdn.csv"
    assert (var / "sanctions" / version / "ofac_sdn.csv.gz").is_file()
    assert "delta: 2 added" in out
    assert "re-screened 1 customers, 1 other named customers" in out
    assert "C1: accepted -> refused" in out
    assert "kln-imp" in out and "ofac-90000002" in out
    assert "2 new alerts" in out and "opened CASE-000001" in out and "opened CASE-000002" in out
    shown = _ok(_run(env, "compliance", "customer", "C1"))
    assert "refused" in shown and f"list-update, lists {version}" in shown and "ofac-90000001" in shown
    cases = _ok(_run(env, "compliance", "cases"))
    assert "C1" in cases and "kln-imp" in cases

    # A collapsed SDN file (most entries gone) is refused with one line; nothing changes.
    lines = snapshot_sdn.splitlines(keepends=True)
    _publish(served, b"".join(lines[:200]))
    before = _state(var)
    alerts_before = _ok(_run(env, "compliance", "alerts"))
    refused = _run(env, "screening", "update-lists")
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "list_collapsed" in refused.stderr and "OFAC" in refused.stderr and "nothing changed" in refused.stderr
    assert _state(var) == before
    assert not any(p.name.startswith(".incoming") for p in (var / "sanctions").iterdir())
    assert _ok(_run(env, "compliance", "alerts")) == alerts_before
    assert (SNAPSHOT_DIR / "ofac_sdn.csv.gz").is_file()


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path / "var"), "BAUHINIA_DATABASE_URL": "",
           "BAUHINIA_LIST_URL_UN_CONSOLIDATED": "http://example.org/consolidated.xml"}
    env.pop("BAUHINIA_SANCTIONS_DIR", None)
    result = _run(env, "screening", "update-lists")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "list_url_refused" in result.stderr
    assert not (tmp_path / "var" / "sanctions").exists()
