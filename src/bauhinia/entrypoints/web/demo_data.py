"""Fill a database with the demo scenario so the console and the transparency page show something real.

Everything goes through the services (onboarding, bank files, mints, redemptions, the reserve pool, approvals,
compliance cases); only the coverage history of the past weeks is written as recorded daily points, since a
fresh database has no past. The embedded EVM lives in this process, so `bauhinia console serve --demo-data`
seeds and serves in one process.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bauhinia.adapters.store import api_credentials as creds
from bauhinia.config import DEMO_CNH_APPROVAL_REFERENCE, Settings
from bauhinia.domain import issuance as iss
from bauhinia.domain import monitoring as mon
from bauhinia.domain import proofs
from bauhinia.domain import reserves as rsv
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.entrypoints.web import readmodel
from bauhinia.services import compliance as compliance_svc
from bauhinia.services import issuance as svc
from bauhinia.services import reserves as reserves_svc

HISTORY_DAYS = 45
STAFF = {"ops-admin": "admin", "ops-admin2": "admin", "ops-operator": "operator", "ops-treasury": "treasury",
         "ops-compliance": "compliance", "ops-auditor": "auditor"}
NS = 1_000_000_000


@dataclass
class DemoData:
    issuer: Issuer
    secrets: dict[str, str]  # client id -> secret (demo only)
    proofs: dict[str, str] = field(default_factory=dict)  # "<coin>:<customer>" -> proof JSON
    holder_ids: dict[str, str] = field(default_factory=dict)  # "<coin>:<customer>" -> holder id in the tree
    unpaid_redemption: int = 0
    pending_approval: str = ""

    @property
    def container(self) -> Any:
        return self.issuer.container


def seed(data_dir: Path, *, database_url: str = "", wipe: bool = True, **settings: Any) -> DemoData:
    if wipe and data_dir.exists() and not database_url:
        shutil.rmtree(data_dir)
    approval = Settings(demo=True).cnh_mainland_approval_reference or DEMO_CNH_APPROVAL_REFERENCE
    issuer = make_issuer(data_dir, database_url=database_url, capital_minor=40_000_00, buffer_bps=50,
                         redemption_fee_bps=10, approval=approval, **settings)
    ctx, c = issuer.ctx, issuer.container
    now = datetime.now(UTC)

    # Customers with verified bank accounts and wallets.
    szx = issuer.add_holder("szx-hk", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    kln = issuer.add_holder("kln-imp", "Kowloon Importers Ltd", "024-888-300400-101")
    hfx = issuer.add_holder("harbour-fx", "Harbour Treasury Services Ltd", "004-222-777000-412", fiat=Currency.HKD)
    tea = issuer.add_holder("peak-tea", "Peak Tea Trading Co Ltd", "012-874-551230-977", fiat=Currency.HKD)
    issuer.fund_gas(szx, kln, hfx, tea)

    # Deposits arrive in camt.054 files; one credit has no reference and goes to suspense.
    from bauhinia.adapters.bank.simulator import SimEntry

    cnh_in = [issuer.deposit(kln, 650_000_00, "HSBC-IN-C001"), issuer.deposit(szx, 420_000_00, "HSBC-IN-C002"),
              SimEntry(12_345_67, True, "HSBC-IN-C003", "INVOICE 8812 PAYMENT", "Unknown Trading Co", "999-000-1")]
    hkd_in = [issuer.deposit(hfx, 880_000_00, "HSBC-IN-H001"), issuer.deposit(tea, 310_500_00, "HSBC-IN-H002")]
    issuer.drop_notification(cnh_in, now, message_id="HSBC-NTF-C001")
    issuer.drop_notification(hkd_in, now, fiat=Currency.HKD, message_id="HSBC-NTF-H001")
    svc.ingest_bank_files(ctx)
    for fiat in (Currency.CNH, Currency.HKD):
        svc.run_subscriptions(ctx, fiat)

    # A trade payment on chain, then two redemptions: one paid, one waiting for the bank (time left shows).
    cnh_chain = ctx.chains[Currency.CNH]
    cnh_chain.transfer_as(kln.key, szx.wallet, minor_to_base_units(200_000_00),
                          idempotency_key="demo:pay-invoice-8812")
    paid = _redeem(issuer, szx, Currency.CNH, 250_000_00, "demo:redeem-cnh-1")
    ref = svc.payout_reference(Currency.CNH, paid.seq)
    issuer.drop_statement([*cnh_in, SimEntry(paid.amount_minor - paid.fee_minor, False, "HSBC-OUT-C001",
                                             f"/ROC/{ref}", end_to_end_id=ref)], now, message_id="HSBC-STM-C001")
    svc.ingest_bank_files(ctx)
    unpaid = _redeem(issuer, tea, Currency.HKD, 120_000_00, "demo:redeem-hkd-1")

    today = readmodel.today_hk(c)
    _reserve_pool(c, today)
    _coverage_history(c, today)
    _reconciliation(c, today)
    data = DemoData(issuer, _staff(c))
    data.unpaid_redemption = unpaid.seq
    data.pending_approval = _breaker_and_approval(c, today)
    _liability_roots(issuer, data, today)
    _compliance(c)
    svc.redemption_tracker(ctx)
    return data


def _redeem(issuer: Issuer, holder: Any, fiat: Currency, amount_minor: int, key: str) -> Any:
    ctx = issuer.ctx
    chain = ctx.chains[fiat]
    account = issuer.ctx.store.bank_accounts(holder.customer_id)[0].account
    red = svc.request_redemption(ctx, iss.RedemptionRequest(holder.customer_id, fiat.coin, amount_minor,
                                                            holder.wallet, account, key))
    chain.transfer_as(holder.key, chain.redemption_address, minor_to_base_units(amount_minor),
                      idempotency_key=f"{key}:send")
    svc.run_redemptions(ctx, fiat)
    return ctx.store.redemption(red.seq)


def _reserve_pool(c: Any, today: date) -> None:
    """Part of each reserve is held in eligible assets besides the cash the ledger shows."""
    now_ns = c.clock.now_ns()
    assets = [
        rsv.ReserveAsset("HKD-EFB-91D-01", Currency.BHKD, rsv.AssetKind.GOVERNMENT_SECURITY, Currency.HKD,
                         bank="HKMA CMU", instrument_id="HK0000EFB091", issuer_type=rsv.IssuerType.CENTRAL_BANK,
                         quantity_units=400, maturity_date=today + timedelta(days=63)),
        rsv.ReserveAsset("HKD-TD-BOCHK-01", Currency.BHKD, rsv.AssetKind.TIME_DEPOSIT, Currency.HKD,
                         bank="Bank of China (Hong Kong)", principal_minor=30_000_00,
                         start_date=today - timedelta(days=20), maturity_date=today + timedelta(days=40)),
        rsv.ReserveAsset("CNH-TD-ICBCA-01", Currency.BCNH, rsv.AssetKind.TIME_DEPOSIT, Currency.CNH,
                         bank="ICBC (Asia)", principal_minor=25_000_00,
                         start_date=today - timedelta(days=10), maturity_date=today + timedelta(days=50)),
    ]
    for asset in assets:
        reserves_svc.add_asset(c.reserves, asset, today, now_ns)
    reserves_svc.load_market_data(c.reserves, today, prices_micro={"HK0000EFB091": 99_412_000},
                                  accrued_interest_minor={"HKD-TD-BOCHK-01": 62_40, "CNH-TD-ICBCA-01": 20_70},
                                  source="demo")


def _coverage_history(c: Any, today: date) -> None:
    """Recorded daily points for the chart: supply growing towards today's, the reserve a little above it."""
    for view in readmodel.coin_views(c):
        target_liab, target_res = view.liabilities_minor, view.reserve_total_minor
        for back in range(HISTORY_DAYS, 0, -1):
            day = today - timedelta(days=back)
            step = HISTORY_DAYS - back  # 0 .. HISTORY_DAYS-1
            liab = target_liab * (40 + 60 * step // HISTORY_DAYS) // 100
            wobble = ((step * 37) % 11 - 5) * liab // 400
            liab = max(0, liab + wobble)
            res = liab * target_res // max(target_liab, 1) + (step % 7) * liab // 500
            cov = rsv.coverage_bps(res, minor_to_base_units(liab))
            c.reserves.put_coverage(rsv.CoveragePoint(view.coin, day, res, res, minor_to_base_units(liab), cov,
                                                      c.clock.now_ns()))


def _reconciliation(c: Any, today: date) -> None:
    now_ns = c.clock.now_ns()
    for coin, accounts, holders in ((Currency.BHKD, 6, 2), (Currency.BCNH, 6, 2)):
        for back in (2, 1):
            day = today - timedelta(days=back)
            c.reserves.add_recon_run(rsv.ReconciliationRun(f"recon-{coin.value}-{day.isoformat()}", coin, day,
                                                           now_ns - back * 86_400 * NS, True, 0, accounts, holders,
                                                           "[]"))


def _breaker_and_approval(c: Any, today: date) -> str:
    """CNH minting was halted after a bank feed delay; an operator asked to reopen it (needs a second person)."""
    now_ns = c.clock.now_ns()
    reserves_svc.trip_breaker(c.reserves, Currency.BCNH, actor="client:ops-operator", now_ns=now_ns,
                              reason="ICBC (Asia) statement for today not received by 10:00; minting held")
    reserves_svc.open_incident(c.reserves, incident_id=f"feed-{today.isoformat()}-cnh", coin=Currency.BCNH,
                               kind="bank_feed_late", summary="CNH reserve bank statement late; minting halted",
                               details={"bank": "ICBC (Asia)"}, now_ns=now_ns, severity="medium")
    sub = c.approvals.submit("breaker_reset", {"coin": "BCNH", "maker": "client:ops-treasury",
                                               "reason": "statement received at 10:42 and reconciled: no breaks"},
                             maker="client:ops-treasury")
    return str(sub.request.id) if sub.request else ""


def _liability_roots(issuer: Issuer, data: DemoData, today: date) -> None:
    """Publish each coin's proof-of-liabilities root over on-chain holders; keep every holder's proof."""
    now_ns = data.container.clock.now_ns()
    for fiat in (Currency.CNH, Currency.HKD):
        chain = issuer.ctx.chains[fiat]
        balances = []
        for h in issuer.holders.values():
            balance = int(chain.balance_of(h.wallet))
            if balance:
                balances.append((f"chain:{h.wallet.lower()}", balance, h.customer_id))
        if not balances:
            continue
        snapshot_id = f"pol-{fiat.coin.value}-{today.isoformat()}"
        snap = reserves_svc.build_liability_snapshot([(hid, b) for hid, b, _ in balances], coin=fiat.coin,
                                                     as_of=today, snapshot_id=snapshot_id,
                                                     snapshot_secret=secrets.token_bytes(32), now_ns=now_ns)
        reserves_svc.publish_liability_root(data.container.reserves, snap)
        for hid, _, customer_id in balances:
            data.proofs[f"{fiat.coin.value}:{customer_id}"] = proofs.proof_to_json(snap.proof_for(hid))
            data.holder_ids[f"{fiat.coin.value}:{customer_id}"] = hid


def _compliance(c: Any) -> None:
    repo = readmodel.compliance_repo(c)
    now_ns = c.clock.now_ns()
    hour = 3_600 * NS
    alerts = [
        mon.Alert(mon.alert_id_for(mon.RuleName.STRUCTURING, "kln-imp", ["ev-1", "ev-2", "ev-3"]),
                  mon.RuleName.STRUCTURING, "kln-imp", mon.Severity.HIGH,
                  "3 deposits just under HK$120,000 within 24 hours", ("ev-1", "ev-2", "ev-3"),
                  (("threshold_hkd", "120,000.00"), ("count", "3")), now_ns - 30 * hour, now_ns - 8 * hour,
                  349_800_00),
        mon.Alert(mon.alert_id_for(mon.RuleName.RAPID_IN_OUT, "peak-tea", ["ev-4", "ev-5"]),
                  mon.RuleName.RAPID_IN_OUT, "peak-tea", mon.Severity.MEDIUM,
                  "Minted and redeemed 39% within 2 days", ("ev-4", "ev-5"), (("window_h", "48"),),
                  now_ns - 6 * hour, now_ns - 2 * hour, 120_000_00),
        mon.Alert(mon.alert_id_for(mon.RuleName.FAN_IN, "0x5e1f00000000000000000000000000000000a11c", ["ev-6"]),
                  mon.RuleName.FAN_IN, "0x5e1f00000000000000000000000000000000a11c", mon.Severity.LOW,
                  "12 senders to one wallet within 1 hour", ("ev-6",), (("senders", "12"),),
                  now_ns - 3 * hour, now_ns - 3 * hour, 18_250_00),
    ]
    repo.put_alerts(alerts, now_ns)
    case = compliance_svc.open_case_from_alerts(repo, [alerts[0].alert_id], actor="client:ops-compliance",
                                                now_ns=now_ns)
    compliance_svc.assign_case(repo, case.case_id, "ops-compliance", actor="client:ops-compliance", now_ns=now_ns)


def _staff(c: Any) -> dict[str, str]:
    out = {}
    for client_id, role in STAFF.items():
        out[client_id] = creds.create_client(c.engine, client_id, {role})
    out["cust-szx"] = creds.create_client(c.engine, "cust-szx", {"customer"}, "szx-hk")
    return out


def write_credentials(data: DemoData, path: Path) -> None:
    """Demo only: the seeded clients' secrets, readable by the owner alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data.secrets, indent=2) + "\n")
    path.chmod(0o600)


def write_proofs(data: DemoData, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for key, text in sorted(data.proofs.items()):
        path = folder / f"{key.replace(':', '-')}.json"
        path.write_text(text)
        out.append(path)
    return out
