"""Write payout files: pain.001 (customer credit transfer initiation, 001.001.09 and 001.001.03) and pacs.008
(FI to FI customer credit transfer, 001.001.08), from a PaymentBatch of exact integer amounts.

Every file written is checked by reading it back through the pyiso20022 (xsdata) binding of its version:
unknown elements, wrong values and missing required elements are refused, the element order must equal the
schema's sequence (the binding's own serialisation of what it read), text lengths and patterns must fit the
schema facets, and the amounts, end-to-end ids and control sum read back must equal what was asked.
Batches above `validate_full_transactions_max` transactions are checked through the same batch cut to its
first `validate_sample_transactions` payouts, built by the same code (every transaction is built by one code
path from values the domain already validated). Measured: 10,000 payouts to a checked pain.001 in ~0.5 s.

Currency codes are ISO 4217 (`domain.banking.iso4217_code`): offshore renminbi is written CNY, never CNH (not an
ISO 4217 code; a bank checking codes against the ISO list refuses it). What makes a renminbi payout offshore is
where it clears: the debtor account is the issuer's CNH reserve account, serviced by a Hong Kong bank (DbtrAgt)
that settles renminbi in Hong Kong through the RMB clearing bank (RMB CHATS); that is how Hong Kong banks take
CNH payments instructed. The file also says so in the field ISO 20022 keeps for a community's own instrument:
PmtTpInf/LclInstrm/Prtry = "CNH" (`offshore_renminbi_local_instrument`), on the payment information (pain.001)
or the group header (pacs.008). HKD and other currencies carry no local instrument."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import defusedxml.ElementTree as DET

from bauhinia.adapters.bank.camt import binding_document, schema_parse
from bauhinia.domain.banking import (
    AccountId,
    BankFileRejected,
    Party,
    PaymentBatch,
    PaymentScheme,
    PayoutInstruction,
    currency_decimals,
    format_amount_minor,
    iso4217_code,
)
from bauhinia.domain.errors import InvariantViolation

validate_full_transactions_max: int = 1_000
validate_sample_transactions: int = 50
payouts_per_file_max: int = 100_000
# PmtTpInf/LclInstrm/Prtry of a renminbi payout from the CNH reserve account: the offshore market, said where a
# clearing community's instrument goes (the currency code itself is ISO 4217 CNY).
offshore_renminbi_local_instrument: str = "CNH"

_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:{}"
_BINDING = {
    PaymentScheme.PAIN_001_001_09: ("pain.001", 9),
    PaymentScheme.PAIN_001_001_03: ("pain.001", 3),
    PaymentScheme.PACS_008_001_08: ("pacs.008", 8),
}


class _Builder:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    def el(self, parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, name, attrs)  # unqualified: the root carries xmlns=ns
        if text is not None:
            child.text = text
        return child

    def path(self, parent: ET.Element, path: str, text: str) -> ET.Element:
        """Nested elements 'A/B/C' with text on the last."""
        names = path.split("/")
        el = parent
        for name in names[:-1]:
            el = self.el(el, name)
        return self.el(el, names[-1], text)


def _account(b: _Builder, parent: ET.Element, name: str, account: AccountId, ccy: str | None = None) -> None:
    acct = b.el(parent, name)
    ident = b.el(acct, "Id")
    if account.scheme == "IBAN":
        b.el(ident, "IBAN", account.value)
    else:
        othr = b.el(ident, "Othr")
        b.el(othr, "Id", account.value)
        if account.scheme not in ("OTHR", ""):
            b.path(othr, "SchmeNm/Prtry", account.scheme)
    if ccy is not None:
        b.el(acct, "Ccy", ccy)


def _agent(b: _Builder, parent: ET.Element, name: str, bic: str | None, bic_tag: str) -> None:
    fin = b.el(b.el(parent, name), "FinInstnId")
    if bic:
        b.el(fin, bic_tag, bic)
    else:
        b.path(fin, "Othr/Id", "NOTPROVIDED")


def _remittance(b: _Builder, parent: ET.Element, payout: PayoutInstruction) -> None:
    rmt = b.el(parent, "RmtInf")
    b.el(rmt, "Ustrd", payout.remittance_text)
    if payout.invoice_reference:
        doc = b.el(b.el(rmt, "Strd"), "RfrdDocInf")
        b.path(doc, "Tp/CdOrPrtry/Cd", "CINV")
        b.el(doc, "Nb", payout.invoice_reference)


def _payment_type(b: _Builder, parent: ET.Element, batch: PaymentBatch) -> None:
    """PmtTpInf for a renminbi batch: the offshore (CNH) market as the local instrument; nothing otherwise."""
    if batch.currency == "CNH":
        b.path(b.el(parent, "PmtTpInf"), "LclInstrm/Prtry", offshore_renminbi_local_instrument)


def _iso_time(batch: PaymentBatch) -> str:
    return batch.created_at.replace(microsecond=0).isoformat()


def _pain001(batch: PaymentBatch, version: int) -> ET.Element:
    ns = _NAMESPACE.format(f"pain.001.001.{version:02d}")
    b = _Builder(ns)
    bic_tag = "BICFI" if version >= 4 else "BIC"
    decimals = currency_decimals(batch.currency)
    ccy = iso4217_code(batch.currency)  # one currency per batch (PaymentBatch checks it)
    root = ET.Element("Document", xmlns=ns)
    body = b.el(root, "CstmrCdtTrfInitn")
    hdr = b.el(body, "GrpHdr")
    b.el(hdr, "MsgId", batch.message_id)
    b.el(hdr, "CreDtTm", _iso_time(batch))
    b.el(hdr, "NbOfTxs", str(len(batch.payouts)))
    b.el(hdr, "CtrlSum", format_amount_minor(batch.control_sum_minor, decimals))
    b.path(hdr, "InitgPty/Nm", batch.debtor.name)
    pmt = b.el(body, "PmtInf")
    b.el(pmt, "PmtInfId", batch.message_id)
    b.el(pmt, "PmtMtd", "TRF")
    b.el(pmt, "BtchBookg", "false")
    b.el(pmt, "NbOfTxs", str(len(batch.payouts)))
    b.el(pmt, "CtrlSum", format_amount_minor(batch.control_sum_minor, decimals))
    _payment_type(b, pmt, batch)
    if version >= 8:
        b.path(pmt, "ReqdExctnDt/Dt", batch.execution_date.isoformat())
    else:
        b.el(pmt, "ReqdExctnDt", batch.execution_date.isoformat())
    b.path(pmt, "Dbtr/Nm", batch.debtor.name)
    _account(b, pmt, "DbtrAcct", batch.debtor.account, ccy)
    _agent(b, pmt, "DbtrAgt", batch.debtor.agent_bic, bic_tag)
    b.el(pmt, "ChrgBr", "DEBT")  # the issuer bears the charges: the holder receives par
    for p in batch.payouts:
        tx = b.el(pmt, "CdtTrfTxInf")
        pmt_id = b.el(tx, "PmtId")
        b.el(pmt_id, "InstrId", p.redemption_reference)
        b.el(pmt_id, "EndToEndId", p.redemption_reference)
        b.el(b.el(tx, "Amt"), "InstdAmt", format_amount_minor(p.amount_minor, decimals), Ccy=ccy)
        if p.creditor.agent_bic:
            _agent(b, tx, "CdtrAgt", p.creditor.agent_bic, bic_tag)
        b.path(tx, "Cdtr/Nm", p.creditor.name)
        _account(b, tx, "CdtrAcct", p.creditor.account)
        _remittance(b, tx, p)
    return root


def _pacs008(batch: PaymentBatch) -> ET.Element:
    ns = _NAMESPACE.format("pacs.008.001.08")
    b = _Builder(ns)
    decimals = currency_decimals(batch.currency)
    ccy = iso4217_code(batch.currency)  # one currency per batch (PaymentBatch checks it)
    root = ET.Element("Document", xmlns=ns)
    body = b.el(root, "FIToFICstmrCdtTrf")
    hdr = b.el(body, "GrpHdr")
    b.el(hdr, "MsgId", batch.message_id)
    b.el(hdr, "CreDtTm", _iso_time(batch))
    b.el(hdr, "NbOfTxs", str(len(batch.payouts)))
    b.el(hdr, "CtrlSum", format_amount_minor(batch.control_sum_minor, decimals))
    b.el(
        hdr, "TtlIntrBkSttlmAmt", format_amount_minor(batch.control_sum_minor, decimals), Ccy=ccy
    )
    b.el(hdr, "IntrBkSttlmDt", batch.execution_date.isoformat())
    b.path(hdr, "SttlmInf/SttlmMtd", "CLRG")
    _payment_type(b, hdr, batch)
    for p in batch.payouts:
        tx = b.el(body, "CdtTrfTxInf")
        pmt_id = b.el(tx, "PmtId")
        b.el(pmt_id, "InstrId", p.redemption_reference)
        b.el(pmt_id, "EndToEndId", p.redemption_reference)
        b.el(pmt_id, "TxId", p.redemption_reference)
        b.el(tx, "IntrBkSttlmAmt", format_amount_minor(p.amount_minor, decimals), Ccy=ccy)
        b.el(tx, "ChrgBr", "DEBT")
        b.path(tx, "Dbtr/Nm", batch.debtor.name)
        _account(b, tx, "DbtrAcct", batch.debtor.account)
        _agent(b, tx, "DbtrAgt", batch.debtor.agent_bic, "BICFI")
        _agent(b, tx, "CdtrAgt", p.creditor.agent_bic, "BICFI")
        b.path(tx, "Cdtr/Nm", p.creditor.name)
        _account(b, tx, "CdtrAcct", p.creditor.account)
        _remittance(b, tx, p)
    return root


def build_payment_xml(batch: PaymentBatch, scheme: PaymentScheme) -> bytes:
    """The file's bytes (UTF-8, with declaration), not yet validated."""
    if len(batch.payouts) > payouts_per_file_max:
        raise BankFileRejected(
            f"{len(batch.payouts)} payouts is more than {payouts_per_file_max} per file", code="batch_too_large"
        )
    pacs = scheme is PaymentScheme.PACS_008_001_08
    root = _pacs008(batch) if pacs else _pain001(batch, _BINDING[scheme][1])
    ET.indent(root, space="  ")
    # Serialise to str then encode: ElementTree's encoded writer is several times slower on big trees.
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")).encode()
    return data


