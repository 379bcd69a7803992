"""Machine clients, API keys and idempotent responses on SQLite / PostgreSQL.

Client secrets and API keys are 256-bit random values shown once at creation; only their SHA-256 is stored
(a slow password hash buys nothing for secrets with that much entropy). API keys look like `bk_<id>_<secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bauhinia.adapters.store.api_tables import api_clients, api_enrolments, api_idempotency, api_keys
from bauhinia.domain.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError

ROLES = ("customer", "operator", "treasury", "compliance", "auditor", "admin")
CLIENT_ID_LENGTH_MAX = 64


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    roles: frozenset[str]
    customer_id: str | None
    disabled: bool


@dataclass(frozen=True, slots=True)
class KeyOwner:
    client: Client
    key_id: str
    scopes: frozenset[str]


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _roles(text: str) -> frozenset[str]:
    return frozenset(r for r in text.split(",") if r)


def _client(row: object) -> Client:
    return Client(row.client_id, _roles(row.roles), row.customer_id, bool(row.disabled))  # type: ignore[attr-defined]


def check_roles(roles: set[str] | frozenset[str]) -> None:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValidationError(f"unknown roles: {', '.join(sorted(unknown))}", code="unknown_role")


def create_client(
    engine: Engine, client_id: str, roles: set[str] | frozenset[str], customer_id: str | None = None
) -> str:
    """Create a client; returns its secret (shown once)."""
    plain = client_id.replace("-", "").replace("_", "")
    if not client_id or len(client_id) > CLIENT_ID_LENGTH_MAX or not (plain.isascii() and plain.isalnum()):
        raise ValidationError("client_id must be 1..64 letters, digits, '-' or '_'", code="bad_client_id")
    check_roles(roles)
    if "customer" in roles and not customer_id:
        raise ValidationError("a customer client needs a customer_id", code="customer_id_required")
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if conn.execute(sa.select(api_clients.c.client_id).where(api_clients.c.client_id == client_id)).first():
            raise ConflictError(f"client {client_id} exists", code="client_exists")
        conn.execute(api_clients.insert().values(
            client_id=client_id, secret_sha256=_sha(secret), roles=",".join(sorted(roles)),
            customer_id=customer_id, disabled=False, created_at_ns=time.time_ns(),
        ))
    return secret


NO_SECRET = "!"  # noqa: S105 - a stored digest no secret hashes to: the client cannot sign in until it enrols
ENROLMENT_TTL_S = 72 * 3600


@dataclass(frozen=True, slots=True)
class Enrolment:
    client_id: str
    code: str  # shown once, to the delivery channel only
    expires_at_ns: int


def create_enrolling_client(
    engine: Engine, client_id: str, roles: set[str] | frozenset[str], customer_id: str | None, *,
    created_by: str, now_ns: int, ttl_s: int = ENROLMENT_TTL_S,
) -> Enrolment:
    """Create a client that has no secret yet, and the one-time code its owner redeems for one (`enrol`)."""
    create_client(engine, client_id, roles, customer_id)
    code = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(api_clients.update().where(api_clients.c.client_id == client_id)
                     .values(secret_sha256=NO_SECRET))
        conn.execute(api_enrolments.insert().values(
            client_id=client_id, created_by=created_by[:80], code_sha256=_sha(code), created_at_ns=now_ns,
            expires_at_ns=now_ns + ttl_s * 1_000_000_000, used_at_ns=None))
    return Enrolment(client_id, code, now_ns + ttl_s * 1_000_000_000)


def enrol(engine: Engine, client_id: str, code: str, now_ns: int) -> str:
    """Redeem a one-time enrolment code: returns the client's secret (shown once). A used, expired or wrong
    code is refused the same way, and changes nothing."""
    refused = ForbiddenError("unknown client, or an enrolment code that is wrong, used or expired",
                             code="enrolment_refused")
    with engine.begin() as conn:
        row = conn.execute(sa.select(api_enrolments).where(api_enrolments.c.client_id == client_id)
                           .with_for_update()).one_or_none()
        if row is None or row.used_at_ns is not None or now_ns >= row.expires_at_ns \
                or not hmac.compare_digest(row.code_sha256, _sha(code)):
            raise refused
        secret = secrets.token_urlsafe(32)
        conn.execute(api_enrolments.update().where(api_enrolments.c.client_id == client_id)
                     .values(used_at_ns=now_ns))
        conn.execute(api_clients.update().where(api_clients.c.client_id == client_id)
                     .values(secret_sha256=_sha(secret)))
    return secret


def created_by(engine: Engine, client_id: str) -> str | None:
    """Who created the client through the API (None for clients set up from the command line)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(api_enrolments.c.created_by)
                            .where(api_enrolments.c.client_id == client_id)).scalar_one_or_none()


