"""ISO 4217 in every outbound bank file (issue 21, part 4): offshore renminbi is written CNY, the CNH market in
its own field (PmtTpInf/LclInstrm/Prtry); inbound files may say CNY or CNH for the CNH reserve account and book
the same; the payout message of each rail is chosen by Settings.payout_messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import defusedxml.ElementTree as DET
import pytest

from bauhinia.adapters.bank import payments
from bauhinia.adapters.bank.camt import parse_camt
from bauhinia.adapters.bank.folder import FolderBank
from bauhinia.adapters.bank.simulator import SimEntry, camt053, camt054
from bauhinia.config import Settings
from bauhinia.domain.banking import (
    AccountId,
    BankFileRejected,
    Party,
    PaymentBatch,
    PaymentScheme,
    PayoutInstruction,
    iso4217_code,
    iso_currency_decimals,
    payout_schemes,
    same_iso_currency,
)
from bauhinia.domain.errors import ConfigError, ValidationError
from bauhinia.domain.money import Currency
from bauhinia.domain.settlement import InvoiceState
from bauhinia.services.settlement import trade_payout_batch

ISSUER = Party("Bauhinia Issuer Ltd", AccountId("012-875-001234-002", "BBAN"), "HSBCHKHHXXX")
CREDITOR = Party("Kowloon Importers Ltd", AccountId("004-555-123456-838", "BBAN"), "BKCHHKHHXXX")
CNH_ACCOUNT = "012-875-001234-002"
AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
# ISO 4217 codes a file may carry: every code the platform books except the market code CNH
ISO_CODES = set(iso_currency_decimals) - {"CNH"}


def _batch(ccy: str, n: int = 3, message_id: str = "PAY-20261126-1") -> PaymentBatch:
    payouts = tuple(PayoutInstruction(f"RDM-{ccy}-{i:06d}", 1_000_00 + i, ccy, CREDITOR,
                                      invoice_reference="INV-2026-9" if i == 1 else None) for i in range(n))
    return PaymentBatch(message_id, AT, ISSUER, date(2026, 11, 26), payouts)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def currency_codes(data: bytes) -> list[tuple[str, str]]:
    """Every currency code in an XML file: (where, code) of each Ccy attribute and each *Ccy element's text."""
    out: list[tuple[str, str]] = []
    for el in DET.fromstring(data).iter():
        name = _local(el.tag)
        for attr, value in el.attrib.items():
            if _local(attr) == "Ccy" or _local(attr).endswith("Ccy"):
                out.append((f"{name}@{_local(attr)}", value))
        if name.endswith("Ccy"):
            out.append((name, (el.text or "").strip()))
    return out


def outbound_files() -> list[tuple[str, bytes]]:
    """Every kind of outbound file the platform writes, for both rails: the redemption payout in each payment
    scheme (pain.001 09 and 03, pacs.008 08) and the trade-invoice payout (services.settlement). Each is
    written by `write_payment`, which validates it by reading it back through its pyiso20022 binding."""
    from types import SimpleNamespace

    out = []
    for ccy in ("CNH", "HKD"):
        for scheme in PaymentScheme:
            data, _ = payments.write_payment(_batch(ccy), scheme)
            out.append((f"payout {scheme.value} {ccy}", data))
        invoice = SimpleNamespace(invoice_id="INV-7", state=InvoiceState.RELEASED, amount_minor=88_000_00,
                                  currency=Currency(ccy))
        trade = trade_payout_batch(invoice, debtor=ISSUER, creditor=CREDITOR,  # type: ignore[arg-type]
                                   created_at=AT, execution_date=date(2026, 11, 26))
        for scheme in PaymentScheme:
            out.append((f"trade payout {scheme.value} {ccy}", payments.write_payment(trade, scheme)[0]))
    return out


def test_iso4217_code_maps_cnh_to_cny_and_refuses_what_no_bank_pays_in() -> None:
    assert iso4217_code(Currency.CNH) == iso4217_code("CNH") == "CNY"
    assert iso4217_code(Currency.HKD) == "HKD" and iso4217_code("USD") == "USD" and iso4217_code("CNY") == "CNY"
    for bad in (Currency.BCNH, Currency.BHKD, "XAU", "", "cnh"):
        with pytest.raises(ValidationError) as info:
            iso4217_code(bad)
        assert info.value.code == "unknown_currency"
    assert same_iso_currency("CNY", "CNH") and same_iso_currency("CNH", "CNY") and same_iso_currency("HKD", "HKD")
    assert not same_iso_currency("CNY", "HKD") and not same_iso_currency("CNH", "USD")


def test_no_outbound_file_carries_cnh_as_a_currency_code() -> None:
    files = outbound_files()
    assert len(files) == 12
    for what, data in files:
        codes = currency_codes(data)
        assert codes, what  # the check below looked at something
        assert all(code in ISO_CODES for _, code in codes), (what, codes)
        assert not [c for c in codes if c[1] == "CNH"], what
        ccy = "CNY" if " CNH" in what else "HKD"
        assert {code for _, code in codes} == {ccy}, what
        root = DET.fromstring(data)
        instruments = [el.text for el in root.iter() if _local(el.tag) == "LclInstrm"
                       for el in el.iter() if _local(el.tag) == "Prtry"]
        # the offshore market is said in the local instrument, and only on the renminbi rail
        assert instruments == (["CNH"] if ccy == "CNY" else []), what


