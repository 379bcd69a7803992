"""Real bank files end to end on SQLite and PostgreSQL: batch entries booked detail by detail, FX legs, files
still arriving, unexplained reserve debits and reversals (incidents, once), quarantined files raising a task."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bauhinia.adapters.bank.simulator import SimEntry, SimFx, SimPart, camt054
from bauhinia.adapters.events import outbox
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency
from bauhinia.entrypoints.scenario import Holder, Issuer, make_issuer
from bauhinia.services import bank_booking
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture()
def issuer(tmp_path: Path, db_url: str) -> Issuer:
    issuer = make_issuer(tmp_path / "data", database_url=db_url)
    yield issuer
    issuer.container.close()


def posted(issuer: Issuer, book: Book) -> int:
    return issuer.ctx.ledger.account(iss.book_account_id(CNH, book)).posted


def entry_rows(issuer: Issuer) -> list[Any]:
    with issuer.container.engine.connect() as conn:
        return list(conn.execute(sa.text("select entry_key, direction, amount_minor, outcome, flow_seq, detail "
                                         "from iss_bank_entries order by entry_key")))


def tasks(issuer: Issuer, kind: str) -> list[dict[str, Any]]:
    out = []
    for e in outbox.list_events(issuer.container.engine, limit=1000):
        if e["topic"] != "operator.task":
            continue
        payload = json.loads(e["payload"])
        body = payload.get("data", payload) if isinstance(payload, dict) else payload
        if isinstance(body, dict) and body.get("kind") == kind:
            out.append(body)
    return out


def part(holder: Holder | None, amount_minor: int, ref: str, **kw: Any) -> SimPart:
    if holder is None:
        return SimPart(amount_minor, ref, "donation, no reference", "Unknown Payer Ltd", **kw)
    return SimPart(amount_minor, ref, f"SUBSCRIPTION {holder.deposit_reference}", holder.name, holder.bank_account,
                   **kw)


def test_batch_credit_books_each_detail_once(issuer: Issuer) -> None:
    """Before: the whole 3,800.00 went to whichever customer's reference appeared in any detail."""
    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    b = issuer.add_holder("b", "Beta Exports Ltd", "222-2")
    batch = SimEntry(3_800_00, True, "COLL-1", "COLLECTIVE CREDIT", parts=(
        part(a, 1_000_00, "COLL-1-1"), part(b, 2_500_00, "COLL-1-2"), part(None, 300_00, "COLL-1-3")))
    issuer.drop_notification([batch], NOW)
    rep = svc.ingest_bank_files(ctx)
    assert (rep.files, rep.subscriptions, rep.suspense, rep.batch_entries) == (1, 2, 1, 1)
    subs = sorted((s.customer_id, s.amount_minor) for s in ctx.store.subscriptions())
    assert subs == [("a", 1_000_00), ("b", 2_500_00)]
    [sus] = ctx.store.suspense()
    assert sus.amount_minor == 300_00 and sus.debtor_name == "Unknown Payer Ltd"
    assert posted(issuer, Book.SUSPENSE) == 300_00
    [row] = entry_rows(issuer)
    assert row.amount_minor == 3_800_00 and row.outcome == "subscription" and row.detail.startswith("batch of 3")
    keys = {s.entry_key for s in ctx.store.subscriptions()} | {sus.entry_key}
    assert keys == {f"{row.entry_key}.{i}" for i in range(3)}
    # the statement repeating the entry books nothing more
    issuer.drop_statement([batch], NOW)
    st = svc.ingest_bank_files(ctx)
    assert (st.files, st.subscriptions, st.suspense, st.duplicate_entries) == (1, 0, 0, 1)
    assert len(ctx.store.subscriptions()) == 2 and len(ctx.store.suspense()) == 1
    assert ctx.ledger.check_invariants().ok


