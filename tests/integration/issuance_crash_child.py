"""Child process of the issuance crash test: an issuer process on a JSON-RPC node and a database that outlive
it. Each start recovers, then reads the bank files waiting in the inbox, mints, and redeems a planned set, and
prints "done" when everything is paid out.

    python issuance_crash_child.py DATA_DIR DB_URL RPC_URL [HOLDERS REDEMPTIONS REDEEM_EVERY]

The test sets BAUHINIA_FAULT_KILL_AT to have it die by SIGKILL at a named commit boundary (bauhinia/faults.py)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from bauhinia.domain import issuance as iss
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import make_issuer
from bauhinia.services import issuance as svc

HOLDERS = 10
REDEMPTIONS = 100
REDEEM_EVERY = 10  # run the redemption runner after this many requests
CNH = Currency.CNH


def holder_key(i: int) -> LocalAccount:
    key: LocalAccount = EthAccount.from_key(hashlib.sha256(f"crash-holder-{i}".encode()).digest())
    return key


def redemption_plan(i: int, holders: int = HOLDERS) -> tuple[int, int]:
    """(holder index, amount in minor units) of planned redemption i."""
    return i % holders, 10_00 + i


def main() -> None:
    data_dir, db_url, rpc_url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    n_holders, n_redemptions, every = (int(a) for a in (sys.argv[4:7] or (HOLDERS, REDEMPTIONS, REDEEM_EVERY)))
    issuer = make_issuer(data_dir, database_url=db_url, chain_rpc_url=rpc_url, capital_minor=10_000_000_00,
                         buffer_bps=50, redemption_fee_bps=10, chain_dev_funding=True, keystore_scrypt_n=2)
    ctx = issuer.ctx
    holders = [issuer.add_holder(f"h{i}", f"Holder {i} Ltd", f"004-555-{i:06d}-838", key=holder_key(i))
               for i in range(n_holders)]
    issuer.fund_gas(*holders)
    svc.recover(ctx)
    print("recovered", flush=True)
    while svc.ingest_bank_files(ctx, max_files=2).files:
        svc.run_subscriptions(ctx, CNH)
    svc.run_subscriptions(ctx, CNH)
    chain = issuer.chain()
    for i in range(n_redemptions):
        h, amount = redemption_plan(i, n_holders)
        holder = holders[h]
        svc.request_redemption(ctx, iss.RedemptionRequest(holder.customer_id, Currency.BCNH, amount, holder.wallet,
                                                          holder.bank_account, f"crash-red-{i}"))
        chain.transfer_as(holder.key, chain.redemption_address, minor_to_base_units(amount),
                          idempotency_key=f"crash-send-{i}")
        if i % every == every - 1:
            svc.run_redemptions(ctx, CNH)
    svc.run_redemptions(ctx, CNH)
    print("done", flush=True)
    issuer.container.close()


if __name__ == "__main__":
    main()