def get_client(engine: Engine, client_id: str) -> Client:
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_clients).where(api_clients.c.client_id == client_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"client {client_id} not found", code="client_not_found")
    return _client(row)


def list_clients(engine: Engine, *, after: str | None = None, limit: int = 100) -> list[Client]:
    stmt = sa.select(api_clients).order_by(api_clients.c.client_id).limit(min(limit, 1_000))
    if after is not None:
        stmt = stmt.where(api_clients.c.client_id > after)
    with engine.connect() as conn:
        return [_client(r) for r in conn.execute(stmt)]


def authenticate_client(engine: Engine, client_id: str, secret: str) -> Client | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_clients).where(api_clients.c.client_id == client_id)).one_or_none()
    if row is None or row.disabled or not hmac.compare_digest(row.secret_sha256, _sha(secret)):
        return None
    return _client(row)


def grant_role(engine: Engine, client_id: str, role: str) -> frozenset[str]:
    """Add a role (the approvals executor calls this once a grant is approved). Idempotent."""
    check_roles({role})
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(api_clients).where(api_clients.c.client_id == client_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"client {client_id} not found", code="client_not_found")
        roles = _roles(row.roles) | {role}
        conn.execute(api_clients.update().where(api_clients.c.client_id == client_id)
                     .values(roles=",".join(sorted(roles))))
    return roles


def create_api_key(engine: Engine, client_id: str, scopes: set[str] | frozenset[str]) -> str:
    """A new API key for an existing client with the given scopes; returns the key (shown once)."""
    get_client(engine, client_id)
    if not scopes or any((not s) or " " in s or len(s) > 64 for s in scopes):
        raise ValidationError("scopes must be 1+ words without spaces", code="bad_scopes")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(api_keys.insert().values(
            key_id=key_id, client_id=client_id, secret_sha256=_sha(secret), scopes=" ".join(sorted(scopes)),
            revoked=False, created_at_ns=time.time_ns(),
        ))
    return f"bk_{key_id}_{secret}"


def authenticate_key(engine: Engine, key: str) -> KeyOwner | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "bk" or len(parts[1]) != 16:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(api_keys, api_clients.c.roles, api_clients.c.customer_id, api_clients.c.disabled)
            .join(api_clients, api_clients.c.client_id == api_keys.c.client_id)
            .where(api_keys.c.key_id == parts[1])
        ).one_or_none()
    if row is None or row.revoked or row.disabled or not hmac.compare_digest(row.secret_sha256, _sha(parts[2])):
        return None
    client = Client(row.client_id, _roles(row.roles), row.customer_id, bool(row.disabled))
    return KeyOwner(client, row.key_id, frozenset(row.scopes.split()))


# --- idempotent responses ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_sha256: str
    status_code: int  # 0: the first request is still running
    content_type: str | None
    body: bytes


def idempotency_reserve(engine: Engine, subject: str, key: str, request_sha256: str) -> StoredResponse | None:
    """Reserve (subject, key) for a new request, or return what is stored for it (one write transaction)."""
    try:
        with engine.begin() as conn:
            row = conn.execute(
                sa.select(api_idempotency).where(api_idempotency.c.subject == subject, api_idempotency.c.key == key)
            ).one_or_none()
            if row is not None:
                return StoredResponse(row.request_sha256, int(row.status_code), row.content_type,
                                      bytes(row.body or b""))
            conn.execute(api_idempotency.insert().values(
                subject=subject, key=key, request_sha256=request_sha256, status_code=0, created_at_ns=time.time_ns()
            ))
    except sa.exc.IntegrityError:  # a concurrent request with the same key won the race
        return StoredResponse(request_sha256, 0, None, b"")
    return None


def idempotency_store(
    engine: Engine, subject: str, key: str, status_code: int, content_type: str | None, body: bytes,
    audit_entry: dict[str, Any] | None = None,
) -> None:
    """Store the response for replay and, for an accepted call, its audit entry, in one transaction."""
    with engine.begin() as conn:
        conn.execute(
            api_idempotency.update()
            .where(api_idempotency.c.subject == subject, api_idempotency.c.key == key)
            .values(status_code=status_code, content_type=content_type, body=body)
        )
        if audit_entry is not None:
            from bauhinia.adapters.store import audit

            audit.append(conn, **audit_entry)


def idempotency_release(engine: Engine, subject: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(api_idempotency.delete().where(
            api_idempotency.c.subject == subject, api_idempotency.c.key == key, api_idempotency.c.status_code == 0
        ))


def count_with_role(engine: Engine, role: str) -> int:
    """How many enabled clients hold `role` (the CLI lets the first admins be created without approval)."""
    check_roles({role})
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_clients.c.roles).where(api_clients.c.disabled == sa.false())).all()
    return sum(1 for row in rows if role in _roles(row.roles))