def test_batch_details_not_adding_up_go_to_suspense_whole(issuer: Issuer) -> None:
    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    bad = SimEntry(1_500_01, True, "COLL-2", parts=(part(a, 1_000_00, "COLL-2-1"), part(None, 500_00, "COLL-2-2")))
    issuer.drop_notification([bad], NOW)
    rep = svc.ingest_bank_files(ctx)
    assert (rep.subscriptions, rep.suspense) == (0, 1)
    assert ctx.store.subscriptions() == []
    [sus] = ctx.store.suspense()
    assert sus.amount_minor == 1_500_01
    [row] = entry_rows(issuer)
    assert row.outcome == "suspense" and "add up to 150000" in row.detail and sus.entry_key == row.entry_key
    assert posted(issuer, Book.SUSPENSE) == 1_500_01


def test_fx_leg_booked_in_account_currency_with_instructed_amount_kept(issuer: Issuer) -> None:
    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    fx = SimEntry(7_812_34, True, "FX-1", parts=(part(a, 7_812_34, "FX-1", instructed=SimFx(1_000_00, "EUR",
                                                                                            "7.81234")),))
    issuer.drop_notification([fx], NOW)
    rep = svc.ingest_bank_files(ctx)
    assert (rep.files, rep.subscriptions, rep.quarantined) == (1, 1, [])
    [sub] = ctx.store.subscriptions()
    assert (sub.customer_id, sub.amount_minor, sub.fiat) == ("a", 7_812_34, "CNH")
    [row] = entry_rows(issuer)
    assert row.outcome == "subscription" and row.detail == "FX: instructed 1000.00 EUR at 7.81234"


def test_unmatched_debits_and_reversals_open_one_incident_each(issuer: Issuer) -> None:
    """Before: a reserve debit matching no payout was recorded 'ignored' and a reversal skipped, silently."""
    ctx = issuer.ctx
    entries = [SimEntry(120_00, False, "DB-1", "UNKNOWN TRANSFER OUT"),
               SimEntry(35_00, False, "CHG-1", "ACCOUNT MAINTENANCE", bank_code=("ACMT", "MDOP", "CHRG")),
               SimEntry(50_00, False, "RV-1", "RETURN OF CREDIT", reversal=True)]
    issuer.drop_notification(entries, NOW)
    rep = svc.ingest_bank_files(ctx)
    assert rep.unexplained_movements == 3 and len(rep.incidents) == 3
    incidents = {i.incident_id: i for i in ctx.reserves.list_incidents()}
    assert set(incidents) == set(rep.incidents)
    assert all(i.coin is Currency.BCNH and i.kind == "reconciliation_break" for i in incidents.values())
    # the unknown debit is high, the reversal medium; the charge is booked as the issuer's expense and only shown
    assert sorted(i.severity for i in incidents.values()) == ["high", "low", "medium"]
    [charge] = [i for i in incidents.values() if "ACMT/MDOP/CHRG" in i.details_json]
    assert charge.severity == "low" and "bank charge" in charge.summary
    assert rep.bank_charges == 1 and posted(issuer, Book.BANK_CHARGES) == 35_00
    [task] = tasks(issuer, "reserve_movements_unexplained")
    assert task["count"] == 3
    # the same file read again (a crash before acknowledging) and the statement repeating the entries
    issuer.drop_statement(entries, NOW)
    st = svc.ingest_bank_files(ctx)
    assert st.duplicate_entries == 3 and st.incidents == [] and st.unexplained_movements == 0
    assert len(ctx.reserves.list_incidents()) == 3 and len(tasks(issuer, "reserve_movements_unexplained")) == 1
    # the regulatory register picks them up
    from bauhinia.entrypoints.regulatory_wiring import regulatory_context
    from bauhinia.services import regulatory

    reg_ctx = regulatory_context(issuer.container)
    assert {i.incident_id for i in regulatory.sync_reserve_incidents(reg_ctx)} == set(incidents)


def test_debit_quoting_a_payout_not_awaiting_settlement_is_not_dropped(issuer: Issuer) -> None:
    ctx = issuer.ctx
    ref = svc.payout_reference(CNH, 987)
    issuer.drop_notification([SimEntry(10_00, False, "OUT-X", f"/ROC/{ref}", end_to_end_id=ref)], NOW)
    rep = svc.ingest_bank_files(ctx)
    assert rep.payouts_settled == 0 and rep.incidents == [bank_booking.incident_id_for(entry_rows(issuer)[0][0])]


