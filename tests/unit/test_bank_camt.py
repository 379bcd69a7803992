"""camt.053 / camt.054 parsing: every version, the shared real samples, quarantine reasons, idempotency keys."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bauhinia.adapters.bank import camt
from bauhinia.adapters.bank.camt import parse_camt
from bauhinia.domain.banking import (
    AccountId,
    BankFileRejected,
    BankStatement,
    CreditDebit,
    CreditNotification,
    format_amount_minor,
    parse_amount_minor,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iso20022"
VERSIONS = [2, 3, 4, 5, 6, 7, 8, 10]


def _fixture(kind: str, version: int) -> bytes:
    return (FIXTURES / f"{kind.replace('.', '')}_v{version:02d}.xml").read_bytes()


def _shared(name: str) -> bytes:
    """The banks' published samples (moov-io/iso20022), frozen in tests/fixtures/iso20022."""
    return (FIXTURES / name).read_bytes()


def _reason(data: bytes, **kw: object) -> BankFileRejected:
    with pytest.raises(BankFileRejected) as info:
        parse_camt(data, **kw)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["camt.054", "camt.053"])
def test_every_version_parses_with_the_schema(kind: str, version: int) -> None:
    msg = parse_camt(_fixture(kind, version), schema="full")
    ccy = "HKD" if version % 2 == 0 else "CNH"
    assert isinstance(msg, CreditNotification if kind == "camt.054" else BankStatement)
    assert msg.version == f"001.{version:02d}"
    assert msg.message_id == f"MSG-{kind}-{version:02d}"
    assert msg.message_key == f"{kind}/MSG-{kind}-{version:02d}"
    assert msg.account == AccountId("012-875-001234-001", "BBAN" if version % 2 else "OTHR")
    assert msg.currency == ccy
    amounts = [e.amount_minor for e in msg.entries]
    assert amounts[:3] == [100_000_000, 25_050, 7]
    full, structured, minimal = msg.entries[:3]
    assert full.credit_debit is CreditDebit.CREDIT and full.status == "BOOK" and full.is_booked_credit
    assert full.end_to_end_id == "E2E-SZX-0001"
    assert full.debtor_name == "Shenzhen Exporter (HK) Ltd"
    assert full.debtor_account == AccountId("004-555-123456-838", "OTHR")
    assert full.remittance_unstructured == ("BAUHINIA SUBSCRIPTION CUS-0001", "second line")
    assert full.account_servicer_reference == f"SVC-{version}-0001"
    assert full.entry_reference == f"NREF-{version}-1"
    assert full.booking_date == date(2025, 3, 14) and full.value_date == date(2025, 3, 14)
    assert full.bank_transaction_code == "PMNT/RCDT/ESCT"
    assert full.transactions[0].amount_minor == 100_000_000
    assert structured.end_to_end_id is None  # NOTPROVIDED
    assert structured.creditor_references == ("RF18CUS0002",)
    assert structured.debtor_name == "Kowloon Importers Ltd"
    assert structured.booking_date == date(2025, 3, 14)  # from DtTm
    assert minimal.status == "PDNG" and not minimal.is_booked_credit
    assert minimal.transactions == () and minimal.value_date is None and minimal.debtor_name is None
    if kind == "camt.053":
        assert msg.entries[3].credit_debit is CreditDebit.DEBIT and msg.entries[3].amount_minor == 9_999
        assert [(b.type_code, b.amount_minor) for b in msg.reports[0].balances] == [
            ("OPBD", 500_000), ("CLBD", 100_515_058)
        ]
    assert len({e.entry_key for e in msg.entries}) == len(msg.entries)


@pytest.mark.parametrize("version", VERSIONS)
def test_fixtures_follow_the_schema_element_order(version: int) -> None:
    """The binding's own serialisation of what it read has the same elements in the same order."""
    import defusedxml.ElementTree as DET
    from xsdata.formats.dataclass.serializers import XmlSerializer

    for kind in ("camt.054", "camt.053"):
        data = _fixture(kind, version)
        doc = camt.schema_parse(data, camt.binding_document(kind, version))
        again = XmlSerializer().render(doc).encode()
        tags = lambda raw: [el.tag.rsplit("}", 1)[-1] for el in DET.fromstring(raw).iter()]  # noqa: E731
        assert tags(again) == tags(data)


def test_shared_camt054_sample_amounts() -> None:
    msg = parse_camt(_shared("camt054_credit_sample.xml"), schema="full")
    assert isinstance(msg, CreditNotification)
    assert msg.version == "001.04" and msg.message_id == "201904245375204223076552"
    assert msg.account == AccountId("CH2909000000250094239", "IBAN")
    [entry] = msg.entries
    assert (entry.amount_minor, entry.currency, entry.credit_debit) == (150_000, "CHF", CreditDebit.CREDIT)
    assert entry.account_servicer_reference == "074820002ZZ9J42U"
    assert entry.value_date == date(2019, 4, 25)


