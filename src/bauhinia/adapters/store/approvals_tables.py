"""Approval request and policy tables (SQLAlchemy Core). The schema is created by the Alembic branch "approvals"."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

approval_requests = sa.Table(
    "approval_requests",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("maker", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
    sa.Column("approvals_required", sa.Integer, nullable=False),
    sa.Column("decisions", sa.Text, nullable=False),
    sa.Column("execution_started_at_ns", sa.BigInteger),
    sa.Column("executed_at_ns", sa.BigInteger),
    sa.Column("result", sa.Text),
    sa.Column("last_error", sa.String(500)),
    sa.Column("reason", sa.String(500), nullable=False),
)

# the fields of a policy changed through an approved `policy_change` (JSON), by kind
policy_overrides = sa.Table(
    "approval_policy_overrides",
    metadata,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("approval_key", sa.String(120), nullable=False),
    sa.Column("changed_at_ns", sa.BigInteger, nullable=False),
)
