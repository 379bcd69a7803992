"""Security tables (SQLAlchemy Core). The schema is created by the Alembic branch "security".

`security_signin_failures` counts failed console sign-ins per key ("client:<id>" or "addr:<address>") in a
window and holds the lockout that follows too many; `security_console_sessions` holds console sessions: the
cookie is an opaque random id of which only the SHA-256 digest is stored, so a session can be revoked (sign-out,
disabled client) and a stolen database row is no cookie.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

security_signin_failures = sa.Table(
    "security_signin_failures",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("window_start_ns", sa.BigInteger, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until_ns", sa.BigInteger, nullable=False),
)

security_console_sessions = sa.Table(
    "security_console_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
    sa.Column("revoked_at_ns", sa.BigInteger),
)
