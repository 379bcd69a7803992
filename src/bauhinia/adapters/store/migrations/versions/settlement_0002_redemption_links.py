"""Settlement: redemptions that pay out a released invoice's proceeds (invoice number in the payout's remittance).

Revision ID: settlement_0002
Revises: settlement_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "settlement_0002"
down_revision = "settlement_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_redemption_links",
        sa.Column("redemption_key", sa.String(120), primary_key=True),
        sa.Column("invoice_id", sa.String(35), nullable=False),
        sa.Column("linked_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_settlement_redemption_links_invoice_id", "settlement_redemption_links", ["invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_settlement_redemption_links_invoice_id", "settlement_redemption_links")
    op.drop_table("settlement_redemption_links")
