"""A bank's side, simulated: writes the camt.054 credit notifications and camt.053 statements a Hong Kong bank
would send for the issuer's reserve account (version 001.08), for the demo, the benchmark and the tests.

The documents follow the camt schemas (element order, namespaces); the parser reads them like any bank's.
An entry can be a batch booking (`parts`: one transaction detail each, like a collective credit), carry an FX leg
(`instructed`: the payer's amount and currency with the rate applied) or be a reversal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

NS = "urn:iso:std:iso:20022:tech:xsd:{kind}.001.08"


@dataclass(frozen=True, slots=True)
class SimFx:
    """An FX leg: what the payer instructed (minor units of its currency) and the rate the bank applied."""

    amount_minor: int
    currency: str
    rate: str


@dataclass(frozen=True, slots=True)
class SimPart:
    """One transaction detail of a batch entry."""

    amount_minor: int
    servicer_reference: str
    remittance: str = ""
    debtor_name: str = ""
    debtor_account: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    instructed: SimFx | None = None
    return_reason: str = ""  # a payment sent back: its ISO return reason code (AC04, AC01, ...)


@dataclass(frozen=True, slots=True)
class SimEntry:
    amount_minor: int
    credit: bool
    servicer_reference: str
    remittance: str = ""
    debtor_name: str = ""
    debtor_account: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    parts: tuple[SimPart, ...] = ()  # a batch booking: the entry's amount is written as given (tests break sums)
    instructed: SimFx | None = None
    reversal: bool = False
    return_reason: str = ""  # a payout the payee's bank sent back (RtrInf/Rsn/Cd); its bank code is .../RRTN
    bank_code: tuple[str, str, str] | None = None  # (domain, family, sub-family), default PMNT/RCDT|ICDT/ESCT


def _amount(minor: int) -> str:
    whole, frac = divmod(minor, 100)
    return f"{whole}.{frac:02d}"


def _tx(p: SimPart, ccy: str, cd: str, credit: bool) -> str:
    party = ""
    if p.debtor_name and credit:
        acct = (f"<DbtrAcct><Id><Othr><Id>{escape(p.debtor_account)}</Id></Othr></Id></DbtrAcct>"
                if p.debtor_account else "")
        party = f"<RltdPties><Dbtr><Pty><Nm>{escape(p.debtor_name)}</Nm></Pty></Dbtr>{acct}</RltdPties>"
    rmt = f"<RmtInf><Ustrd>{escape(p.remittance)}</Ustrd></RmtInf>" if p.remittance else ""
    fx = ""
    if p.instructed is not None:
        i = p.instructed
        fx = (f'<AmtDtls><InstdAmt><Amt Ccy="{i.currency}">{_amount(i.amount_minor)}</Amt>'
              f"<CcyXchg><SrcCcy>{i.currency}</SrcCcy><TrgtCcy>{ccy}</TrgtCcy><XchgRate>{i.rate}</XchgRate>"
              f'</CcyXchg></InstdAmt><TxAmt><Amt Ccy="{ccy}">{_amount(p.amount_minor)}</Amt></TxAmt></AmtDtls>')
    rtr = (f"<RtrInf><Rsn><Cd>{escape(p.return_reason)}</Cd></Rsn><AddtlInf>returned by the payee's bank"
           "</AddtlInf></RtrInf>") if p.return_reason else ""
    return (
        f"<TxDtls><Refs><AcctSvcrRef>{escape(p.servicer_reference)}</AcctSvcrRef>"
        f"<EndToEndId>{escape(p.end_to_end_id)}</EndToEndId></Refs>"
        f'<Amt Ccy="{ccy}">{_amount(p.amount_minor)}</Amt><CdtDbtInd>{cd}</CdtDbtInd>{fx}'
        f"{party}{rmt}{rtr}</TxDtls>"
    )


def _entry(e: SimEntry, ccy: str, day: str) -> str:
    cd = "CRDT" if e.credit else "DBIT"
    default = ("PMNT", "ICDT", "RRTN") if e.return_reason else ("PMNT", "RCDT" if e.credit else "ICDT", "ESCT")
    domain, fam, sub = e.bank_code or default
    parts = e.parts or (SimPart(e.amount_minor, e.servicer_reference, e.remittance, e.debtor_name,
                                e.debtor_account, e.end_to_end_id, e.instructed, e.return_reason),)
    details = "".join(_tx(p, ccy, cd, e.credit) for p in parts)
    return (
        f'<Ntry><NtryRef>{escape(e.servicer_reference)}</NtryRef><Amt Ccy="{ccy}">{_amount(e.amount_minor)}</Amt>'
        f"<CdtDbtInd>{cd}</CdtDbtInd><RvslInd>{'true' if e.reversal else 'false'}</RvslInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(e.servicer_reference)}</AcctSvcrRef>"
        f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{fam}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{details}</NtryDtls></Ntry>"
    )


def _account(account: str, ccy: str, owner: str) -> str:
    return (f"<Acct><Id><Othr><Id>{escape(account)}</Id></Othr></Id><Ccy>{ccy}</Ccy>"
            f"<Ownr><Nm>{escape(owner)}</Nm></Ownr></Acct>")


def camt054(message_id: str, created_at: datetime, account: str, ccy: str, entries: Sequence[SimEntry],
            owner: str = "Bauhinia Issuer Ltd") -> bytes:
    """A credit (and debit) notification for one account."""
    ts = created_at.isoformat(timespec="seconds")
    day = created_at.date().isoformat()
    body = "".join(_entry(e, ccy, day) for e in entries)
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS.format(kind="camt.054")}">'
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>{ts}</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>{escape(message_id)}-1</Id><CreDtTm>{ts}</CreDtTm>{_account(account, ccy, owner)}{body}"
        "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"
    )
    return doc.encode()


def camt053(message_id: str, created_at: datetime, account: str, ccy: str, opening_minor: int,
            entries: Sequence[SimEntry], sequence: int = 1, owner: str = "Bauhinia Issuer Ltd") -> bytes:
    """An end-of-day statement: opening balance, entries, closing balance."""
    ts = created_at.isoformat(timespec="seconds")
    day = created_at.date().isoformat()
    closing = opening_minor + sum(e.amount_minor if e.credit else -e.amount_minor for e in entries)

    def bal(code: str, minor: int) -> str:
        cd = "CRDT" if minor >= 0 else "DBIT"
        return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{_amount(abs(minor))}</Amt>'
                f"<CdtDbtInd>{cd}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")

    body = "".join(_entry(e, ccy, day) for e in entries)
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS.format(kind="camt.053")}">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>{ts}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{escape(message_id)}-1</Id><ElctrncSeqNb>{sequence}</ElctrncSeqNb><CreDtTm>{ts}</CreDtTm>"
        f"{_account(account, ccy, owner)}{bal('OPBD', opening_minor)}{bal('CLBD', closing)}{body}"
        "</Stmt></BkToCstmrStmt></Document>\n"
    )
    return doc.encode()
