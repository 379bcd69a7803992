"""OAuth2 client credentials, who am I, machine clients, API keys and role grants (maker-checker)."""

from __future__ import annotations

import base64
import json
import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Request, status
from pydantic import BaseModel, Field

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.domain.errors import ForbiddenError
from bauhinia.entrypoints.api.auth import ADMIN, ALL_ROLES, Principal, require
from bauhinia.entrypoints.api.deps import ContainerDep
from bauhinia.entrypoints.api.idempotency import EXEMPT, IdempotentRoute
from bauhinia.entrypoints.api.pagination import Page, PageParams, page, page_params
from bauhinia.entrypoints.api.problems import Unauthenticated
from bauhinia.entrypoints.api.routes.approvals import ApprovalPublic, approval_public
from bauhinia.services import controls

router = APIRouter(route_class=IdempotentRoute, tags=["auth"])

ROLE_PATTERN = "^(customer|operator|treasury|compliance|auditor|admin)$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    scope: str


@router.post("/oauth/token", response_model=TokenPublic, openapi_extra={EXEMPT: True})
def issue_token(
    request: Request,
    container: ContainerDep,
    grant_type: Annotated[Literal["client_credentials"], Form()],
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[str | None, Form(max_length=512)] = None,
) -> TokenPublic:
    """OAuth2 client credentials (RFC 6749 §4.4): form fields or HTTP Basic; returns a signed JWT."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Unauthenticated("bad Basic credentials", code="invalid_client") from None
    if not client_id or not client_secret:
        raise Unauthenticated("client_id and client_secret are required", code="invalid_client")
    client = creds.authenticate_client(container.engine, client_id, client_secret)
    if client is None:
        request.state.claimed_client_id = client_id[:64]  # for the refusal's audit entry (see api.refusals)
        raise Unauthenticated("unknown client or wrong secret", code="invalid_client")
    scopes = set(scope.split()) if scope else {"*"}
    token, ttl = request.app.state.tokens.issue(client, scopes)
    return TokenPublic(access_token=token, expires_in=ttl, scope=" ".join(sorted(scopes)))


class MePublic(BaseModel):
    client_id: str
    roles: list[str]
    scopes: list[str]
    customer_id: str | None
    via: str


@router.get("/me", response_model=MePublic)
def me(principal: Annotated[Principal, Depends(require(*ALL_ROLES, scope="me:read"))]) -> MePublic:
    return MePublic(client_id=principal.client_id, roles=sorted(principal.roles), scopes=sorted(principal.scopes),
                    customer_id=principal.customer_id, via=principal.via)


class ClientCreate(BaseModel):
    client_id: str = Field(pattern=ID_PATTERN)
    customer_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ClientPublic(BaseModel):
    client_id: str
    roles: list[str]
    customer_id: str | None
    disabled: bool


class EnrolmentPublic(BaseModel):
    delivered_via: Literal["file"] = "file"
    expires_at_ns: int


class ClientCreated(ClientPublic):
    enrolment: EnrolmentPublic = Field(description="the one-time code went to the client's owner, not to you")


def _deliver(settings: Any, enrolment: creds.Enrolment) -> None:
    """Write the one-time code for the delivery channel: a file only its owner can read (0600)."""
    folder = settings.enrolment_dir or settings.data_dir / "enrolments"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{enrolment.client_id}.json"
    doc = {"client_id": enrolment.client_id, "enrolment_code": enrolment.code,
           "expires_at_ns": enrolment.expires_at_ns,
           "redeem": f"POST /v1/clients/{enrolment.client_id}/enrolment with {{\"code\": ...}}"}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)


@router.post("/clients", status_code=status.HTTP_201_CREATED, response_model=ClientCreated)
def create_client(
    body: ClientCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(ADMIN, scope="clients:write"))],
) -> ClientCreated:
    """A new machine client, with no secret yet. Its one-time enrolment code goes to the client's owner through
    the enrolment channel (never in this answer); the owner redeems it at /v1/clients/{id}/enrolment. With
    customer_id it is a customer client; staff roles only come by role grants, which its creator can never
    approve."""
    roles = {"customer"} if body.customer_id else set()
    now = container.clock.now_ns()
    enrolment = creds.create_enrolling_client(container.engine, body.client_id, roles, body.customer_id,
                                              created_by=principal.subject, now_ns=now,
                                              ttl_s=container.settings.enrolment_ttl_s)
    _deliver(container.settings, enrolment)
    with container.engine.begin() as conn:
        from bauhinia.adapters.store import audit

        audit.append(conn, actor=principal.subject, action="client.created", subject=f"client:{body.client_id}",
                     details={"roles": sorted(roles), "customer_id": body.customer_id, "enrolment": "file"},
                     now_ns=now)
    return ClientCreated(client_id=body.client_id, roles=sorted(roles), customer_id=body.customer_id,
                         disabled=False, enrolment=EnrolmentPublic(expires_at_ns=enrolment.expires_at_ns))


class EnrolmentRedeem(BaseModel):
    code: str = Field(min_length=16, max_length=128)


class EnrolledPublic(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown once")


@router.post("/clients/{client_id}/enrolment", response_model=EnrolledPublic, openapi_extra={EXEMPT: True})
def redeem_enrolment(
    client_id: Annotated[str, Path(pattern=ID_PATTERN)], body: EnrolmentRedeem, container: ContainerDep,
) -> EnrolledPublic:
    """The client's owner redeems its one-time enrolment code for the client secret (once; the code then dies)."""
    now = container.clock.now_ns()
    secret = creds.enrol(container.engine, client_id, body.code, now)
    with container.engine.begin() as conn:
        from bauhinia.adapters.store import audit

        audit.append(conn, actor=f"client:{client_id}", action="client.enrolled", subject=f"client:{client_id}",
                     details={}, now_ns=now)
    return EnrolledPublic(client_id=client_id, client_secret=secret)


