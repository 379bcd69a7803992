"""Authentication and authorisation.

Machine clients get a JWT from `POST /v1/oauth/token` (OAuth2 client credentials; HS256 with a shared secret
or ES256 with a private key from config) and send `Authorization: Bearer <jwt>`; or they send an API key in
`X-API-Key` (its scopes limit what it may do, its client's roles say who it is). Every route declares the roles
allowed and the scope it needs with `require(...)`; a customer only ever sees its own data (`customer_id`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.config import Settings
from bauhinia.domain.errors import ForbiddenError, ValidationError
from bauhinia.entrypoints.api.problems import Unauthenticated
from bauhinia.services.controls import Actor

CUSTOMER, OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN = creds.ROLES
ALL_ROLES = frozenset(creds.ROLES)
STAFF = frozenset({OPERATOR, TREASURY, COMPLIANCE, AUDITOR, ADMIN})
LEEWAY_S = 5
VERIFIED_TOKENS_MAX = 4_096  # recently verified tokens kept per process (see TokenIssuer.decode)


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    customer_id: str | None
    via: str  # "jwt" | "api_key"

    @property
    def subject(self) -> str:
        return f"client:{self.client_id}"

    @property
    def actor(self) -> Actor:
        """Who the services see (services/controls.py): the same identity a CLI operator has."""
        return Actor(self.client_id, self.roles)

    @property
    def is_customer_only(self) -> bool:
        return not (self.roles & STAFF)

    def has_scope(self, scope: str) -> bool:
        area = scope.split(":", 1)[0]
        return "*" in self.scopes or scope in self.scopes or f"{area}:*" in self.scopes


class TokenIssuer:
    def __init__(self, settings: Settings) -> None:
        self._verified: OrderedDict[str, tuple[Principal, int]] = OrderedDict()
        self._verified_lock = threading.Lock()
        self.algorithm = settings.api_jwt_algorithm
        self.issuer = settings.api_jwt_issuer
        self.ttl_s = settings.api_token_ttl_s
        if self.algorithm == "HS256":
            secret = settings.api_jwt_secret or secrets.token_urlsafe(48)
            if len(secret) < 32:
                raise ValidationError("api_jwt_secret must be at least 32 characters", code="weak_jwt_secret")
            self._sign_key: Any = secret
            self._verify_key: Any = secret
        elif self.algorithm == "ES256":
            if settings.api_jwt_private_key_file is None:
                raise ValidationError("ES256 needs api_jwt_private_key_file", code="jwt_key_missing")
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            key = load_pem_private_key(settings.api_jwt_private_key_file.read_bytes(), password=None)
            self._sign_key = key
            self._verify_key = key.public_key()  # type: ignore[union-attr]
        else:
            raise ValidationError("api_jwt_algorithm must be HS256 or ES256", code="bad_jwt_algorithm")

    def issue(self, client: creds.Client, scopes: Iterable[str], now_s: int | None = None) -> tuple[str, int]:
        now = int(now_s if now_s is not None else time.time())
        claims = {
            "iss": self.issuer,
            "sub": client.client_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": secrets.token_hex(8),
            "roles": sorted(client.roles),
            "scope": " ".join(sorted(scopes)),
        }
        if client.customer_id:
            claims["cid"] = client.customer_id
        return jwt.encode(claims, self._sign_key, algorithm=self.algorithm), self.ttl_s

    def decode(self, token: str) -> Principal:
        """Verify a token (signature, issuer, required claims, expiry). A token verified before is found in a small
        cache of recent tokens and only its expiry is checked again: a signature check is the largest part of an
        authenticated request's cost, and a token's claims cannot change."""
        now = time.time()
        with self._verified_lock:
            hit = self._verified.get(token)
            if hit is not None:
                self._verified.move_to_end(token)
        if hit is not None:
            principal, exp = hit
            if now > exp + LEEWAY_S:
                raise Unauthenticated("the token has expired", code="token_expired")
            return principal
        principal, exp = self._verify(token)
        with self._verified_lock:
            self._verified[token] = (principal, exp)
            while len(self._verified) > VERIFIED_TOKENS_MAX:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, int]:
        try:
            claims = jwt.decode(
                token, self._verify_key, algorithms=[self.algorithm], issuer=self.issuer, leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not valid", code="invalid_token") from None
        roles = frozenset(r for r in claims.get("roles", []) if r in ALL_ROLES)
        return Principal(
            client_id=str(claims["sub"]), roles=roles, scopes=frozenset(str(claims.get("scope", "")).split()),
            customer_id=claims.get("cid"), via="jwt",
        ), int(claims["exp"])


bearer_scheme = HTTPBearer(auto_error=False, description="JWT from POST /v1/oauth/token")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="bk_<id>_<secret>")


async def principal_for(request: Request) -> Principal:
    """principal_from_request for async dependencies: a JWT is checked in the event loop (CPU only); an API
    key needs the database, so its lookup goes to a worker thread."""
    if getattr(request.state, "principal", None) is not None or request.headers.get("authorization"):
        return principal_from_request(request)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(principal_from_request, request)


def principal_from_request(request: Request) -> Principal:
    """Resolve (once per request) who is calling; raises Unauthenticated."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    container = request.app.state.container
    auth = request.headers.get("authorization", "")
    key = request.headers.get("x-api-key", "")
    principal: Principal | None = None
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use Authorization: Bearer <token>", code="invalid_token")
        principal = request.app.state.tokens.decode(token.strip())
    elif key:
        owner = creds.authenticate_key(container.engine, key)
        if owner is None:
            raise Unauthenticated("the API key is not valid", code="invalid_api_key")
        principal = Principal(owner.client.client_id, owner.client.roles, owner.scopes, owner.client.customer_id,
                              "api_key")
    if principal is None:
        raise Unauthenticated("send a bearer token or an API key")
    request.state.principal = principal
    return principal


def require(*roles: str, scope: str) -> Callable[..., Principal]:
    """A dependency: the caller must hold one of `roles` and the `scope` (e.g. "ledger:write")."""
    allowed = frozenset(roles)
    unknown = allowed - ALL_ROLES
    if unknown or not allowed:
        raise ValueError(f"unknown roles {unknown}")

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
        _key: Annotated[str | None, Depends(api_key_scheme)] = None,
    ) -> Principal:
        principal = await principal_for(request)
        if not principal.roles & allowed:
            raise ForbiddenError("your roles do not allow this", code="role_not_allowed")
        if not principal.has_scope(scope):
            raise ForbiddenError(f"this needs the scope {scope}", code="insufficient_scope")
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]
    dependency.scope = scope  # type: ignore[attr-defined]
    return dependency


def own_customer(principal: Principal, customer_id: str | None) -> None:
    """Customers may only touch their own data; staff may touch any."""
    if principal.is_customer_only and (customer_id is None or customer_id != principal.customer_id):
        raise ForbiddenError("customers may only see their own data", code="not_your_data")
