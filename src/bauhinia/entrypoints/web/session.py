"""Console sessions, sign-in throttling and CSRF protection.

A staff member signs in with the same client credentials the API's OAuth2 token endpoint takes. The session is
server-side (`adapters.store.security`): the HttpOnly, SameSite=Strict cookie scoped to /console holds only an
opaque random id, which is no API token (the API refuses it) and which sign-out revokes for good. Every request
looks the session up and reads the client's current roles, so a disabled client or a revoked session loses the
console at once. Customers cannot open the console.

Failed sign-ins are counted per client id and per address in the database (every worker sees the same counts):
`console_signin_failures_max` failures within `console_signin_window_s` lock that client id or address for
`console_signin_lockout_s`; a locked attempt is answered 429 without its credentials being checked. Failures,
lockouts and CSRF refusals are written to the audit log (rate-limited, see `api.refusals`).

Every form POST carries a CSRF token: for a signed-in user it is an HMAC of the session id under a
per-process key (so it dies with the session), for the sign-in form a random value double-submitted in a
cookie. A POST whose Origin header names another site is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.adapters.store import security
from bauhinia.entrypoints.api.auth import STAFF, Principal

SESSION_COOKIE = "bh_console"
LOGIN_CSRF_COOKIE = "bh_login_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEX_LENGTH = 64
SESSION_ID_LENGTH_MAX = 128
CONSOLE_SCOPES = frozenset({"console"})  # the console's principal: never an API token
ID_OK = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


class LoginRequired(Exception):
    """No valid console session: the handler redirects to the sign-in page."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A form POST without a valid CSRF token or from another origin."""


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    token: str  # the opaque session id (the cookie)
    csrf: str

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    def can(self, *roles: str) -> bool:
        return bool(self.principal.roles & frozenset(roles))


def _csrf_key(request: Request) -> bytes:
    state = request.app.state
    key = getattr(state, "console_csrf_key", None)
    if key is None:
        key = state.console_csrf_key = secrets.token_bytes(32)
    return key  # type: ignore[no-any-return]


def session_csrf(request: Request, token: str) -> str:
    return hmac.new(_csrf_key(request), token.encode(), hashlib.sha256).hexdigest()


class SignInLocked(Exception):
    """Too many failed sign-ins for this client id or address: answered 429 until `until_ns`."""

    def __init__(self, until_ns: int, now_ns: int) -> None:
        super().__init__("sign-in locked")
        self.retry_after_s = max(1, (until_ns - now_ns + 999_999_999) // 1_000_000_000)


def _refused(request: Request, status: int, reason: str, detail: str, client_id: str | None = None) -> None:
    auditor = getattr(request.app.state, "refusals", None)
    if auditor is not None:
        auditor.record(request, status=status, reason=reason, detail=detail, area="console", client_id=client_id)


def _signin_keys(request: Request, client_id: str) -> list[str]:
    return [f"client:{client_id[:64]}", f"addr:{request.client.host if request.client else '-'}"]


def sign_in(request: Request, client_id: str, client_secret: str) -> str:
    """Check the credentials like POST /v1/oauth/token does and open a session; returns its opaque id. Raises
    SignInLocked while the client id or the address is locked out, else LoginRequired on a failure."""
    container = request.app.state.container
    settings = container.settings
    engine = container.engine
    now_ns = container.clock.now_ns()
    if client_id and ID_OK.match(client_id):
        request.state.claimed_client_id = client_id
    keys = _signin_keys(request, client_id)
    until = security.locked_until(engine, keys, now_ns)
    if until is not None:
        _refused(request, 429, "signin_locked", "sign-in attempted while locked out")
        raise SignInLocked(until, now_ns)
    client = creds.authenticate_client(engine, client_id, client_secret) if client_id and client_secret \
        else None
    if client is None:
        locked = security.record_failure(
            engine, keys, now_ns, limit=settings.console_signin_failures_max,
            window_ns=settings.console_signin_window_s * 1_000_000_000,
            lockout_ns=settings.console_signin_lockout_s * 1_000_000_000,
        )
        _refused(request, 401, "signin_failed", "unknown client or wrong secret")
        if locked is not None:
            _refused(request, 429, "signin_lockout", "too many failed sign-ins: locked out")
            raise SignInLocked(locked, now_ns)
        raise LoginRequired("Unknown client or wrong secret.")
    if not client.roles & STAFF:
        _refused(request, 403, "console_not_staff", "a customer client tried the console", client.client_id)
        raise LoginRequired("The console is for the issuer's staff; customers use the API.")
    security.clear_failures(engine, keys[0])
    security.prune_sessions(engine, now_ns)  # sessions past their expiry (signed out or not) are dropped
    return security.open_session(engine, client.client_id, now_ns, settings.console_session_ttl_s * 1_000_000_000)


def sign_out(request: Request, session: Session) -> None:
    container = request.app.state.container
    security.revoke_session(container.engine, session.token, container.clock.now_ns())


def current_session(request: Request) -> Session:
    """The signed-in staff member, or LoginRequired."""
    cached = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if not session_id:
        raise LoginRequired("")
    if len(session_id) > SESSION_ID_LENGTH_MAX:
        raise LoginRequired("Please sign in.")
    container = request.app.state.container
    found = security.find_session(container.engine, session_id, container.clock.now_ns())
    if found is None:
        raise LoginRequired("Your session has ended; please sign in again.")
    # Roles are read now: a disabled client or a withdrawn role takes effect at once.
    try:
        client = creds.get_client(container.engine, found.client_id)
    except Exception:
        raise LoginRequired("Please sign in.") from None
    if client.disabled:
        raise LoginRequired("This client is disabled.")
    principal = Principal(client.client_id, client.roles, CONSOLE_SCOPES, client.customer_id, "console")
    if principal.is_customer_only:
        raise LoginRequired("The console is for the issuer's staff.")
    session = Session(principal, session_id, session_csrf(request, session_id))
    request.state.console_session = session
    return session


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def check_csrf(request: Request, submitted: str, expected: str) -> None:
    if not _same_origin(request):
        raise CsrfRefused("cross-origin form post")
    if not submitted or len(submitted) > 2 * CSRF_HEX_LENGTH or not hmac.compare_digest(submitted, expected):
        raise CsrfRefused("missing or wrong CSRF token")


def new_login_csrf() -> str:
    return secrets.token_hex(32)
