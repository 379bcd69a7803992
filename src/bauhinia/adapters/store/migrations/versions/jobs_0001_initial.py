"""Jobs: leases with fencing tokens (one replica runs a job at a time) and the log of every job run.

Revision ID: jobs_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "jobs_0001"
down_revision = None
branch_labels = ("jobs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("acquired_at_ns", sa.BigInteger, nullable=False),
        sa.Column("renewed_at_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "job_runs",
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
    op.create_index("ix_job_runs_name_started", "job_runs", ["name", "started_at_ns"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_name_started", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("job_leases")
