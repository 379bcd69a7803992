"""Refused attempts in the audit log: failed authentication, role and scope refusals, maker-checker refusals,
idempotency-key conflicts, console CSRF refusals and failed console sign-ins.

Each refusal becomes an `api.refused` (or `console.refused`) entry in the hash-chained audit log naming the client
when known (or the client a bad token claims to be), the remote address, the method and path, the status and the
reason code. A flood must not fill the log: at most `per_minute` entries per (client or address, reason) and
`10 * per_minute` in all are written per minute and per process; the others are only counted, and the next entry
written for that key says how many were left out. Every refusal, written or not, is counted in the Prometheus
counter `bauhinia_api_refusals_total{reason}`, the ones left out in `bauhinia_api_refusals_suppressed_total`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bauhinia.adapters.store import audit

log = logging.getLogger("bauhinia.api.refusals")

REFUSED_STATUSES = frozenset({401, 403, 429})
REFUSED_CODES = frozenset({"idempotency_key_reused", "already_decided"})  # refusals answered with 409
KEYS_MAX = 10_000  # rate-limit windows kept per process
_ID_OK = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
WINDOW_S = 60


def is_refusal(status: int, code: str) -> bool:
    return status in REFUSED_STATUSES or code in REFUSED_CODES


def remote_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def known_client(request: Request) -> str | None:
    """The authenticated client of this request, if authentication got that far."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        session = getattr(request.state, "console_session", None)
        principal = getattr(session, "principal", None)
    client_id = getattr(principal, "client_id", None)
    return str(client_id) if client_id else None


def claimed_client(request: Request) -> str | None:
    """The client a bearer token that failed verification says it belongs to (unverified: for the record only)."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 4_096:
        return None
    try:
        import jwt

        sub = jwt.decode(token.strip(), options={"verify_signature": False}).get("sub")
    except Exception:
        return None
    return sub if isinstance(sub, str) and _ID_OK.match(sub) else None


class RefusalAuditor:
    def __init__(self, engine: Any, clock: Any, registry: CollectorRegistry | None, per_minute: int) -> None:
        self.engine = engine
        self.clock = clock
        self.per_minute = max(1, per_minute)
        self.total_per_minute = 10 * self.per_minute
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], list[int]] = {}  # key -> [window start s, written, suppressed]
        self._total = [0, 0]  # [window start s, written]
        self.refusals = Counter("bauhinia_api_refusals_total", "Refused requests by reason", ["reason"],
                                registry=registry)
        self.suppressed = Counter("bauhinia_api_refusals_suppressed_total",
                                  "Refused requests not written to the audit log (rate limit)", registry=registry)

    def _admit(self, who: str, reason: str, now_s: int) -> int | None:
        """None when this refusal is over the limit; else how many of this key were left out before it."""
        with self._lock:
            if now_s - self._total[0] >= WINDOW_S:
                self._total = [now_s, 0]
            key = (who, reason)
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= KEYS_MAX:
                    self._windows = {k: w for k, w in self._windows.items() if now_s - w[0] < WINDOW_S or w[2]}
                    if len(self._windows) >= KEYS_MAX:
                        return None
                window = self._windows[key] = [now_s, 0, 0]
            elif now_s - window[0] >= WINDOW_S:
                window[0], window[1] = now_s, 0
            if window[1] >= self.per_minute or self._total[1] >= self.total_per_minute:
                window[2] += 1
                return None
            window[1] += 1
            self._total[1] += 1
            left_out, window[2] = window[2], 0
            return left_out

    def _prepare(self, request: Request, status: int, reason: str, detail: str, area: str,
                 client_id: str | None) -> dict[str, Any] | None:
        self.refusals.labels(reason[:64]).inc()
        client = client_id or known_client(request)
        claimed = None if client else (getattr(request.state, "claimed_client_id", None) or claimed_client(request))
        address = remote_address(request)
        who = f"client:{client}" if client else f"addr:{address}"
        left_out = self._admit(who, reason, int(time.time()))
        if left_out is None:
            self.suppressed.inc()
            return None
        details: dict[str, Any] = {
            "reason": reason[:64], "status": status, "method": request.method, "path": request.url.path[:256],
            "remote_addr": address, "client_id": client, "detail": detail[:300], "suppressed_before": left_out,
        }
        if claimed and _ID_OK.match(str(claimed)):
            details["claimed_client_id"] = str(claimed)
        return {"actor": who[:128], "action": f"{area}.refused", "subject": request.url.path[:256] or "/",
                "details": details}

    def _write(self, entry: dict[str, Any]) -> bool:
        try:
            with self.engine.begin() as conn:
                audit.append(conn, now_ns=self.clock.now_ns(), **entry)
        except Exception:  # the refusal stands whether or not its record could be written
            log.warning("could not audit a refused request (%s)", entry["details"]["reason"], exc_info=True)
            return False
        return True

    def record(self, request: Request, *, status: int, reason: str, detail: str = "", area: str = "api",
               client_id: str | None = None) -> bool:
        """Count the refusal and, within the limits, write its audit entry. Returns whether it was written."""
        entry = self._prepare(request, status, reason, detail, area, client_id)
        return entry is not None and self._write(entry)

    async def arecord(self, request: Request, *, status: int, reason: str, detail: str = "", area: str = "api",
                      client_id: str | None = None) -> bool:
        """`record` for the event loop: the limit is checked here, only a written entry goes to a thread."""
        entry = self._prepare(request, status, reason, detail, area, client_id)
        return entry is not None and await run_in_threadpool(self._write, entry)


def auditor(request: Request) -> RefusalAuditor | None:
    return getattr(request.app.state, "refusals", None)
