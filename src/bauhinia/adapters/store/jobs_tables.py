"""Tables of the jobs area (migrations/versions/jobs_0001_initial.py creates them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

job_leases = sa.Table(
    "job_leases", metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("holder", sa.String(120), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at_ns", sa.BigInteger, nullable=False),
    sa.Column("renewed_at_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
)

job_runs = sa.Table(
    "job_runs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("holder", sa.String(120), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("started_at_ns", sa.BigInteger, nullable=False),
    sa.Column("finished_at_ns", sa.BigInteger),
    sa.Column("ok", sa.Boolean),
    sa.Column("summary", sa.String(500)),
    sa.Column("error", sa.String(500)),
)