def test_shared_camt053_sample_amounts() -> None:
    msg = parse_camt(_shared("camt053_sample.xml"), schema="full")
    assert isinstance(msg, BankStatement)
    assert [e.amount_minor for e in msg.entries] == [450, 7_770, 150_000, 153_700, 169_222]
    assert [e.credit_debit.value for e in msg.entries] == ["CRDT", "DBIT", "CRDT", "CRDT", "CRDT"]
    balances = {b.type_code: b.amount_minor for b in msg.reports[0].balances}
    assert balances["OPBD"] == 21_199_319 and balances["CLBD"] == 21_511_221
    # two entries share a servicer reference but are different bookings
    assert len({e.entry_key for e in msg.entries}) == 5


def test_pain001_is_not_a_bank_statement() -> None:
    assert _reason(_shared("pain001_sample.xml")).code == "bank_file_unknown_message"


# --- quarantine reasons ---

SAMPLE054 = _fixture("camt.054", 4)


def test_malformed_xml() -> None:
    assert _reason(SAMPLE054[:-40]).code == "bank_file_malformed"
    assert _reason(b"").code == "bank_file_malformed"
    assert _reason(b"not xml at all").code == "bank_file_malformed"


def test_xxe_is_refused() -> None:
    xxe = SAMPLE054.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    ).replace(b"<MsgId>MSG-camt.054-04</MsgId>", b"<MsgId>&x;</MsgId>")
    reason = _reason(xxe)
    assert reason.code == "bank_file_forbidden_xml"
    assert "root:" not in reason.detail


def test_billion_laughs_is_refused() -> None:
    lol = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    ) + b']>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">&lol9;</Document>'
    assert _reason(lol).code == "bank_file_forbidden_xml"


def test_external_dtd_is_refused() -> None:
    data = SAMPLE054.replace(
        b"<Document", b'<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">\n<Document', 1
    )
    assert _reason(data).code == "bank_file_forbidden_xml"


def test_unknown_namespace_and_version() -> None:
    assert _reason(SAMPLE054.replace(b"camt.054.001.04", b"camt.054.001.01")).code == "bank_file_unknown_message"
    assert _reason(SAMPLE054.replace(b"camt.054.001.04", b"camt.099.001.04")).code == "bank_file_unknown_message"
    assert _reason(SAMPLE054.replace(b'xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"', b"")).code == (
        "bank_file_unknown_message"
    )


@pytest.mark.parametrize("schema", ["full", "off"])
def test_wrong_currency_for_the_account(schema: str) -> None:
    data = SAMPLE054.replace(b'<Amt Ccy="HKD">250.5</Amt>', b'<Amt Ccy="USD">250.5</Amt>')
    reason = _reason(data, schema=schema)
    assert reason.code == "bank_file_currency_mismatch" and "USD" in reason.detail
    # the configured account currency wins over a file that claims another
    assert _reason(SAMPLE054, accounts={"012-875-001234-001": "CNH"}).code == "bank_file_currency_mismatch"


def test_unknown_account_when_accounts_are_configured() -> None:
    assert _reason(SAMPLE054, accounts={"999": "HKD"}).code == "bank_file_unknown_account"
    assert parse_camt(SAMPLE054, accounts={"012-875-001234-001": "HKD"}).currency == "HKD"


@pytest.mark.parametrize("schema", ["full", "off"])
def test_too_many_decimals(schema: str) -> None:
    for amount in (b"250.505", b"250.500"):
        data = SAMPLE054.replace(b">250.5<", b">" + amount + b"<")
        reason = _reason(data, schema=schema)
        assert reason.code == "bank_file_bad_amount" and "decimals" in reason.detail


def test_bad_amount_text_and_unknown_currency() -> None:
    assert _reason(SAMPLE054.replace(b">250.5<", b">-250.5<"), schema="off").code == "bank_file_bad_amount"
    assert _reason(SAMPLE054.replace(b">250.5<", b">2,50<"), schema="off").code == "bank_file_bad_amount"
    data = re.sub(rb'Ccy="HKD"', b'Ccy="XTS"', SAMPLE054).replace(b"<Ccy>HKD</Ccy>", b"<Ccy>XTS</Ccy>")
    assert _reason(data).code == "bank_file_unknown_currency"


