"""Chain benchmark: mints per second (one per transaction, and batched) on the embedded EVM and on a Hardhat
node, and the indexer's events per second. Prints the figures and writes bench/results/chain.json.

    .venv/bin/python bench/chain.py [--quick]

Every transaction goes through the real adapter path: a dry run (single mints) or the off-chain state check
(batch mints), local signing, journal row committed before broadcast, bounded wait for the receipt. The
embedded figures are on the default engine (revm through pyrevm); `embedded_pyevm_*` are the same batch
mints on web3's EthereumTesterProvider (py-evm), for comparison. The Hardhat node is started on a free
127.0.0.1 port if installed (node_modules/.bin/hardhat); without it the node figures are null.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from bauhinia.adapters.chain.deploy import deploy_coin
from bauhinia.adapters.chain.embedded import EMBEDDED_ENGINE_DEFAULT, make_embedded_chain, make_memory_engine
from bauhinia.adapters.chain.indexer import ChainIndexer
from bauhinia.adapters.chain.journal import TxJournal
from bauhinia.adapters.chain.keys import RoleKeys
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.chain.web3_chain import Web3Chain
from bauhinia.domain.money import Currency

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "chain.json"
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"
BATCH = 512


def _addresses(n: int) -> list[str]:
    return [Web3.to_checksum_address(os.urandom(20)) for _ in range(n)]


def _attest(chain: Web3Chain, w3: Web3) -> None:
    now = int(w3.eth.get_block("latest")["timestamp"])
    chain.attest_reserve(10**30, now, b"\x01" * 32, idempotency_key=f"bench-att-{chain.address}")


def _single_mints(chain: Web3Chain, n: int, tag: str) -> float:
    to = Account.create().address
    t0 = time.perf_counter()
    for i in range(n):
        chain.mint(to, 1, idempotency_key=f"{tag}-single-{i}")
    return n / (time.perf_counter() - t0)


def _batched(chain: Web3Chain, batches: int, tag: str) -> float:
    work = [[(a, 1_000_000) for a in _addresses(BATCH)] for _ in range(batches)]
    t0 = time.perf_counter()
    for i, credits in enumerate(work):
        chain.batch_mint(credits, idempotency_key=f"{tag}-batch-{i}")
    return batches * BATCH / (time.perf_counter() - t0)


def _index(engine: Any, w3: Web3, chain: Web3Chain) -> tuple[float, int]:
    indexer = ChainIndexer(engine, w3, chain.address, confirmations=0)
    t0 = time.perf_counter()
    events = indexer.catch_up()
    return events / (time.perf_counter() - t0), events


def _start_node() -> tuple[subprocess.Popen[bytes], Web3] | None:
    if not HARDHAT.exists():
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 60}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            w3.eth.chain_id  # noqa: B018
            return proc, w3
        except Exception:
            time.sleep(0.2)
    proc.terminate()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (for tests)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the figures (JSON)")
    args = parser.parse_args(argv)
    singles, batches = (10, 1) if args.quick else (200, 8)
    embedded_batches, pyevm_batches = (2, 1) if args.quick else (40, 4)
    results: dict[str, Any] = {"batch_size_credits": BATCH, "quick": args.quick,
                               "embedded_engine": EMBEDDED_ENGINE_DEFAULT}

    embedded = make_embedded_chain(coins=(Currency.BHKD,))
    chain = embedded.for_coin(Currency.BHKD)
    _attest(chain, embedded.w3)
    results["embedded_single_mints_per_s"] = round(_single_mints(chain, singles, "e"), 1)
    results["embedded_batched_mint_credits_per_s"] = round(_batched(chain, embedded_batches, "e"), 1)
    rate, events = _index(embedded.engine, embedded.w3, chain)
    results["indexer_embedded_events_per_s"] = round(rate, 1)
    results["indexer_embedded_events"] = events

    pyevm = make_embedded_chain(coins=(Currency.BHKD,), engine_name="py-evm")
    pyevm_chain = pyevm.for_coin(Currency.BHKD)
    _attest(pyevm_chain, pyevm.w3)
    results["embedded_pyevm_batched_mint_credits_per_s"] = round(_batched(pyevm_chain, pyevm_batches, "p"), 1)

    node = _start_node()
    results["node_single_mints_per_s"] = None
    results["node_batched_mint_credits_per_s"] = None
    results["indexer_events_per_s"] = None
    if node is not None:
        proc, w3 = node
        try:
            engine = make_memory_engine()
            sender = TxSender(w3, TxJournal(engine), poll_interval_s=0.002)
            node_chain = deploy_coin(sender, RoleKeys.generate(), Currency.BHKD, licence_number="BENCH",
                                     fund_from_dev_account=True, key_prefix="bench-node")
            _attest(node_chain, w3)
            results["node_single_mints_per_s"] = round(_single_mints(node_chain, singles, "n"), 1)
            results["node_batched_mint_credits_per_s"] = round(_batched(node_chain, batches, "n"), 1)
            rate, events = _index(engine, w3, node_chain)
            results["indexer_events_per_s"] = round(rate, 1)
            results["indexer_events"] = events
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    else:
        results["indexer_events_per_s"] = results["indexer_embedded_events_per_s"]
        results["note"] = "Hardhat node not installed: node figures are null, indexer measured on embedded"

    for key, value in results.items():
        print(f"{key}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
