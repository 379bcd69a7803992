"""A redemption run writes its rail's payout message (BAUHINIA_PAYOUT_MESSAGES), in ISO 4217 codes only, and the
bank's files in CNY settle and credit the CNH reserve account like files in CNH (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as DET
import pytest

from bauhinia.adapters.bank.simulator import SimEntry, camt053, camt054
from bauhinia.domain import issuance as iss
from bauhinia.domain.banking import PaymentScheme
from bauhinia.domain.issuance import Book
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.entrypoints.scenario import Issuer, make_issuer
from bauhinia.services import issuance as svc

CNH = Currency.CNH
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Hong Kong


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _currency_codes(data: bytes) -> set[str]:
    root = DET.fromstring(data)
    return ({v for el in root.iter() for a, v in el.attrib.items() if _local(a).endswith("Ccy")}
            | {(el.text or "").strip() for el in root.iter() if _local(el.tag).endswith("Ccy")})


@pytest.fixture(params=[{}, {"CNH": "pacs.008"}], ids=["default", "pacs008"])
def issuer(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Issuer:
    issuer = make_issuer(tmp_path / "data", database_url=db_url, payout_messages=request.param)
    yield issuer
    issuer.container.close()


def _drop(issuer: Issuer, name: str, data: bytes) -> None:
    (issuer.inbox() / name).write_bytes(data)


def test_payout_run_writes_the_rails_message_in_cny_and_cny_files_settle_it(issuer: Issuer) -> None:
    ctx = issuer.ctx
    account = issuer.settings.reserve_account_cnh
    exp = issuer.add_holder("exp", "Huaxin Electronics (HK) Ltd", "004-555-100200-838")
    issuer.fund_gas(exp)
    deposit = issuer.deposit(exp, 200_000_00, "IN-1")
    _drop(issuer, "ntf-1.xml", camt054("NTF-CNY-1", NOW, account, "CNY", [deposit]))  # the bank writes CNY
    rep = svc.ingest_bank_files(ctx)
    assert (rep.files, rep.subscriptions, rep.quarantined) == (1, 1, [])
    [sub] = ctx.store.subscriptions()
    assert (sub.fiat, sub.amount_minor) == ("CNH", 200_000_00)
    assert svc.run_subscriptions(ctx, CNH).minted == 1

    chain = issuer.chain()
    red = svc.request_redemption(ctx, iss.RedemptionRequest("exp", Currency.BCNH, 150_000_00, exp.wallet,
                                                            exp.bank_account, "r-1"))
    chain.transfer_as(exp.key, chain.redemption_address, minor_to_base_units(150_000_00), idempotency_key="t:r")
    out = svc.run_redemptions(ctx, CNH)
    assert out.burned == 1 and len(out.payout_files) == 1
    [name] = out.payout_files
    pacs = issuer.settings.payout_messages.get("CNH") == "pacs.008"
    scheme = PaymentScheme.PACS_008_001_08 if pacs else PaymentScheme.PAIN_001_001_09
    assert name.startswith(scheme.value + "-")
    data = (issuer.settings.bank_dir() / "outbox" / name).read_bytes()
    root = DET.fromstring(data)
    assert root.tag == f"{{urn:iso:std:iso:20022:tech:xsd:{scheme.value}}}Document"
    assert _local(root[0].tag) == ("FIToFICstmrCdtTrf" if pacs else "CstmrCdtTrfInitn")
    assert _currency_codes(data) == {"CNY"}  # never CNH as a currency code
    [instrument] = [el.text for el in root.iter() if _local(el.tag) == "LclInstrm" for el in el.iter()
                    if _local(el.tag) == "Prtry"]
    assert instrument == "CNH"  # the offshore market, in its own field
    ref = svc.payout_reference(CNH, red.seq)
    fee = 150_00  # 10 bps
    assert ref.encode() in data and f">{(150_000_00 - fee) // 100}.00<".encode() in data

    # the end-of-day statement, in CNY, repeats the deposit and shows the payout debited: it settles
    _drop(issuer, "stm-1.xml", camt053("STM-CNY-1", NOW, account, "CNY", 0, [
        deposit, SimEntry(150_000_00 - fee, False, "OUT-1", f"/ROC/{ref}", end_to_end_id=ref)]))
    st = svc.ingest_bank_files(ctx)
    assert (st.payouts_settled, st.duplicate_entries, st.quarantined) == (1, 1, [])
    assert ctx.store.redemption(red.seq).status == "paid"
    cash = ctx.ledger.account(iss.book_account_id(CNH, Book.RESERVE_CASH))
    assert cash.posted == cash.available == 500_000_00 + 200_000_00 - (150_000_00 - fee)
    assert ctx.ledger.check_invariants().ok


def test_a_bad_payout_message_setting_refuses_to_build_the_issuer(tmp_path: Path, sqlite_url: str) -> None:
    from bauhinia.bootstrap import Container
    from bauhinia.config import Settings
    from bauhinia.domain.errors import ConfigError

    container = Container(Settings(demo=True, data_dir=tmp_path, database_url=sqlite_url,
                                   payout_messages={"HKD": "mt103"}))
    try:
        with pytest.raises(ConfigError) as info:
            _ = container.issuance
        assert info.value.code == "bad_payout_message" and "mt103" in str(info.value)
    finally:
        container.close()