@pytest.mark.parametrize("schema", ["full", "off"])
def test_missing_required_elements(schema: str) -> None:
    no_msg_id = re.sub(rb"<MsgId>.*?</MsgId>", b"", SAMPLE054)
    reason = _reason(no_msg_id, schema=schema)
    assert reason.code == "bank_file_missing_element" and "MsgId" in reason.detail
    no_cd = SAMPLE054.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>", b"<RvslInd>")
    assert no_cd != SAMPLE054
    reason = _reason(no_cd, schema=schema)
    assert reason.code == "bank_file_missing_element" and "CdtDbtInd" in reason.detail


def test_schema_refuses_unknown_elements_and_values() -> None:
    assert _reason(SAMPLE054.replace(b"<Sts>BOOK</Sts>", b"<Sts>XXXX</Sts>")).code == "bank_file_schema"
    assert _reason(SAMPLE054.replace(b"<Sts>BOOK</Sts>", b"<Sts>BOOK</Sts><Foo/>")).code == "bank_file_schema"


# --- large files: the sampled schema check ---


def _big(n: int, *, poison_first: bool = False) -> bytes:
    text = SAMPLE054.decode()
    start = text.index("<Ntry>")
    end = text.index("</Ntry>") + len("</Ntry>")
    one = text[start:end]
    entries = [one.replace("SVC-4-0001", f"SVC-4-{i:06d}") for i in range(n)]
    if poison_first:
        entries[0] = entries[0].replace("<Sts>BOOK</Sts>", "<Sts>BOOK</Sts><Foo/>")
    return (text[:start] + "".join(entries) + text[end:]).encode()


def test_large_file_sampled_schema_equals_unchecked_parse() -> None:
    data = _big(camt.schema_full_entries_max + 200)
    sampled = parse_camt(data)  # auto -> sample
    plain = parse_camt(data, schema="off")
    assert len(sampled.entries) == camt.schema_full_entries_max + 200 + 2
    assert [e.entry_key for e in sampled.entries] == [e.entry_key for e in plain.entries]
    assert sum(e.amount_minor for e in sampled.entries) == (camt.schema_full_entries_max + 200) * 100_000_000 + 25_057
    with pytest.raises(BankFileRejected) as info:
        parse_camt(_big(camt.schema_full_entries_max + 10, poison_first=True))
    assert info.value.code == "bank_file_schema"


# --- idempotency ---


def test_same_file_same_hash_and_keys() -> None:
    a, b = parse_camt(SAMPLE054), parse_camt(SAMPLE054)
    assert a.content_hash == b.content_hash and a.message_key == b.message_key
    assert [e.entry_key for e in a.entries] == [e.entry_key for e in b.entries]
    reformatted = parse_camt(SAMPLE054.replace(b"\n", b"\r\n"))
    assert reformatted.content_hash != a.content_hash  # different bytes...
    assert [e.entry_key for e in reformatted.entries] == [e.entry_key for e in a.entries]  # ...same bookings


def test_notification_and_statement_agree_on_the_entry_key() -> None:
    notification = parse_camt(_fixture("camt.054", 4))
    statement = parse_camt(_fixture("camt.053", 4))
    assert notification.entries[0].entry_key == statement.entries[0].entry_key
    assert notification.entries[1].entry_key == statement.entries[1].entry_key


def test_identical_entries_in_one_report_get_distinct_keys() -> None:
    data = _big(3).replace(b"SVC-4-000001", b"SVC-4-000000").replace(b"SVC-4-000002", b"SVC-4-000000")
    keys = [e.entry_key for e in parse_camt(data).entries]
    assert len(set(keys)) == len(keys)


# --- exact amounts ---


@given(st.integers(min_value=0, max_value=10**18), st.sampled_from([0, 2, 3]))
def test_amount_text_round_trip(amount_minor: int, decimals: int) -> None:
    text = format_amount_minor(amount_minor, decimals)
    assert parse_amount_minor(text, decimals) == amount_minor


@given(
    st.integers(min_value=0, max_value=10**15),
    st.text(alphabet="0123456789", min_size=0, max_size=2),
)
def test_decimal_text_parses_exactly(whole: int, frac: str) -> None:
    text = f"{whole}.{frac}" if frac else str(whole)
    value = parse_amount_minor(text, 2)
    assert value == whole * 100 + int(frac.ljust(2, "0") or "0")
    assert parse_amount_minor(format_amount_minor(value, 2), 2) == value


@given(st.text(alphabet="0123456789", min_size=3, max_size=6))
def test_more_decimals_than_the_currency_is_refused(frac: str) -> None:
    with pytest.raises(BankFileRejected):
        parse_amount_minor(f"1.{frac}", 2)
