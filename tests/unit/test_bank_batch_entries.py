"""Real bank files, pure and adapter parts: batch entries split into parts, FX legs, camt.052 and 001.13/.14,
and an inbox that reads only complete files."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bauhinia.adapters.bank import camt
from bauhinia.adapters.bank.camt import parse_camt
from bauhinia.adapters.bank.folder import FolderBank
from bauhinia.adapters.bank.simulator import SimEntry, SimFx, SimPart, camt053, camt054
from bauhinia.domain import banking as bnk
from bauhinia.domain.banking import BankFileRejected, CreditDebit, MessageKind

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iso20022"
AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
ACCOUNT = "012-875-001234-002"


def _fixture(kind: str, version: int) -> bytes:
    return (FIXTURES / f"{kind.replace('.', '')}_v{version:02d}.xml").read_bytes()


def _batch(amount_minor: int = 3_500_00) -> SimEntry:
    return SimEntry(amount_minor, True, "BATCH-1", "COLLECTIVE CREDIT", parts=(
        SimPart(1_000_00, "B-1", "SUBSCRIPTION ONE", "Payer One"),
        SimPart(2_000_00, "B-2", "SUBSCRIPTION TWO", "Payer Two"),
        SimPart(500_00, "B-3", "no reference", "Payer Three"),
    ))


# --- batch entries ---------------------------------------------------------------------------------------


def test_batch_entry_splits_into_parts_with_stable_keys() -> None:
    entry = parse_camt(camt054("N1", AT, ACCOUNT, "CNH", [_batch()])).entries[0]
    assert entry.is_batch and len(entry.transactions) == 3
    parts = bnk.entry_parts(entry)
    assert [p.amount_minor for p in parts] == [1_000_00, 2_000_00, 500_00]
    assert [p.entry_key for p in parts] == [f"{entry.entry_key}.{i}" for i in range(3)]
    assert parts[1].remittance_unstructured == ("SUBSCRIPTION TWO",) and parts[1].debtor_name == "Payer Two"
    assert all(p.additional_info is None and p.entry_reference is None for p in parts)  # batch texts stay out
    # the statement repeating the entry gives the same keys
    again = parse_camt(camt053("S1", AT, ACCOUNT, "CNH", 0, [_batch()])).entries[0]
    assert [p.entry_key for p in bnk.entry_parts(again)] == [p.entry_key for p in parts]


def test_single_or_no_detail_is_booked_whole() -> None:
    entry = parse_camt(camt054("N1", AT, ACCOUNT, "CNH", [SimEntry(100_00, True, "S-1", "x")])).entries[0]
    assert bnk.entry_parts(entry) == (entry,)
    assert bnk.entry_parts(replace(entry, transactions=())) == (replace(entry, transactions=()),)


def test_batch_details_that_do_not_add_up_are_refused_whole() -> None:
    entry = parse_camt(camt054("N1", AT, ACCOUNT, "CNH", [_batch(3_500_01)])).entries[0]
    with pytest.raises(bnk.BatchMismatch) as info:
        bnk.entry_parts(entry)
    assert info.value.code == "bank_batch_sum_mismatch" and "3500" in info.value.detail
    no_amount = replace(entry, transactions=(replace(entry.transactions[0], amount_minor=None, currency=None),
                                             *entry.transactions[1:]))
    with pytest.raises(bnk.BatchMismatch) as info:
        bnk.entry_parts(no_amount)
    assert info.value.code == "bank_batch_no_amount"
    mixed = replace(entry, amount_minor=3_500_00, transactions=(
        replace(entry.transactions[0], credit_debit=CreditDebit.DEBIT), *entry.transactions[1:]))
    with pytest.raises(bnk.BatchMismatch) as info:
        bnk.entry_parts(mixed)
    assert info.value.code == "bank_batch_mixed_direction"


# --- FX legs ---------------------------------------------------------------------------------------------


def test_fx_leg_keeps_the_instructed_amount_and_books_the_account_currency() -> None:
    e = SimEntry(8_695_70, True, "FX-1", parts=(
        SimPart(8_695_70, "FX-1", "SUB", "Euro Payer GmbH", instructed=SimFx(1_000_00, "EUR", "8.6957")),))
    msg = parse_camt(camt054("N1", AT, ACCOUNT, "HKD", [e]), schema="full")
    tx = msg.entries[0].transactions[0]
    assert (tx.amount_minor, tx.currency) == (8_695_70, "HKD")
    assert (tx.instructed_amount_minor, tx.instructed_currency, tx.exchange_rate) == (1_000_00, "EUR", "8.6957")
    assert msg.entries[0].fx_notes == ("instructed 1000.00 EUR at 8.6957",)


def test_transaction_amount_in_another_currency_is_an_fx_leg_not_a_refusal() -> None:
    """Before: 'transaction in EUR inside an entry in HKD' quarantined the whole statement."""
    data = camt054("N1", AT, ACCOUNT, "HKD", [SimEntry(8_695_70, True, "FX-2", "SUB")])
    head, _leg, tail = data.rpartition(b'<Amt Ccy="HKD">8695.70</Amt>')  # the TxDtls amount, not the entry's
    data = head + b'<Amt Ccy="EUR">1000.00</Amt>' + tail
    assert b'Ccy="EUR"' in data
    tx = parse_camt(data, schema="full").entries[0].transactions[0]
    assert tx.amount_minor is None and (tx.instructed_amount_minor, tx.instructed_currency) == (1_000_00, "EUR")
    # an FX leg in a currency this platform has no decimals for is kept as information, not refused
    odd = data.replace(b'Ccy="EUR">1000.00', b'Ccy="XAU">1.5')
    tx = parse_camt(odd, schema="full").entries[0].transactions[0]
    assert tx.instructed_currency == "XAU" and tx.instructed_amount_minor is None


# --- versions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "version"), [
    ("camt.053", 12), ("camt.053", 13), ("camt.053", 14), ("camt.054", 12), ("camt.054", 13), ("camt.054", 14),
    ("camt.052", 2), ("camt.052", 8), ("camt.052", 12), ("camt.052", 13), ("camt.052", 14),
])
@pytest.mark.parametrize("schema", ["full", "sample", "off"])
def test_new_versions_parse(kind: str, version: int, schema: str) -> None:
    msg = parse_camt(_fixture(kind, version), schema=schema)  # type: ignore[arg-type]
    assert msg.kind is MessageKind(kind) and msg.version == f"001.{version:02d}"
    assert [e.amount_minor for e in msg.entries][:3] == [100_000_000, 25_050, 7]
    full = msg.entries[0]
    assert full.debtor_name == "Shenzhen Exporter (HK) Ltd" and full.end_to_end_id == "E2E-SZX-0001"
    if kind != "camt.054":
        assert msg.entries[3].credit_debit is CreditDebit.DEBIT
    if kind == "camt.053":
        assert [b.type_code for b in msg.reports[0].balances] == ["OPBD", "CLBD"]


@pytest.mark.parametrize("version", [13, 14])
@pytest.mark.parametrize("kind", ["camt.052", "camt.053", "camt.054"])
def test_newer_fixtures_fit_the_newest_binding_strictly(kind: str, version: int) -> None:
    """001.13/.14 fixtures use only what 001.12 has, in its order: strict check against the 001.12 binding."""
    import defusedxml.ElementTree as DET
    from xsdata.formats.dataclass.serializers import XmlSerializer

    assert camt.binding_fallback(version) == camt.binding_version_max == 12
    data = _fixture(kind, version).replace(f"{kind}.001.{version}".encode(), f"{kind}.001.12".encode())
    doc = camt.schema_parse(data, camt.binding_document(kind, 12))
    again = XmlSerializer().render(doc).encode()
    tags = lambda raw: [el.tag.rsplit("}", 1)[-1] for el in DET.fromstring(raw).iter()]  # noqa: E731
    assert tags(again) == tags(data)


def test_newer_version_still_refuses_what_the_schema_refuses() -> None:
    data = _fixture("camt.053", 13)
    with pytest.raises(BankFileRejected) as info:
        parse_camt(data.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>", b"<CdtDbtInd>XXXX</CdtDbtInd>", 1), schema="full")
    assert info.value.code == "bank_file_schema"
    with pytest.raises(BankFileRejected) as info:
        parse_camt(data.replace(b"camt.053.001.13", b"camt.053.001.15"))
    assert info.value.code == "bank_file_unknown_message" and "001.14" in info.value.detail
    # the tree is restored after the renamed check: extraction reads the original namespace
    assert parse_camt(data, schema="full").version == "001.13"


# --- the inbox ---------------------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _bank(tmp_path: Path, settle_s: float = 5.0) -> tuple[FolderBank, _Clock]:
    clock = _Clock()
    return FolderBank(tmp_path, accounts={ACCOUNT: "CNH"}, settle_s=settle_s, clock=clock), clock


def _write(path: Path, data: bytes, mtime: float) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def _good() -> bytes:
    return camt054("N1", AT, ACCOUNT, "CNH", [SimEntry(100_00, True, "S-1", "x")])


def test_part_and_tmp_files_are_never_read(tmp_path: Path) -> None:
    bank, clock = _bank(tmp_path, settle_s=0)
    _write(bank.inbox / "a.xml.part", _good(), clock.now - 100)
    _write(bank.inbox / "b.xml.tmp", _good(), clock.now - 100)
    _write(bank.inbox / "c.part.xml", _good()[:50], clock.now - 100)  # a .xml name is a file like any other
    assert bank.pending_names() == ["c.part.xml"]
    assert [f.name for f in bank.read_inbound()] == ["c.part.xml"]
    assert (bank.inbox / "a.xml.part").exists() and (bank.inbox / "b.xml.tmp").exists()


def test_half_written_file_waits_until_it_settles_then_is_read(tmp_path: Path) -> None:
    bank, clock = _bank(tmp_path)
    data = _good()
    path = bank.inbox / "n1.xml"
    _write(path, data[: len(data) // 2], clock.now - 1)  # written a second ago, still arriving
    assert bank.read_inbound() == []
    assert path.exists() and not any(bank.quarantine_dir.iterdir())
    _write(path, data, clock.now)  # the rest arrives
    [f] = bank.read_inbound()  # a complete document is taken at once
    assert f.message is not None and not f.quarantined and path.exists()


def test_unparseable_file_is_quarantined_once_settled(tmp_path: Path) -> None:
    bank, clock = _bank(tmp_path)
    path = bank.inbox / "bad.xml"
    _write(path, b"<Document><BkToCstmrDbtCdtNtfctn>", clock.now - 1)
    assert bank.read_inbound() == []
    clock.now += 5
    [f] = bank.read_inbound()
    assert f.rejection_code == "bank_file_malformed" and (bank.quarantine_dir / "bad.xml").exists()


def test_done_marker_judges_a_file_at_once(tmp_path: Path) -> None:
    bank, clock = _bank(tmp_path)
    _write(bank.inbox / "bad.xml", b"<Document>", clock.now)
    (bank.inbox / "bad.xml.done").write_bytes(b"")
    [f] = bank.read_inbound()
    assert f.rejection_code == "bank_file_malformed"
    assert (bank.quarantine_dir / "bad.xml.done").exists() and not (bank.inbox / "bad.xml.done").exists()


def test_file_quarantined_while_arriving_is_read_again_when_it_changes(tmp_path: Path) -> None:
    """settle 0 judges on sight: the half file is quarantined; the writer, still holding it open, finishes it in
    quarantine. The next read moves it back (flagged requeued) and it is taken."""
    bank, clock = _bank(tmp_path, settle_s=0)
    clock.now = time.time() + 10  # real files, real mtimes
    data = _good()
    path = bank.inbox / "n1.xml"
    with open(path, "wb") as writer:
        writer.write(data[:100])
        writer.flush()
        [q] = bank.read_inbound()
        assert q.rejection_code == "bank_file_malformed" and (bank.quarantine_dir / "n1.xml").exists()
        assert "seen size=100" in (bank.quarantine_dir / "n1.xml.reason.txt").read_text()
        writer.write(data[100:])
    os.utime(bank.quarantine_dir / "n1.xml", (clock.now + 1, clock.now + 1))
    [f] = bank.read_inbound()
    assert f.requeued and f.message is not None and f.name == "n1.xml"
    assert not (bank.quarantine_dir / "n1.xml").exists() and not (bank.quarantine_dir / "n1.xml.reason.txt").exists()
    bank.acknowledge("n1.xml")
    assert bank.read_inbound() == []


def test_unchanged_quarantined_file_stays(tmp_path: Path) -> None:
    bank, clock = _bank(tmp_path, settle_s=0)
    _write(bank.inbox / "bad.xml", b"<Document>", clock.now)
    assert [f.rejection_code for f in bank.read_inbound()] == ["bank_file_malformed"]
    os.utime(bank.quarantine_dir / "bad.xml", (clock.now + 9, clock.now + 9))  # touched, same bytes
    assert bank.read_inbound() == [] and (bank.quarantine_dir / "bad.xml").exists()


def test_settle_time_must_not_be_negative(tmp_path: Path) -> None:
    from bauhinia.domain.errors import ValidationError

    with pytest.raises(ValidationError):
        FolderBank(tmp_path, settle_s=-1)


def test_fx_leg_on_the_entry_itself_is_kept() -> None:
    data = camt054("N1", AT, ACCOUNT, "HKD", [SimEntry(7_800_00, True, "FX-3", "SUB")])
    leg = (b'<AmtDtls><InstdAmt><Amt Ccy="USD">1000.00</Amt><CcyXchg><SrcCcy>USD</SrcCcy><TrgtCcy>HKD</TrgtCcy>'
           b'<XchgRate>7.8</XchgRate></CcyXchg></InstdAmt></AmtDtls>')
    data = data.replace(b"</BkTxCd><NtryDtls>", b"</BkTxCd>" + leg + b"<NtryDtls>", 1)
    entry = parse_camt(data, schema="full").entries[0]
    assert entry.fx_note == "instructed 1000.00 USD at 7.8" and entry.fx_notes == (entry.fx_note,)
    assert entry.amount_minor == 7_800_00