def test_half_written_file_waits_then_books_once(tmp_path: Path, db_url: str) -> None:
    issuer = make_issuer(tmp_path / "data", database_url=db_url, bank_inbox_settle_s=60)
    try:
        ctx = issuer.ctx
        a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
        data = camt054("HALF-1", NOW, issuer.settings.reserve_account_cnh, "CNH", [issuer.deposit(a, 400_00, "H-1")])
        path = issuer.inbox() / "000001-camt054-HALF-1.xml"
        path.write_bytes(data[: len(data) // 2])
        (issuer.inbox() / "000002-camt054-HALF-2.xml.part").write_bytes(data)  # never read
        rep = svc.ingest_bank_files(ctx)
        assert (rep.files, rep.quarantined) == (0, []) and path.exists()
        assert not any((issuer.settings.bank_dir() / "quarantine").iterdir())
        path.write_bytes(data)
        rep = svc.ingest_bank_files(ctx)
        assert (rep.files, rep.subscriptions, rep.quarantined) == (1, 1, [])
        assert svc.ingest_bank_files(ctx).files == 0
        assert [s.amount_minor for s in ctx.store.subscriptions()] == [400_00]
        # an unparseable file is quarantined once it has settled, with an operator task
        bad = issuer.inbox() / "000003-bad.xml"
        bad.write_bytes(b"<Document><BkToCstmrDbtCdtNtfctn>")
        assert svc.ingest_bank_files(ctx).quarantined == []
        os.utime(bad, (bad.stat().st_mtime - 120, bad.stat().st_mtime - 120))
        assert [q[1] for q in svc.ingest_bank_files(ctx).quarantined] == ["bank_file_malformed"]
        [task] = tasks(issuer, "bank_file_quarantined")
        assert task["file"] == "000003-bad.xml" and task["code"] == "bank_file_malformed"
    finally:
        issuer.container.close()


def test_file_quarantined_while_arriving_is_booked_when_finished(issuer: Issuer) -> None:
    """Settle time 0 (the tests' default): the half file is quarantined; its writer finishes it there. Before, it
    stayed in quarantine, never booked, without an alert."""
    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    data = camt054("LATE-1", NOW, issuer.settings.reserve_account_cnh, "CNH", [issuer.deposit(a, 250_00, "L-1")])
    path = issuer.inbox() / "late.xml"
    with open(path, "wb") as writer:
        writer.write(data[:200])
        writer.flush()
        rep = svc.ingest_bank_files(ctx)
        assert [q[1] for q in rep.quarantined] == ["bank_file_malformed"]
        assert len(tasks(issuer, "bank_file_quarantined")) == 1
        writer.write(data[200:])
    rep = svc.ingest_bank_files(ctx)
    assert (rep.files, rep.subscriptions, rep.requeued) == (1, 1, ["late.xml"])
    assert [t["file"] for t in tasks(issuer, "bank_file_requeued")] == ["late.xml"]
    assert svc.ingest_bank_files(ctx).files == 0
    assert (issuer.settings.bank_dir() / "processed" / "late.xml").exists()


def test_each_payer_of_a_batch_is_screened(tmp_path: Path) -> None:
    """Screening looks at every detail's debtor: a listed payer inside a collective credit goes to suspense alone
    (before, only the first detail's debtor was screened, for the whole entry)."""
    from bauhinia.adapters.screening.screener import ListScreener

    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "test.ftm.json").write_text(json.dumps(
        {"id": "c-redstar", "schema": "Company", "properties": {"name": ["Red Star Maritime Trading Co., Ltd."]}}),
        encoding="utf-8")
    (tmp_path / "blacklist.txt").write_text("", encoding="utf-8")
    issuer = make_issuer(tmp_path / "data", screening=True, screener=ListScreener(lists, tmp_path / "blacklist.txt"))
    try:
        ctx = issuer.ctx
        a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
        b = issuer.add_holder("b", "Beta Exports Ltd", "222-2")
        listed = SimPart(500_00, "SC-2", f"SUBSCRIPTION {b.deposit_reference}", "Red Star Maritime Trading Co., Ltd.")
        issuer.drop_notification([SimEntry(1_500_00, True, "SC", parts=(part(a, 1_000_00, "SC-1"), listed))], NOW)
        rep = svc.ingest_bank_files(ctx)
        assert (rep.subscriptions, rep.suspense) == (1, 1)
        assert [(s.customer_id, s.amount_minor) for s in ctx.store.subscriptions()] == [("a", 1_000_00)]
        [block] = rep.screened_out
        [row] = entry_rows(issuer)
        assert block.entry_key == f"{row.entry_key}.1" and block.amount_minor == 500_00
        assert ctx.store.suspense()[0].amount_minor == 500_00
    finally:
        issuer.container.close()


def test_batch_debit_settles_each_payout(issuer: Issuer) -> None:
    """A payment file of two payouts booked by the bank as one debit with two details: both are paid."""
    from bauhinia.domain.money import minor_to_base_units

    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    b = issuer.add_holder("b", "Beta Exports Ltd", "222-2")
    issuer.fund_gas(a, b)
    issuer.drop_notification([issuer.deposit(a, 10_000_00, "IN-A"), issuer.deposit(b, 20_000_00, "IN-B")], NOW)
    svc.ingest_bank_files(ctx)
    assert svc.run_subscriptions(ctx, CNH).minted == 2
    chain = issuer.chain()
    seqs = []
    for h, amount, key in ((a, 4_000_00, "r-a"), (b, 6_000_00, "r-b")):
        req = iss.RedemptionRequest(h.customer_id, Currency.BCNH, amount, h.wallet, h.bank_account, key)
        seqs.append(svc.request_redemption(ctx, req).seq)
        chain.transfer_as(h.key, chain.redemption_address, minor_to_base_units(amount), idempotency_key=f"t:{key}")
    out = svc.run_redemptions(ctx, CNH)
    assert out.burned == 2
    reds = [ctx.store.redemption(s) for s in seqs]
    assert all(r.status == "payout_instructed" for r in reds)
    net = [r.amount_minor - r.fee_minor for r in reds]
    refs = [svc.payout_reference(CNH, s) for s in seqs]
    debit = SimEntry(sum(net), False, "OUT-BATCH", "PAYMENT FILE", parts=tuple(
        SimPart(n, f"OUT-{i}", f"/ROC/{ref}", end_to_end_id=ref) for i, (n, ref) in enumerate(zip(net, refs,
                                                                                                  strict=True))))
    issuer.drop_statement([debit], NOW)
    st = svc.ingest_bank_files(ctx)
    assert (st.payouts_settled, st.unexplained_movements) == (2, 0)
    assert all(ctx.store.redemption(s).status == "paid" for s in seqs)
    assert ctx.ledger.check_invariants().ok


def test_zero_amounts_book_nothing_and_block_nothing(issuer: Issuer) -> None:
    """A zero entry, or a zero detail in a batch, is recorded and books nothing (the ledger has no zero transfer:
    before, such a file failed its booking on every run and never left the inbox)."""
    ctx = issuer.ctx
    a = issuer.add_holder("a", "Alpha Trading Ltd", "111-1")
    issuer.drop_notification([SimEntry(0, True, "Z-1", f"SUBSCRIPTION {a.deposit_reference}"),
                              SimEntry(700_00, True, "Z-2", parts=(part(a, 700_00, "Z-2-1"), part(None, 0, "Z-2-2")))],
                             NOW)
    rep = svc.ingest_bank_files(ctx)
    assert (rep.files, rep.subscriptions, rep.suspense) == (1, 1, 0)
    assert [s.amount_minor for s in ctx.store.subscriptions()] == [700_00]
    details = sorted(r.detail for r in entry_rows(issuer))
    assert details == ["batch of 2: subscription 1, zero amount", "zero amount: nothing to book"]
