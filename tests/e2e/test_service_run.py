"""`bauhinia run` as a user starts it: the API answers /healthz and /readyz (with the replica's running jobs), the
jobs run by themselves (`bauhinia jobs status` shows them), a second replica on the same SQLite database refuses
to start with one line, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_runs_jobs_refuses_a_second_replica_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "BAUHINIA_DEMO": "1", "BAUHINIA_SCREEN_ISSUANCE": "0",
           "BAUHINIA_JOBS_SCHEDULE": json.dumps({"daily_reconciliation": "off", "weekly_disclosure": "off",
                                                        "list_update": "off"})}
    env.pop("BAUHINIA_DATABASE_URL", None)
    port = _free_port()
    proc = subprocess.Popen([*CLI, "run", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise AssertionError("bauhinia run did not come up")
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["checks"]["database"] == "ok" and body["replica"] and "jobs_running_here" in body
        second = subprocess.run([*CLI, "run", "--no-api", "--duration-s", "1"], env=env, capture_output=True,
                                text=True, timeout=120, check=False)
        assert second.returncode == 2
        lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "replica_already_running" in lines[0] and "PostgreSQL" in lines[0]
        deadline = time.monotonic() + 60
        while True:
            status = subprocess.run([*CLI, "jobs", "status", "--json"], env=env, capture_output=True, text=True,
                                    timeout=120, check=True)
            jobs = {j["job"]: j for j in json.loads(status.stdout)}
            if all(jobs[n]["last_ok"] for n in ("bank_inbox", "mint", "redemptions", "outbox_relay")):
                break
            assert time.monotonic() < deadline, status.stdout
            time.sleep(1)
        assert jobs["daily_reconciliation"]["schedule"] == "off" and jobs["daily_reconciliation"]["next_due_at_ns"] \
            is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    assert "stopped" in out
