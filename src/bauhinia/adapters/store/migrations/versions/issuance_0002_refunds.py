"""Issuance: the payer of each booked credit, and refunds to payers (suspense credits, held subscriptions).

Revision ID: issuance_0002
Revises: issuance_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issuance_0002"
down_revision = "issuance_0001"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "iss_credit_payers",
        sa.Column("entry_key", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(140), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(35), nullable=False),
    )
    op.create_table(
        "iss_refunds",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_seq", sa.BigInteger, nullable=False),
        sa.Column("fiat", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("creditor_name", sa.String(140), nullable=False),
        sa.Column("creditor_account", sa.String(64), nullable=False),
        sa.Column("creditor_scheme", sa.String(35), nullable=False),
        sa.Column("creditor_bic", sa.String(11)),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("approval_key", sa.String(120), nullable=False),
        sa.Column("message_id", sa.String(35), nullable=False, unique=True),
        sa.Column("execution_date", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file_name", sa.String(200)),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("source", "source_seq", name="uq_iss_refunds_source"),
    )
    op.create_index("ix_iss_refunds_status", "iss_refunds", ["status", "seq"])


def downgrade() -> None:
    op.drop_index("ix_iss_refunds_status", table_name="iss_refunds")
    op.drop_table("iss_refunds")
    op.drop_table("iss_credit_payers")