@pytest.mark.parametrize("scheme", list(PaymentScheme))
def test_renminbi_file_reads_back_as_cny_with_the_cnh_instrument(scheme: PaymentScheme) -> None:
    from bauhinia.adapters.bank import camt

    data, _ = payments.write_payment(_batch("CNH"), scheme)
    kind, version = payments._BINDING[scheme]
    doc = camt.schema_parse(data, camt.binding_document(kind, version))  # the schema binding reads it
    if kind == "pacs.008":
        body = doc.fito_ficstmr_cdt_trf
        assert body.grp_hdr.ttl_intr_bk_sttlm_amt.ccy == "CNY"
        assert body.grp_hdr.pmt_tp_inf.lcl_instrm.prtry == "CNH"
        assert {t.intr_bk_sttlm_amt.ccy for t in body.cdt_trf_tx_inf} == {"CNY"}
    else:
        [pmt] = doc.cstmr_cdt_trf_initn.pmt_inf
        assert pmt.pmt_tp_inf.lcl_instrm.prtry == "CNH" and pmt.dbtr_acct.ccy == "CNY"
        assert {t.amt.instd_amt.ccy for t in pmt.cdt_trf_tx_inf} == {"CNY"}
    assert b">1000.00<" in data and b">1000.02<" in data and b">3000.03<" in data  # exact minor units


def test_a_writer_putting_cnh_in_an_amount_is_caught_by_the_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _batch("CNH")
    good = payments.build_payment_xml(batch, PaymentScheme.PAIN_001_001_09)
    monkeypatch.setattr(payments, "build_payment_xml",
                        lambda b, s: good.replace(b'InstdAmt Ccy="CNY"', b'InstdAmt Ccy="CNH"'))
    with pytest.raises(Exception, match="reads back differently"):
        payments.write_payment(batch, PaymentScheme.PAIN_001_001_09)


@pytest.mark.parametrize("written", ["CNY", "CNH"])
def test_inbound_cny_or_cnh_on_the_cnh_account_books_as_cnh_with_one_entry_key(written: str) -> None:
    entry = SimEntry(12_345_67, True, "IN-77", "SUBSCRIPTION D-1", "Alpha Trading Ltd", "111-1")
    accounts = {CNH_ACCOUNT: "CNH"}
    note = parse_camt(camt054("NTF-1", AT, CNH_ACCOUNT, written, [entry]), accounts=accounts)
    [e] = note.reports[0].entries
    assert (e.currency, e.amount_minor, note.reports[0].account_currency) == ("CNH", 12_345_67, "CNH")
    assert [t.currency for t in e.transactions] == ["CNH"]
    assert [t.instructed_currency for t in e.transactions] == [None]  # CNY is not an FX leg on a CNH account
    # the statement written with the other code repeats the same booking: the same entry key
    other = "CNH" if written == "CNY" else "CNY"
    stmt = parse_camt(camt053("STM-1", AT, CNH_ACCOUNT, other, 0, [entry]), accounts=accounts)
    [s] = stmt.reports[0].entries
    assert s.entry_key == e.entry_key and s.currency == "CNH"


def test_inbound_cny_on_the_hkd_account_is_still_a_mismatch() -> None:
    entry = SimEntry(100_00, True, "IN-78")
    with pytest.raises(BankFileRejected) as info:
        parse_camt(camt054("NTF-2", AT, "012-875-001234-001", "CNY", [entry]),
                   accounts={"012-875-001234-001": "HKD"})
    assert info.value.code == "bank_file_currency_mismatch"


def test_payout_messages_setting_per_rail() -> None:
    assert payout_schemes({}) == {}
    assert payout_schemes({"HKD": "pacs.008", "CNH": "pain.001.001.03"}) == {
        "HKD": PaymentScheme.PACS_008_001_08, "CNH": PaymentScheme.PAIN_001_001_03}
    assert payout_schemes({"CNH": " PACS.008.001.08 "}) == {"CNH": PaymentScheme.PACS_008_001_08}
    for bad in ({"USD": "pain.001"}, {"CNY": "pain.001"}, {"HKD": "pacs.009"}, {"HKD": ""}):
        with pytest.raises(ConfigError) as info:
            payout_schemes(bad)
        assert info.value.code == "bad_payout_message"
    s = Settings(_env_file=None, payout_messages={"HKD": "pacs.008"})  # type: ignore[call-arg]
    assert payout_schemes(s.payout_messages) == {"HKD": PaymentScheme.PACS_008_001_08}


def test_environment_variable_selects_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAUHINIA_PAYOUT_MESSAGES", '{"CNH": "pacs.008"}')
    assert payout_schemes(Settings().payout_messages) == {"CNH": PaymentScheme.PACS_008_001_08}


def test_folder_bank_writes_each_rail_in_its_message(tmp_path: Path) -> None:
    bank = FolderBank(tmp_path, schemes=payout_schemes({"HKD": "pacs.008"}))
    hkd = bank.write_payment_file(_batch("HKD", message_id="PAY-HKD-1"))
    cnh = bank.write_payment_file(_batch("CNH", message_id="PAY-CNH-1"))
    assert (hkd.scheme, cnh.scheme) == (PaymentScheme.PACS_008_001_08, PaymentScheme.PAIN_001_001_09)
    assert hkd.name == "pacs.008.001.08-PAY-HKD-1.xml" and cnh.name == "pain.001.001.09-PAY-CNH-1.xml"
    assert _local(DET.fromstring((bank.outbox / hkd.name).read_bytes())[0].tag) == "FIToFICstmrCdtTrf"
    # an explicit scheme still wins over the rail's
    pain = bank.write_payment_file(_batch("HKD", message_id="PAY-HKD-2"), PaymentScheme.PAIN_001_001_03)
    assert pain.scheme is PaymentScheme.PAIN_001_001_03
    for name in bank.written_files():
        assert all(code != "CNH" for _, code in currency_codes((bank.outbox / name).read_bytes()))
