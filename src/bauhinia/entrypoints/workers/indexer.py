"""The chain indexer worker: a bounded polling loop over every recorded coin deployment.

    python -m bauhinia.entrypoints.workers.indexer --iterations 100 --poll-s 2

Each iteration steps every coin's indexer (adapters.chain.indexer.ChainIndexer) until it reaches the confirmed
head; cursors live in the database, so stopping and starting again resumes where it left off.
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa
from web3 import Web3

from bauhinia.adapters.chain.indexer import ChainIndexer, IndexStep
from bauhinia.adapters.chain.node import chain_settings, connect_node
from bauhinia.adapters.store.chain_tables import deployments
from bauhinia.adapters.store.db import make_engine, migrate
from bauhinia.bootstrap import load_settings
from bauhinia.domain.errors import ConflictError

iterations_max = 1_000_000
poll_s_min = 0.05


def indexers_for(engine: sa.Engine, w3: Web3, confirmations: int) -> list[ChainIndexer]:
    chain_id = int(w3.eth.chain_id)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(deployments.c.address, deployments.c.deploy_block)
                            .where(deployments.c.chain_id == chain_id)).all()
    return [ChainIndexer(engine, w3, r.address, start_block=int(r.deploy_block), confirmations=confirmations)
            for r in rows]


def run(engine: sa.Engine, w3: Web3, *, confirmations: int, iterations: int, poll_s: float) -> list[IndexStep]:
    """Run `iterations` rounds (bounded); returns the last step of each indexer."""
    iterations = max(1, min(iterations, iterations_max))
    last: list[IndexStep] = []
    for i in range(iterations):
        last = []
        for indexer in indexers_for(engine, w3, confirmations):
            indexer.catch_up()
            last.append(indexer.step())
        if i + 1 < iterations:
            time.sleep(max(poll_s, poll_s_min))
    return last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Follow the coins' contract events into the store.")
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--poll-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    settings = load_settings()
    if not settings.chain_rpc_url:
        raise ConflictError("the indexer worker needs BAUHINIA_CHAIN_RPC_URL (the embedded EVM lives inside "
                            "one process)", code="chain_rpc_missing")
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    steps = run(engine, connect_node(settings.chain_rpc_url), confirmations=chain_settings(settings).confirmations,
                iterations=args.iterations, poll_s=args.poll_s)
    for step in steps:
        print(f"head {step.head_block} next {step.next_block} lag {step.lag_blocks} blocks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