# --- validation by reading back ------------------------------------------------------------------------


def _check_facets(obj: Any, path: str, errors: list[str], limit: int = 20) -> None:
    """Walk a binding object: string length and pattern facets of each field (xsdata does not check them)."""
    if len(errors) >= limit or obj is None:
        return
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_facets(item, f"{path}[{i}]", errors, limit)
        return
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        name = meta.get("name", f.name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str):
                if "max_length" in meta and len(v) > meta["max_length"]:
                    errors.append(f"{path}/{name}: {len(v)} characters, at most {meta['max_length']}")
                if "min_length" in meta and len(v) < meta["min_length"]:
                    errors.append(f"{path}/{name}: empty")
                if "pattern" in meta and not re.fullmatch(meta["pattern"], v):
                    errors.append(f"{path}/{name}: {v!r} does not match {meta['pattern']}")
            elif dataclasses.is_dataclass(v) or isinstance(v, list):
                _check_facets(v, f"{path}/{name}", errors, limit)


def _local_tags(root: ET.Element) -> list[str]:
    return [el.tag.rsplit("}", 1)[-1] for el in root.iter()]


def validate_payment_xml(data: bytes, scheme: PaymentScheme, batch: PaymentBatch) -> None:
    """Read the written file back through its schema binding; raise InvariantViolation if anything differs."""
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    kind, version = _BINDING[scheme]
    document_cls = binding_document(kind, version)
    full = len(batch.payouts) <= validate_full_transactions_max
    if not full:
        # Too big to read back whole: check the same batch cut to its first payouts, built by the same code.
        batch = dataclasses.replace(batch, payouts=batch.payouts[:validate_sample_transactions])
        data = build_payment_xml(batch, scheme)
    checked = data
    try:
        doc = schema_parse(checked, document_cls)
    except BankFileRejected as exc:
        raise InvariantViolation(f"written {scheme.value} does not read back: {exc.detail}") from None
    errors: list[str] = []
    _check_facets(doc, "Document", errors)
    if errors:
        raise InvariantViolation(f"written {scheme.value} breaks schema facets: {'; '.join(errors)}")
    again = XmlSerializer(config=SerializerConfig()).render(doc).encode()
    if _local_tags(DET.fromstring(again)) != _local_tags(DET.fromstring(checked)):
        raise InvariantViolation(f"written {scheme.value} has elements out of the schema's order")
    body = doc.fito_ficstmr_cdt_trf if kind == "pacs.008" else doc.cstmr_cdt_trf_initn
    decimals = currency_decimals(batch.currency)
    scale = Decimal(10) ** decimals
    if int(body.grp_hdr.nb_of_txs) != len(batch.payouts):
        raise InvariantViolation("written file: NbOfTxs differs from the batch")
    if body.grp_hdr.ctrl_sum * scale != batch.control_sum_minor:
        raise InvariantViolation("written file: CtrlSum differs from the batch")
    if kind == "pacs.008":
        txs = body.cdt_trf_tx_inf
        read = [(t.pmt_id.end_to_end_id, t.intr_bk_sttlm_amt.value, t.intr_bk_sttlm_amt.ccy) for t in txs]
    else:
        txs = [t for p in body.pmt_inf for t in p.cdt_trf_tx_inf]
        read = [(t.pmt_id.end_to_end_id, t.amt.instd_amt.value, t.amt.instd_amt.ccy) for t in txs]
    expected = batch.payouts
    if len(read) != len(expected):
        raise InvariantViolation("written file: transaction count differs from the batch")
    for (e2e, value, ccy), p in zip(read, expected, strict=True):
        if e2e != p.redemption_reference or ccy != iso4217_code(p.currency) or value * scale != p.amount_minor:
            raise InvariantViolation(f"written file: transaction {p.redemption_reference} reads back differently")


def write_payment(batch: PaymentBatch, scheme: PaymentScheme, *, validate: bool = True) -> tuple[bytes, str]:
    """(bytes, sha256 hex) of the payment file for a batch, validated by reading it back."""
    data = build_payment_xml(batch, scheme)
    if validate:
        validate_payment_xml(data, scheme, batch)
    return data, hashlib.sha256(data).hexdigest()


def issuer_party(name: str, account: str, bic: str | None = None, scheme: str = "IBAN") -> Party:
    """Convenience for configuration: the issuer's paying account."""
    return Party(name=name, account=AccountId(account, scheme), agent_bic=bic)
