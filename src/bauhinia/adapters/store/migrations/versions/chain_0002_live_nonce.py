"""Chain: one live journaled transaction per sender and nonce (a nonce is claimed by journaling it).

Revision ID: chain_0002
Revises: chain_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chain_0002"
down_revision = "chain_0001"
branch_labels = None
depends_on = None

_WHERE = "state <> 'dropped'"


def upgrade() -> None:
    # Two live rows with one nonce can only be left by the code before this revision (processes sharing a key);
    # at most one of them was mined. The later of each pair that the node never mined is marked dropped first,
    # so the index can be built; reconciliation reads the journal as the node has it.
    op.execute(
        "UPDATE chain_tx_journal SET state = 'dropped', error = 'nonce shared with an earlier journaled transaction' "
        "WHERE state <> 'dropped' AND block_number IS NULL AND EXISTS (SELECT 1 FROM chain_tx_journal AS other "
        "WHERE other.chain_id = chain_tx_journal.chain_id AND other.sender = chain_tx_journal.sender "
        "AND other.nonce = chain_tx_journal.nonce AND other.state <> 'dropped' AND other.id <> chain_tx_journal.id "
        "AND (other.block_number IS NOT NULL OR other.id < chain_tx_journal.id))"
    )
    op.create_index("ux_chain_tx_journal_live_nonce", "chain_tx_journal", ["chain_id", "sender", "nonce"],
                    unique=True, postgresql_where=sa.text(_WHERE), sqlite_where=sa.text(_WHERE))


def downgrade() -> None:
    op.drop_index("ux_chain_tx_journal_live_nonce", table_name="chain_tx_journal")
