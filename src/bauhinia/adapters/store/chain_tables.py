"""Chain tables (SQLAlchemy Core). The schema itself is created by the Alembic branch "chain".

- chain_deployments: each coin's contract per chain (versioned deployments: a successor gets a new row).
- chain_tx_journal: every transaction we sign, written BEFORE it is broadcast (hash and raw bytes), keyed by
  the caller's idempotency key, so a retry after a crash re-broadcasts the same bytes instead of a new mint.
- chain_indexer_cursors / chain_indexed_blocks / chain_events / chain_holder_balances: the indexer's state.
  A cursor is one contract on one chain; blocks keep the hash we indexed (reorg detection); events are the
  contract's logs from confirmed blocks; holder balances are the sum of indexed Transfer events.

Token amounts are BIGINT: 2**63 - 1 base units is 9.2 trillion coins; the indexer raises beyond that.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

deployments = sa.Table(
    "chain_deployments",
    metadata,
    sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("address", sa.String(42), primary_key=True),
    sa.Column("coin", sa.String(8), nullable=False),
    sa.Column("deployment_version", sa.Integer, nullable=False),
    sa.Column("deploy_block", sa.BigInteger, nullable=False),
    sa.Column("deploy_tx_hash", sa.String(66), nullable=False),
    sa.Column("roles_json", sa.Text, nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
)

tx_journal = sa.Table(
    "chain_tx_journal",
    metadata,
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
sa.Index("ix_chain_tx_journal_sender_nonce", tx_journal.c.chain_id, tx_journal.c.sender, tx_journal.c.nonce)
sa.Index("ix_chain_tx_journal_state", tx_journal.c.state)
# A nonce is claimed by journaling it: one live (not dropped) transaction per sender and nonce, so that processes
# sharing a key (replicas of `bauhinia run`, two API workers) never sign two transactions with one nonce.
_LIVE = tx_journal.c.state != "dropped"
sa.Index("ux_chain_tx_journal_live_nonce", tx_journal.c.chain_id, tx_journal.c.sender, tx_journal.c.nonce,
         unique=True, postgresql_where=_LIVE, sqlite_where=_LIVE)

indexer_cursors = sa.Table(
    "chain_indexer_cursors",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("address", sa.String(42), nullable=False),
    sa.Column("next_block", sa.BigInteger, nullable=False),
    sa.Column("total_supply_base_units", sa.BigInteger, nullable=False),
    sa.Column("events_applied", sa.BigInteger, nullable=False),
    sa.Column("reorgs", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)

indexed_blocks = sa.Table(
    "chain_indexed_blocks",
    metadata,
    sa.Column("cursor", sa.String(80), primary_key=True),
    sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(66), nullable=False),
)

events = sa.Table(
    "chain_events",
    metadata,
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

holder_balances = sa.Table(
    "chain_holder_balances",
    metadata,
    sa.Column("cursor", sa.String(80), primary_key=True),
    sa.Column("holder", sa.String(42), primary_key=True),
    sa.Column("balance_base_units", sa.BigInteger, nullable=False),
)