@router.get("/clients", response_model=Page[ClientPublic])
def list_clients(
    container: ContainerDep, pg: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require(ADMIN, "auditor", scope="clients:read"))],
) -> dict:
    rows = creds.list_clients(container.engine, after=pg.after, limit=pg.limit + 1)
    items = [ClientPublic(client_id=c.client_id, roles=sorted(c.roles), customer_id=c.customer_id,
                          disabled=c.disabled) for c in rows]
    return page(items, pg.limit, lambda c: c.client_id)


class ApiKeyCreate(BaseModel):
    scopes: list[str] = Field(min_length=1, max_length=20)


class ApiKeyCreated(BaseModel):
    client_id: str
    api_key: str = Field(description="shown once; send it as X-API-Key")
    scopes: list[str]


@router.post("/clients/{client_id}/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(
    client_id: Annotated[str, Path(pattern=ID_PATTERN)], body: ApiKeyCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(ADMIN, scope="clients:write"))],
) -> ApiKeyCreated:
    target = creds.get_client(container.engine, client_id)
    if client_id != principal.client_id and target.roles - {"customer"}:
        # Otherwise one admin could mint a key for another staff client and approve its own requests as them.
        raise ForbiddenError("API keys for another staff client are created by that client",
                             code="key_for_other_staff")
    key = creds.create_api_key(container.engine, client_id, set(body.scopes))
    with container.engine.begin() as conn:
        from bauhinia.adapters.store import audit

        audit.append(conn, actor=principal.subject, action="api_key.created", subject=f"client:{client_id}",
                     details={"scopes": sorted(body.scopes)}, now_ns=container.clock.now_ns())
    return ApiKeyCreated(client_id=client_id, api_key=key, scopes=sorted(body.scopes))


class RoleGrantCreate(BaseModel):
    client_id: str = Field(pattern=ID_PATTERN)
    role: str = Field(pattern=ROLE_PATTERN)


@router.post("/role-grants", status_code=status.HTTP_202_ACCEPTED, response_model=ApprovalPublic)
def request_role_grant(
    body: RoleGrantCreate, container: ContainerDep,
    principal: Annotated[Principal, Depends(require(ADMIN, scope="clients:write"))],
) -> ApprovalPublic:
    """Granting a role needs a second admin: this opens an approval request (see /v1/approvals)."""
    creds.get_client(container.engine, body.client_id)
    # Neither the client itself nor whoever created it may approve: one person never holds two approver identities.
    sub = controls.request_role_grant(container.approvals, principal.actor, body.client_id, body.role,
                                      created_by=creds.created_by(container.engine, body.client_id))
    return approval_public(sub.request)
