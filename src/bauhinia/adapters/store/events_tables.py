"""Event tables (SQLAlchemy Core). The schema is created by the Alembic branch "events".

`outbox_events` is the transactional outbox: a service writes its event in the same transaction as the state
change, and the relay publishes rows in id order afterwards (at least once; consumers de-duplicate on the id).
`webhook_deliveries` keeps every webhook delivery that ran out of attempts (the dead-letter list) until it is
replayed. Times are nanoseconds since the Unix epoch.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(128), nullable=False),
    sa.Column("key", sa.String(128)),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    # pending -> published | dead (ran out of attempts; replay puts it back to pending)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at_ns", sa.BigInteger, nullable=False),
    sa.Column("published_at_ns", sa.BigInteger),
    sa.Column("last_error", sa.String(500)),
)

webhook_dead_letters = sa.Table(
    "webhook_dead_letters",
    metadata,
    sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("endpoint", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(128), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(500), nullable=False),
    sa.Column("created_at_ns", sa.BigInteger, nullable=False),
    sa.Column("replayed_at_ns", sa.BigInteger),
)
