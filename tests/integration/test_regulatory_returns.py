"""Periodic returns, incidents and the records export on SQLite and PostgreSQL, from a real issuance lifecycle."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bauhinia.adapters.bank.simulator import SimEntry
from bauhinia.adapters.reports import records, returns
from bauhinia.domain import issuance as iss
from bauhinia.domain import regulatory as reg
from bauhinia.domain.errors import ConflictError, ValidationError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.regulatory_wiring import regulatory_context
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc
from bauhinia.services import regulatory as rsvc
from bauhinia.services import reserves as reserves_svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
CAPITAL = 500_000_00


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Any:
    issuer = make_issuer(tmp_path / "data", database_url=db_url, capital_minor=CAPITAL)
    yield issuer
    issuer.container.close()


def lifecycle(issuer: Issuer) -> int:
    """Mint CNH 1,000,000.00 to one holder, redeem 150,000.00 and settle the payout. Returns the redemption seq."""
    ctx = issuer.ctx
    h = issuer.add_holder("imp", "Kowloon Importers Ltd", "024-888-300400-101")
    issuer.fund_gas(h)
    deposit = issuer.deposit(h, 1_000_000_00, "IN-1")
    issuer.drop_notification([deposit], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 1
    red = svc.request_redemption(ctx, iss.RedemptionRequest("imp", Currency.BCNH, 150_000_00, h.wallet,
                                                            h.bank_account, "r-1"))
    chain = issuer.chain()
    chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(150_000_00), idempotency_key="t:r")
    assert svc.run_redemptions(ctx, CNH).burned == 1
    ref = svc.payout_reference(CNH, red.seq)
    issuer.drop_statement([deposit, SimEntry(149_850_00, False, "OUT-1", f"/ROC/{ref}", end_to_end_id=ref)], NOW)
    assert svc.ingest_bank_files(ctx).payouts_settled == 1
    return int(red.seq)


@pytest.mark.requirement("RPT-DAILY-WEEKLY", "RPT-MONTHLY-RETURN")
def test_daily_statement_and_monthly_return_from_the_books(issuer: Issuer) -> None:
    lifecycle(issuer)
    ctx = regulatory_context(issuer.container, "regulatory-test")
    lines = {x.coin: x for x in rsvc.daily_statement(ctx)}
    cnh, hkd = lines["BCNH"], lines["BHKD"]
    assert cnh.outstanding_minor == 850_000_00 and cnh.redemptions_in_flight_minor == 0
    # reserve: the issuer's capital plus customers' money, less the payout (the fee stays in the reserve)
    assert cnh.composition_minor == {"cash_at_bank": CAPITAL + 1_000_000_00 - 149_850_00}
    assert cnh.reserve_value_minor == sum(cnh.composition_minor.values())
    assert cnh.coverage_bps == cnh.reserve_value_minor * 10_000 // 850_000_00
    assert hkd.outstanding_minor == 0 and hkd.coverage_bps is None and hkd.reserve_value_minor == CAPITAL
    doc = rsvc.statement_dict(list(lines.values()), generated_at_ns=ctx.clock.now_ns(), licence_number="L-1")
    assert "BCNH,CNH,85000000,0," in returns.daily_statement_csv(doc)

    today = rsvc.hk_today(ctx.clock.now_ns())
    ret = rsvc.monthly_return(ctx, today.year, today.month)
    returns.validate_monthly_return(ret)
    c = next(x for x in ret["coins"] if x["coin"] == "BCNH")
    assert c["supply"] == {"opening_minor": 0, "minted_minor": 1_000_000_00, "burned_minor": 150_000_00,
                           "closing_minor": 850_000_00}
    assert c["mints"]["count"] == 1
    r = c["redemptions"]
    assert (r["count"], r["value_minor"], r["fees_minor"], r["paid_count"], r["deadline_breaches"]) == \
        (1, 150_000_00, 150_00, 1, 0)
    assert r["time_to_pay_s_max"] is not None and r["time_to_pay_s_max"] < 3_600
    assert c["reserve"]["value_minor"] == cnh.reserve_value_minor and ret["complete"] is False
    assert ret["compliance"] == {"alerts_raised": 0, "cases_opened": 0, "strs_filed": 0}
    rows = list(csv.DictReader(io.StringIO(returns.monthly_return_csv(ret))))
    assert {"period": ret["period"], "coin": "BCNH", "section": "supply", "figure": "closing_minor",
            "value": "85000000"} in rows
    # the same month earlier: nothing happened yet, opening = closing = 0
    prev = rsvc.monthly_return(ctx, *(reg.parse_period("2020-01")))
    returns.validate_monthly_return(prev)
    assert next(x for x in prev["coins"] if x["coin"] == "BCNH")["supply"]["closing_minor"] == 0
    # a breach is counted: pretend the payout came after the deadline
    bad = json.loads(json.dumps(ret))
    bad["coins"][0]["redemptions"]["deadline_breaches"] = -1
    with pytest.raises(ValidationError, match="schema"):
        returns.validate_monthly_return(bad)
    sha, new = rsvc.file_return(ctx, "monthly", ret["period"], ret)
    assert new and rsvc.file_return(ctx, "monthly", ret["period"], ret) == (sha, False)
    with pytest.raises(ConflictError):
        rsvc.file_return(ctx, "monthly", ret["period"], {**ret, "licence_number": "changed"})


def test_the_monthly_return_lists_every_adjustment_with_its_maker_and_approver(issuer: Issuer) -> None:
    from bauhinia.domain.ledger import Account, AccountKind, Transfer

    c = issuer.container
    c.ledger.create_accounts([Account(9_001, "HKD", AccountKind.ASSET, reference="ops:float"),
                              Account(9_002, "HKD", AccountKind.LIABILITY, reference="ops:clearing"),
                              Account(9_003, "HKD", AccountKind.EQUITY, reference="ops:capital")])
    small = c.adjustments.propose([Transfer(9_100, 9_001, 9_002, 12_34, "HKD")], "bank charge refund, OPS-3",
                                  maker="client:op1", maker_roles=frozenset({"operator"}))
    big = c.adjustments.propose([Transfer(9_101, 9_001, 9_003, 500_00, "HKD")], "capital top-up booked late",
                                maker="client:t1", maker_roles=frozenset({"treasury"}))
    assert small.status == "booked" and big.status == "pending_approval" and big.approval is not None
    c.approvals.approve(big.approval.id, actor="client:t2", roles={"treasury"})
    ctx = regulatory_context(c, "ops")
    today = rsvc.hk_today(ctx.clock.now_ns())
    ret = rsvc.monthly_return(ctx, today.year, today.month)
    returns.validate_monthly_return(ret)
    adj = ret["adjustments"]
    assert (adj["count"], adj["with_approval"], adj["value_minor_by_currency"]) == (2, 1, {"HKD": 512_34})
    assert {(i["maker"], tuple(i["approvers"]), i["reason"]) for i in adj["items"]} == {
        ("client:op1", (), "bank charge refund, OPS-3"), ("client:t1", ("client:t2",), "capital top-up booked late")}
    earlier = rsvc.monthly_return(ctx, 2020, 1)
    assert earlier["adjustments"]["count"] == 0


@pytest.mark.requirement("INC-NOTIFY")
def test_incident_register_composes_with_reserves_incidents(issuer: Issuer) -> None:
    ctx = regulatory_context(issuer.container, "ops")
    now = ctx.clock.now_ns()
    # a reconciliation break opened by the reserves area is taken over with the same id
    reserves_svc.open_incident(ctx.reserves, incident_id="recon-r1", coin=Currency.BCNH,
                               kind="reconciliation_break", summary="bank 1 fen short", details={}, now_ns=now)
    [synced] = rsvc.sync_reserve_incidents(ctx)
    assert synced.incident_id == "recon-r1" and synced.notify_by_ns == now + 24 * 3_600 * 10**9
    assert rsvc.sync_reserve_incidents(ctx) == []
    # a shortfall: opened here, its base record in the reserves incidents table, notified immediately
    inc = rsvc.open_incident(ctx, reg.IncidentKind.RESERVE_SHORTFALL, "BHKD", "custodian failed to deliver")
    assert inc.notify_by_ns == inc.opened_at_ns
    assert inc.incident_id in {i.incident_id for i in ctx.reserves.list_incidents()}
    assert rsvc.open_incident(ctx, reg.IncidentKind.RESERVE_SHORTFALL, "BHKD", "again",
                              incident_id=inc.incident_id) == inc  # idempotent by id
    rsvc.update_incident(ctx, inc.incident_id, "treasury moving cash from the buffer")
    rsvc.notify_regulator(ctx, inc.incident_id, "HKMA-LSI-2026-0042")
    done = rsvc.close_incident(ctx, inc.incident_id, "reserve restored to 101.2%")
    stored = ctx.store.get_incident(inc.incident_id)
    assert stored == done and [e.action for e in stored.timeline] == ["opened", "update", "notified", "closed"]
    assert {i.incident_id for i in ctx.store.list_incidents("open")} == {"recon-r1"}
    # detection: no shortfall in a fully backed book, a redemption past its deadline opens an incident
    breach = type("Age", (), {"level": "breached", "seq": 7, "fiat": "CNH", "amount_minor": 100_00,
                              "deadline": datetime(2026, 11, 27, 16, tzinfo=UTC)})()
    opened = rsvc.detect_incidents(ctx, [breach])
    assert [i.kind for i in opened] == [reg.IncidentKind.REDEMPTION_DEADLINE_BREACH]
    assert opened[0].notify_by_ns == opened[0].opened_at_ns
    today = rsvc.hk_today(now)
    ret = rsvc.monthly_return(ctx, today.year, today.month)
    returns.validate_monthly_return(ret)
    assert ret["incidents"]["count"] == 3 and ret["incidents"]["by_kind"]["reserve_shortfall"] == 1


@pytest.mark.requirement("REC-RETENTION-5Y")
def test_records_export_archive_verifies_and_detects_tampering(issuer: Issuer, tmp_path: Path) -> None:
    lifecycle(issuer)
    ctx = regulatory_context(issuer.container, "ops")
    rsvc.open_incident(ctx, reg.IncidentKind.OUTAGE, "ALL", "bank channel down 40 min")
    archive = tmp_path / "export.tar.gz"
    manifest = records.export_records(issuer.container.engine, archive, ctx.clock.now_ns())
    names = {f["name"] for f in manifest["files"]}
    assert {"audit/audit.jsonl", "customers_retention.json", "incidents.json", "compliance_register.json"} <= names
    assert manifest["retention"]["years_min"] == 5 and manifest["retention"]["audit_entries"] > 0
    assert records.verify_archive(archive)["ok"]
    # tamper: change one byte of the audit log, keep the manifest
    _, files = records.read_archive(archive)
    files["audit/audit.jsonl"] = files["audit/audit.jsonl"].replace(b"\"actor\":\"", b"\"actor\":\"x", 1)
    forged = tmp_path / "forged.tar.gz"
    records.write_archive(forged, files, manifest)
    report = records.verify_archive(forged)
    assert not report["ok"] and report["problems"] == ["altered file audit/audit.jsonl"]
    # a member escaping the folder is refused before anything is read
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValidationError, match="plain relative file"):
        records.verify_archive(evil)


def test_the_monthly_minimum_coverage_is_taken_over_every_stored_daily_figure(issuer: Issuer) -> None:
    """Before: coverage_bps_min_in_period came from the mint gate's coverage points alone (taken before a day's
    mints) and stood at 45,580 while the same return reported 13,780. Now it is the minimum over the filed daily
    statements, the coverage points and the return's own closing figure, computed here by hand."""
    from bauhinia.domain import reserves as rsv

    lifecycle(issuer)
    ctx = regulatory_context(issuer.container, "regulatory-test")
    today = rsvc.hk_today(ctx.clock.now_ns())
    first = today.replace(day=1)
    # closing figure by hand: (capital 500,000 + deposit 1,000,000 - payout 149,850) / 850,000 outstanding
    closing_bps = (CAPITAL + 1_000_000_00 - 149_850_00) * 10_000 // 850_000_00
    assert closing_bps == 15_884
    issuer.container.reserves.put_coverage(rsv.CoveragePoint(Currency.BCNH, first, 0, 0, 1, 45_580, 1))

    def minimum() -> int:
        ret = rsvc.monthly_return(ctx, today.year, today.month)
        returns.validate_monthly_return(ret)
        c = next(x for x in ret["coins"] if x["coin"] == "BCNH")
        assert c["reserve"]["coverage_bps"] == closing_bps
        return int(c["reserve"]["coverage_bps_min_in_period"])

    assert minimum() == closing_bps  # never above the figure the same return reports
    # a daily statement filed for the first of the month, at 13,780 bps, is the period's lowest stored figure
    lines = rsvc.daily_statement(ctx, first)
    doc = rsvc.statement_dict(lines, generated_at_ns=ctx.clock.now_ns(), licence_number="L-1")
    for c in doc["coins"]:
        if c["coin"] == "BCNH":
            c["coverage_bps"] = 13_780
    rsvc.file_return(ctx, "daily", doc["as_of"], doc)
    assert minimum() == 13_780
    # a daily statement of another month does not count
    other = {**doc, "as_of": "2020-01-02", "coins": [{**c, "coverage_bps": 9_000} for c in doc["coins"]]}
    rsvc.file_return(ctx, "daily", "2020-01-02", other)
    assert minimum() == 13_780


