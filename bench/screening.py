"""Screening benchmark: accuracy on the labelled pair set, latency of one query against the full packaged lists.

Prints the figures and writes bench/results/screening.json. Precision, recall and F1 are at the default hit
threshold over tests/fixtures/screening/pairs.csv; p50/p99 are per query (candidate stage + precise scoring +
evidence) against every name of the sanctions snapshot shipped in the package (src/bauhinia/data/sanctions),
pinned to one core. `--quick` times 200 queries instead of 3,000. Targets: F1 >= 0.90, p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from pathlib import Path

from bauhinia.adapters.screening.lists import SNAPSHOT_DIR, load_lists
from bauhinia.adapters.screening.matcher import Matcher, Query
from bauhinia.adapters.screening.names import score_names
from bauhinia.domain.compliance import DEFAULT_THRESHOLDS, parse_party_schema

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "screening.json"
PAIRS = ROOT / "tests" / "fixtures" / "screening" / "pairs.csv"
LISTS = SNAPSHOT_DIR


def _mutate(name: str, rng: random.Random) -> str:
    words = name.split()
    if len(words) >= 2 and rng.random() < 0.5:
        words = words[1:] + words[:1]
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 4 and rng.random() < 0.5:
        j = rng.randrange(1, len(w) - 1)
        words[i] = w[:j] + w[j + 1 :]
    return " ".join(words)


def accuracy(pairs: Path) -> dict[str, float]:
    tp = fp = fn = tn = 0
    with pairs.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            score = score_names(row["name1"], row["name2"], parse_party_schema(row["schema"])).score
            truth = row["is_match"] == "1"
            predicted = score >= DEFAULT_THRESHOLDS.hit
            tp += truth and predicted
            fp += (not truth) and predicted
            fn += truth and not predicted
            tn += (not truth) and not predicted
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "pairs": tp + fp + fn + tn,
            "false_positives": fp, "false_negatives": fn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 timed queries instead of 3,000")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--lists", type=Path, default=LISTS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    figures: dict[str, object] = {"quick": args.quick}
    t0 = time.perf_counter()
    figures.update(accuracy(PAIRS))
    figures["pairs_s"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    parties = load_lists(args.lists)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    matcher = Matcher(parties)
    index_s = time.perf_counter() - t0

    rng = random.Random(7)
    listed = [e.name for e in matcher.entries]
    with PAIRS.open(newline="", encoding="utf-8") as fh:
        outside = [r["name1"] for r in csv.DictReader(fh)]
    n = 200 if args.quick else 3_000
    queries = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            queries.append(rng.choice(listed))
        elif kind == 1:
            queries.append(_mutate(rng.choice(listed), rng))
        else:
            queries.append(rng.choice(outside))
    for q in queries[:20]:  # warm caches (OpenCC, pypinyin, ToJyutping dictionaries)
        matcher.screen(Query(q))
    latencies_ms = []
    hits = 0
    for q in queries:
        t = time.perf_counter()
        found = matcher.screen(Query(q))
        latencies_ms.append((time.perf_counter() - t) * 1000)
        hits += bool(found)
    latencies_ms.sort()
    figures.update({
        "list_names": matcher.list_names,
        "list_entities": len(parties),
        "queries": n,
        "queries_with_hits": hits,
        "p50_ms": round(latencies_ms[len(latencies_ms) // 2], 4),
        "p99_ms": round(latencies_ms[min(len(latencies_ms) - 1, int(len(latencies_ms) * 0.99))], 4),
        "max_ms": round(latencies_ms[-1], 4),
        "load_lists_s": round(load_s, 3),
        "build_index_s": round(index_s, 3),
    })
    for key in ("precision", "recall", "f1"):
        figures[key] = round(float(figures[key]), 4)  # type: ignore[arg-type]
    print(f"pairs {figures['pairs']}: precision {figures['precision']} recall {figures['recall']} "
          f"f1 {figures['f1']} (target >= 0.90)")
    print(f"{n} queries against {figures['list_names']} listed names: p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms (target <= 5 ms), max {figures['max_ms']} ms")
    print(f"load lists {figures['load_lists_s']} s, build index {figures['build_index_s']} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
