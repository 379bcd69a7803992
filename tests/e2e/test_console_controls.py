"""The console shows the requirements register with green and red marks from the latest evidence pack."""

from __future__ import annotations

import json
import re
from pathlib import Path

from api_support import make_api  # tests/e2e/api_support.py
from fastapi.testclient import TestClient

from bauhinia.adapters.reports.evidence import load_register
from bauhinia.adapters.store import api_credentials as creds


def _login(api, client_id: str, secret: str):  # type: ignore[no-untyped-def]
    c = TestClient(api.client.app)  # a browser of its own: its own session cookie
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/console/login").text).group(1)
    c.post("/console/login", data={"client_id": client_id, "client_secret": secret, "csrf_token": token},
           follow_redirects=False)
    return c


def test_controls_page_marks_each_requirement(tmp_path: Path) -> None:
    api = make_api(tmp_path)
    secret = creds.create_client(api.container.engine, "mlro", {"compliance"}, None)
    c = _login(api, "mlro", secret)
    page = c.get("/console/controls")
    assert page.status_code == 200
    ids = load_register().ids
    assert len(re.findall(r'data-status="not_run"', page.text)) == len(ids)  # grey until a pack is run
    # a pack where one requirement failed: that one red, the others green
    pack = {"generated_at": "2026-11-26T12:00:00Z", "ok": False, "requirements": [
        {"id": rid, "status": "failing" if rid == ids[0] else "proven", "passed": 1, "failed": int(rid == ids[0])}
        for rid in ids]}
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "evidence.json").write_text(json.dumps(pack))
    page = c.get("/console/controls").text
    assert f'data-requirement="{ids[0]}" data-status="failing"' in page
    assert page.count('data-status="proven"') == len(ids) - 1
    assert f"{len(ids) - 1} of {len(ids)} requirements proven" in page and "does not pass" in page
    # treasury may not open it
    t_secret = creds.create_client(api.container.engine, "treasurer", {"treasury"}, None)
    refused = _login(api, "treasurer", t_secret).get("/console/controls")
    assert refused.status_code == 403