def test_the_stress_what_if_runs_against_the_same_reserve_by_hand(issuer: Issuer) -> None:
    """Before: `reserves stress --supply` dropped the ledger's reserve cash and reported a shortfall. A what-if
    changes the supply only: CNH 1,000,000.00 supply, a 30 % run over 3 days, against the CNH 500,000.00 capital
    at bank: CNH 100,000.00 a day, all paid from day 1's cash, surplus 400,000 / 300,000 / 200,000."""
    c = issuer.container
    day = rsvc.hk_today(c.clock.now_ns())
    result = reserves_svc.coin_stress(c.reserves, c.ledger, CNH, day, run_bps=3_000, days=3,
                                      supply_base_units=minor_to_base_units(1_000_000_00))
    assert result.run_total_minor == 300_000_00 and result.shortfall_minor == 0 and result.first_shortfall_day is None
    assert [(d.redeemed_minor, d.liquid_cumulative_minor, d.surplus_minor) for d in result.table] == [
        (100_000_00, CAPITAL, 400_000_00), (100_000_00, CAPITAL, 300_000_00), (100_000_00, CAPITAL, 200_000_00)]
    # a run larger than the cash falls short on the day it passes it: 2,000,000.00 x 50 % over 2 days is
    # 500,000.00 a day: day 1 uses all 500,000.00 of cash (surplus 0), day 2 is 500,000.00 short
    big = reserves_svc.coin_stress(c.reserves, c.ledger, CNH, day, run_bps=5_000, days=2,
                                   supply_base_units=minor_to_base_units(2_000_000_00))
    assert [d.surplus_minor for d in big.table] == [0, -500_000_00]
    assert (big.first_shortfall_day, big.shortfall_minor) == (2, 500_000_00)
