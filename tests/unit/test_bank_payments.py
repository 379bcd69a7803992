"""Payout files (pain.001 09/03, pacs.008 08) read back through the bindings; the folder Bank adapter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bauhinia.adapters.bank import camt, payments
from bauhinia.adapters.bank.folder import FolderBank
from bauhinia.domain.banking import (
    AccountId,
    Party,
    PaymentBatch,
    PaymentScheme,
    PayoutInstruction,
)
from bauhinia.domain.errors import ConflictError, InvariantViolation, ValidationError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "iso20022"
ISSUER = Party("Bauhinia Issuer Ltd", AccountId("012-875-001234-001", "OTHR"), "HSBCHKHHXXX")


def _payout(i: int, amount_minor: int = 123_456, invoice: str | None = None, ccy: str = "HKD") -> PayoutInstruction:
    return PayoutInstruction(
        redemption_reference=f"RDM-{i:06d}",
        amount_minor=amount_minor,
        currency=ccy,
        creditor=Party("Kowloon Importers Ltd", AccountId("004-555-123456-838", "OTHR"), "BKCHHKHHXXX"),
        invoice_reference=invoice,
    )


def _batch(payouts: list[PayoutInstruction], message_id: str = "PAY-20250314-1") -> PaymentBatch:
    return PaymentBatch(
        message_id=message_id,
        created_at=datetime(2025, 3, 14, 10, 0, tzinfo=UTC),
        debtor=ISSUER,
        execution_date=date(2025, 3, 14),
        payouts=tuple(payouts),
    )


@pytest.mark.parametrize("scheme", list(PaymentScheme))
def test_payment_file_round_trip(scheme: PaymentScheme) -> None:
    batch = _batch([_payout(1, 100_000_000_01), _payout(2, 5, invoice="INV-2025-77"), _payout(3, 1)])
    data, content_hash = payments.write_payment(batch, scheme)
    kind, version = {"pain.001.001.09": ("pain.001", 9), "pain.001.001.03": ("pain.001", 3),
                     "pacs.008.001.08": ("pacs.008", 8)}[scheme.value]
    doc = camt.schema_parse(data, camt.binding_document(kind, version))
    if kind == "pacs.008":
        body = doc.fito_ficstmr_cdt_trf
        txs = body.cdt_trf_tx_inf
        amounts = [(t.intr_bk_sttlm_amt.value, t.intr_bk_sttlm_amt.ccy) for t in txs]
        assert all(t.dbtr.nm == "Bauhinia Issuer Ltd" for t in txs)
    else:
        body = doc.cstmr_cdt_trf_initn
        [pmt] = body.pmt_inf
        txs = pmt.cdt_trf_tx_inf
        amounts = [(t.amt.instd_amt.value, t.amt.instd_amt.ccy) for t in txs]
        assert pmt.dbtr.nm == "Bauhinia Issuer Ltd"
        assert pmt.dbtr_acct.id.othr.id == "012-875-001234-001"
    assert [str(v) for v, _ in amounts] == ["100000000.01", "0.05", "0.01"]
    assert {c for _, c in amounts} == {"HKD"}
    assert str(body.grp_hdr.ctrl_sum) == "100000000.07"
    assert [t.pmt_id.end_to_end_id for t in txs] == ["RDM-000001", "RDM-000002", "RDM-000003"]
    assert [t.cdtr_acct.id.othr.id for t in txs] == ["004-555-123456-838"] * 3
    assert txs[1].rmt_inf.ustrd == ["REDEMPTION RDM-000002 INVOICE INV-2025-77"]
    assert txs[1].rmt_inf.strd[0].rfrd_doc_inf[0].nb == "INV-2025-77"
    assert txs[0].rmt_inf.ustrd == ["REDEMPTION RDM-000001"] and not txs[0].rmt_inf.strd
    assert len(content_hash) == 64
    assert payments.write_payment(batch, scheme)[0] == data  # deterministic bytes


def test_large_batch_is_checked_on_a_sample() -> None:
    batch = _batch([_payout(i, 100 + i) for i in range(payments.validate_full_transactions_max + 5)])
    data, _ = payments.write_payment(batch, PaymentScheme.PAIN_001_001_09)
    assert data.count(b"<CdtTrfTxInf>") == len(batch.payouts)


def test_a_broken_writer_is_caught_by_the_read_back() -> None:
    batch = _batch([_payout(1)])
    data = payments.build_payment_xml(batch, PaymentScheme.PAIN_001_001_09)
    with pytest.raises(InvariantViolation, match="order"):
        swapped = data.replace(b"<PmtMtd>TRF</PmtMtd>", b"").replace(b"<BtchBookg>", b"<PmtMtd>TRF</PmtMtd><BtchBookg>")
        swapped = swapped.replace(b"<PmtInfId>PAY-20250314-1</PmtInfId>", b"").replace(
            b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>TRF</PmtMtd><PmtInfId>PAY-20250314-1</PmtInfId>"
        )
        payments.validate_payment_xml(swapped, PaymentScheme.PAIN_001_001_09, batch)
    assert b'Ccy="HKD">1234.56<' in data
    with pytest.raises(InvariantViolation, match="reads back differently"):
        changed = data.replace(b'Ccy="HKD">1234.56<', b'Ccy="HKD">1234.57<')
        payments.validate_payment_xml(changed, PaymentScheme.PAIN_001_001_09, batch)
    with pytest.raises(InvariantViolation, match="CtrlSum"):
        changed = data.replace(b"<CtrlSum>1234.56<", b"<CtrlSum>1234.50<")
        payments.validate_payment_xml(changed, PaymentScheme.PAIN_001_001_09, batch)
    with pytest.raises(InvariantViolation, match="facets"):
        long_name = _batch([_payout(1)])
        bad = data.replace(b"<Nm>Kowloon Importers Ltd</Nm>", b"<Nm>" + b"K" * 200 + b"</Nm>")
        payments.validate_payment_xml(bad, PaymentScheme.PAIN_001_001_09, long_name)


def test_instruction_and_batch_rules() -> None:
    with pytest.raises(ValidationError):
        _payout(1, 0)
    with pytest.raises(ValidationError):
        _payout(1, -5)
    with pytest.raises(ValidationError):
        PayoutInstruction("x" * 36, 1, "HKD", ISSUER)
    with pytest.raises(ValidationError):
        _batch([_payout(1), _payout(1)])
    with pytest.raises(ValidationError):
        _batch([_payout(1), _payout(2, ccy="CNH")])
    with pytest.raises(ValidationError):
        _batch([])


# --- the folder adapter ---


def test_folder_bank_inbox_quarantine_and_acknowledge(tmp_path: Path) -> None:
    bank = FolderBank(tmp_path, accounts={"012-875-001234-001": "HKD"})
    good = (FIXTURES / "camt054_v04.xml").read_bytes()
    (bank.inbox / "a_good.xml").write_bytes(good)
    (bank.inbox / "b_bad.xml").write_bytes(good.replace(b">250.5<", b">250.555<"))
    (bank.inbox / "c_xxe.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    )
    (bank.inbox / "d_cnh.xml").write_bytes((FIXTURES / "camt054_v05.xml").read_bytes())  # CNH: wrong account ccy
    (bank.inbox / "notes.txt").write_text("ignored")
    files = {f.name: f for f in bank.read_inbound()}
    assert set(files) == {"a_good.xml", "b_bad.xml", "c_xxe.xml", "d_cnh.xml"}
    assert files["a_good.xml"].message is not None and not files["a_good.xml"].quarantined
    assert files["b_bad.xml"].rejection_code == "bank_file_bad_amount"
    assert files["c_xxe.xml"].rejection_code == "bank_file_forbidden_xml"
    assert files["d_cnh.xml"].rejection_code == "bank_file_currency_mismatch"
    assert sorted(p.name for p in bank.quarantine_dir.iterdir()) == [
        "b_bad.xml", "b_bad.xml.reason.txt", "c_xxe.xml", "c_xxe.xml.reason.txt", "d_cnh.xml",
        "d_cnh.xml.reason.txt",
    ]
    assert (bank.quarantine_dir / "b_bad.xml.reason.txt").read_text().startswith("bank_file_bad_amount\n")
    # the good file stays pending until acknowledged: a crash re-reads it
    assert [f.name for f in bank.read_inbound()] == ["a_good.xml"]
    again = bank.read_inbound()[0]
    assert again.content_hash == files["a_good.xml"].content_hash
    bank.acknowledge("a_good.xml")
    bank.acknowledge("a_good.xml")  # idempotent
    assert bank.read_inbound() == []
    assert [p.name for p in bank.processed.iterdir()] == ["a_good.xml"]
    # the same file delivered again does not overwrite the processed one
    (bank.inbox / "a_good.xml").write_bytes(good)
    bank.read_inbound()
    bank.quarantine("a_good.xml", "duplicate_file", "already processed")
    assert (bank.quarantine_dir / "a_good.xml.reason.txt").read_text() == "duplicate_file\nalready processed\n"
    with pytest.raises(ValidationError):
        bank.acknowledge("../etc/passwd")


def test_folder_bank_writes_payment_files_atomically_and_idempotently(tmp_path: Path) -> None:
    bank = FolderBank(tmp_path)
    batch = _batch([_payout(1), _payout(2, invoice="INV-1")])
    written = bank.write_payment_file(batch)
    assert written.name == "pain.001.001.09-PAY-20250314-1.xml" and written.transaction_count == 2
    assert bank.written_files() == [written.name]
    assert bank.write_payment_file(batch) == written  # same batch again: same file, nothing new
    assert not [p for p in bank.outbox.iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(ConflictError):
        bank.write_payment_file(_batch([_payout(1, 999)]))
    pacs = bank.write_payment_file(batch, PaymentScheme.PACS_008_001_08)
    assert pacs.name.startswith("pacs.008.001.08-")
