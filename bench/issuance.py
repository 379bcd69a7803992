"""Issuance end to end on the embedded defaults (SQLite file with WAL + synchronous=FULL, in-process EVM).

subscriptions_per_s: one camt.054 with 10,000 credits from 50 customers is read (schema-checked), matched to
customers, booked, gated by reserve coverage, and minted on chain in batches of 512 credits, until every coin
is in its holder's wallet. redemptions_per_s: redemption requests are validated and recorded, the coins the
holders sent in are matched from the indexed chain events, burned, booked, and put into a pain.001 payout file.
The holders' own transfers of coins to the redemption address happen before the clock starts (they are the
customers' transactions, not the issuer's work).

Usage: python bench/issuance.py [--quick] [--credits N] [--redemptions N] [--out FILE]
Prints its figures and writes bench/results/issuance.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

RESULTS = Path(__file__).resolve().parent / "results" / "issuance.json"
CNH = Currency.CNH


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--credits", type=int)
    ap.add_argument("--redemptions", type=int)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    n_credits = args.credits or (500 if args.quick else 10_000)
    n_red = args.redemptions or (50 if args.quick else 1_000)
    rng = random.Random(7)
    out: dict[str, object] = {"credits": n_credits, "redemptions": n_red, "customers": args.customers,
                              "quick": args.quick}
    with tempfile.TemporaryDirectory() as d:
        issuer = make_issuer(Path(d) / "data", capital_minor=100_000_000_00, buffer_bps=50, redemption_fee_bps=10)
        ctx = issuer.ctx
        holders = [issuer.add_holder(f"c{i:04d}", f"Customer {i} Ltd", f"004-555-{i:06d}-838")
                   for i in range(args.customers)]
        entries = [issuer.deposit(rng.choice(holders), rng.randint(100_00, 10_000_00), f"IN-{i:07d}")
                   for i in range(n_credits)]
        issuer.drop_notification(entries, datetime.now(UTC), message_id="BENCH-NTF-1")
        t0 = time.perf_counter()
        ingest = svc.ingest_bank_files(ctx)
        t1 = time.perf_counter()
        mint = svc.run_subscriptions(ctx, CNH, max_batches=1_000)
        t2 = time.perf_counter()
        if ingest.subscriptions != n_credits or mint.minted != n_credits:
            raise SystemExit(f"not everything minted: {ingest.subscriptions} booked, {mint.minted} minted")
        supply = svc.supply_check(ctx, CNH)
        if supply["difference_base_units"]:
            raise SystemExit(f"ledger and chain disagree: {supply}")
        out["subscriptions_per_s"] = round(n_credits / (t2 - t0), 1)
        out["ingest_credits_per_s"] = round(n_credits / (t1 - t0), 1)
        out["mint_credits_per_s"] = round(n_credits / (t2 - t1), 1)
        out["mint_batches"] = mint.batches
        print(f"subscriptions end to end: {n_credits:,} in {t2 - t0:.2f} s = {n_credits / (t2 - t0):,.0f}/s "
              f"(read+book {t1 - t0:.2f} s, mint {t2 - t1:.2f} s in {mint.batches} batches)")

        # Redemptions: holders with gas send coins in first (their transactions, not timed).
        redeemers = holders[:20]
        issuer.fund_gas(*redeemers)
        chain = issuer.chain()
        plan = []
        for i in range(n_red):
            h = redeemers[i % len(redeemers)]
            amount = 100_00 + (i % 97) * 100
            plan.append((h, amount, f"bench-red-{i}"))
            chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(amount),
                              idempotency_key=f"bench-send-{i}")
        t3 = time.perf_counter()
        for h, amount, key in plan:
            svc.request_redemption(ctx, iss.RedemptionRequest(h.customer_id, Currency.BCNH, amount, h.wallet,
                                                              h.bank_account, key))
        t4 = time.perf_counter()
        red = svc.run_redemptions(ctx, CNH)
        t5 = time.perf_counter()
        if red.burned != n_red or not red.payout_files:
            raise SystemExit(f"redemptions incomplete: {red}")
        out["redemptions_per_s"] = round(n_red / (t5 - t3), 1)
        out["redemption_requests_per_s"] = round(n_red / (t4 - t3), 1)
        out["redemption_burn_and_payout_per_s"] = round(n_red / (t5 - t4), 1)
        print(f"redemptions to payout file: {n_red:,} in {t5 - t3:.2f} s = {n_red / (t5 - t3):,.0f}/s "
              f"(requests {t4 - t3:.2f} s, match+burn+book+pain.001 {t5 - t4:.2f} s)")
        inv = ctx.ledger.check_invariants()
        if not inv.ok:
            raise SystemExit(f"ledger invariants broken: {inv.problems[:3]}")
        if svc.supply_check(ctx, CNH)["difference_base_units"]:
            raise SystemExit("ledger and chain disagree after redemptions")
        out["payable_after_minor"] = ctx.ledger.account(iss.book_account_id(CNH, Book.REDEMPTIONS_PAYABLE)).posted
        issuer.container.close()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
