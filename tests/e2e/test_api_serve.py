"""`bauhinia serve` starts the API (uvicorn) on the embedded store; `bauhinia api create-client` makes an admin
whose credentials get a token over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_and_token_over_http(tmp_path: Path) -> None:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "BAUHINIA_API_JWT_SECRET": "y" * 40}
    env.pop("BAUHINIA_DATABASE_URL", None)
    cli = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
    made = subprocess.run([*cli, "api", "create-client", "boss", "--role", "admin"], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    secret = json.loads(made.stdout)["client_secret"]
    port = _free_port()
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise AssertionError("the server did not come up")
        tok = httpx.post(f"{base}/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "boss",
                                                          "client_secret": secret}, timeout=10)
        assert tok.status_code == 200, tok.text
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {tok.json()['access_token']}"}, timeout=10)
        assert me.json()["roles"] == ["admin"]
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert secret not in out and tok.json()["access_token"] not in out  # nothing secret in the logs
    assert '"request_id"' in out  # JSON log lines


def test_several_workers_refuse_to_start_without_a_shared_signing_secret(tmp_path: Path) -> None:
    env = {**os.environ, "BAUHINIA_DATA_DIR": str(tmp_path), "BAUHINIA_DEMO": "1"}
    env.pop("BAUHINIA_API_JWT_SECRET", None)
    env.pop("BAUHINIA_DATABASE_URL", None)
    cli = [sys.executable, "-m", "bauhinia.entrypoints.cli.main"]
    out = subprocess.run([*cli, "serve", "--workers", "2", "--port", str(_free_port())], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines and "jwt_secret_not_shared" in lines[-1] and "BAUHINIA_API_JWT_SECRET" in lines[-1]
    assert "Traceback" not in out.stderr
