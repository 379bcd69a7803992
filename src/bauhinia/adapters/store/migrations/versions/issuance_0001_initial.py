"""Issuance: customers, coins, bank files and entries, subscriptions, mint batches, redemptions, payouts.

Revision ID: issuance_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from bauhinia.adapters.store.issuance_tables import metadata

revision = "issuance_0001"
down_revision = None
branch_labels = ("issuance",)
depends_on = None


def upgrade() -> None:
    # The tables are declared once in issuance_tables; this first revision creates them as declared there.
    # Later revisions of this branch spell out their changes (add_column, ...), never re-create.
    bind = op.get_bind()
    metadata.create_all(bind)


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
