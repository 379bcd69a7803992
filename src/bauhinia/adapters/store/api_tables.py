"""API tables (SQLAlchemy Core). The schema is created by the Alembic branch "api".

Machine clients (OAuth2 client credentials) with their roles, API keys with scopes, and stored responses of
POST requests by Idempotency-Key. Secrets are stored only as SHA-256 digests (they are random, 256-bit).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("roles", sa.String(256), nullable=False),  # comma-separated
    sa.Column("customer_id", sa.String(64)),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(512), nullable=False),  # space-separated
    sa.Column("revoked", sa.Boolean, nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)

api_idempotency = sa.Table(
    "api_idempotency",
    metadata,
    sa.Column("subject", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),  # 0 while the first request is in progress
    sa.Column("content_type", sa.String(128)),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)

# One-time enrolment of a client created through the API: the admin who creates a client never sees its secret;
# the owner redeems the one-time code (delivered out of band) for the secret. `created_by` is kept for good, so
# the creator can never approve a staff role for the client it created.
api_enrolments = sa.Table(
    "api_enrolments",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
    sa.Column("used_at_ns", sa.BigInteger),
)
