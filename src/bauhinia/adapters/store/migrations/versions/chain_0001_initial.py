"""Chain: deployments, transaction journal, indexer cursor, indexed blocks and events, holder balances.

Revision ID: chain_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chain_0001"
down_revision = None
branch_labels = ("chain",)
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chain_deployments",
        sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("coin", sa.String(8), nullable=False),
        sa.Column("deployment_version", sa.Integer, nullable=False),
        sa.Column("deploy_block", sa.BigInteger, nullable=False),
        sa.Column("deploy_tx_hash", sa.String(66), nullable=False),
        sa.Column("roles_json", sa.Text, nullable=False),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "chain_tx_journal",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("contract", sa.String(42)),
        sa.Column("op", sa.String(32), nullable=False),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False, unique=True),
        sa.Column("raw_tx", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("succeeded", sa.Boolean),
        sa.Column("error", sa.Text),
        sa.Column("created_at_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_chain_tx_journal_sender_nonce", "chain_tx_journal", ["chain_id", "sender", "nonce"])
    op.create_index("ix_chain_tx_journal_state", "chain_tx_journal", ["state"])
    op.create_table(
        "chain_indexer_cursors",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("next_block", sa.BigInteger, nullable=False),
        sa.Column("total_supply_base_units", sa.BigInteger, nullable=False),
        sa.Column("events_applied", sa.BigInteger, nullable=False),
        sa.Column("reorgs", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "chain_indexed_blocks",
        sa.Column("cursor", sa.String(80), primary_key=True),
        sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(66), nullable=False),
    )
    op.create_table(
        "chain_events",
        sa.Column("cursor", sa.String(80), primary_key=True),
        sa.Column("block_number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("sender", sa.String(42)),
        sa.Column("receiver", sa.String(42)),
        sa.Column("value_base_units", sa.BigInteger),
        sa.Column("args_json", sa.Text, nullable=False),
    )
    op.create_table(
        "chain_holder_balances",
        sa.Column("cursor", sa.String(80), primary_key=True),
        sa.Column("holder", sa.String(42), primary_key=True),
        sa.Column("balance_base_units", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("chain_holder_balances", "chain_events", "chain_indexed_blocks", "chain_indexer_cursors",
                 "chain_tx_journal", "chain_deployments"):
        op.drop_table(name)
