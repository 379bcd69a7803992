"""Console sessions and CSRF protection.

A staff member signs in with the same client credentials the API's OAuth2 token endpoint takes; the console
asks the API's token issuer for the same signed JWT and keeps it in an HttpOnly, SameSite=Strict cookie scoped
to /console. Every request decodes it with the API's verifier, so roles, expiry and signature checks are the
API's own. Customers cannot open the console.

Every form POST carries a CSRF token: for a signed-in user it is an HMAC of the session token under a
per-process key (so it dies with the session), for the sign-in form a random value double-submitted in a
cookie. A POST whose Origin header names another site is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.entrypoints.api.auth import STAFF, Principal
from bauhinia.entrypoints.api.problems import Unauthenticated

SESSION_COOKIE = "bh_console"
LOGIN_CSRF_COOKIE = "bh_login_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEX_LENGTH = 64


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
    token: str
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


def sign_in(request: Request, client_id: str, client_secret: str) -> str:
    """Check the credentials like POST /v1/oauth/token does; returns the session JWT. Raises LoginRequired."""
    container = request.app.state.container
    client = creds.authenticate_client(container.engine, client_id, client_secret) if client_id and client_secret \
        else None
    if client is None:
        raise LoginRequired("Unknown client or wrong secret.")
    if not client.roles & STAFF:
        raise LoginRequired("The console is for the issuer's staff; customers use the API.")
    token, _ = request.app.state.tokens.issue(client, {"*"})
    return str(token)


def current_session(request: Request) -> Session:
    """The signed-in staff member, or LoginRequired."""
    cached = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise LoginRequired("")
    try:
        principal = request.app.state.tokens.decode(token)
    except Unauthenticated as exc:
        raise LoginRequired("Your session has expired; please sign in again." if exc.code == "token_expired"
                            else "Please sign in.") from None
    if principal.is_customer_only:
        raise LoginRequired("The console is for the issuer's staff.")
    # A disabled client loses the console at once, not when its token expires.
    container = request.app.state.container
    try:
        client = creds.get_client(container.engine, principal.client_id)
    except Exception:
        raise LoginRequired("Please sign in.") from None
    if client.disabled:
        raise LoginRequired("This client is disabled.")
    session = Session(principal, token, session_csrf(request, token))
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
