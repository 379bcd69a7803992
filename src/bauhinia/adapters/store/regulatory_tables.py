"""Regulatory tables (SQLAlchemy Core). The schema itself is created by the Alembic branch "regulatory".

- reg_incidents: the regulator's view of an incident: kind, severity, the notification deadline, when and under
  which reference the HKMA was told, closure. An incident that began in the reserves area (reconciliation
  break) keeps the same incident_id as its reserve_incidents row: this table extends it, it does not copy it.
- reg_incident_events: the incident's timeline (opened, notified, update, closed), one row per event.
- reg_returns: every periodic return produced (daily statement, monthly return) with its body and SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

incidents = sa.Table(
    "reg_incidents",
    metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),  # regulatory | reserves
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("opened_at_ns", sa.BigInteger, nullable=False),
    sa.Column("notify_by_ns", sa.BigInteger, nullable=False),
    sa.Column("notified_at_ns", sa.BigInteger),
    sa.Column("notification_ref", sa.String(120), nullable=False),
    sa.Column("closed_at_ns", sa.BigInteger),
)

incident_events = sa.Table(
    "reg_incident_events",
    metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

returns = sa.Table(
    "reg_returns",
    metadata,
    sa.Column("return_id", sa.String(64), primary_key=True),  # daily:2026-11-26, monthly:2026-11
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
)
