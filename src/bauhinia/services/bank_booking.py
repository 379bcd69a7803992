"""Fiat in: ISO 20022 statements and notifications booked to subscriptions, suspense and settled payouts.

`ingest_bank_files` reads what the bank adapter hands over, books every entry once (a notification and the later
statement carry the same entry key) and acknowledges the file only after its booking committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain.issuance import RedemptionStatus, SubscriptionStatus
from bauhinia.domain.money import Currency
from bauhinia.faults import fault_point
from bauhinia.services import reserves as reserves_svc
from bauhinia.services.issuance import IssuanceContext, _now, _t


@dataclass
class IngestReport:
    files: int = 0
    subscriptions: int = 0
    suspense: int = 0
    payouts_settled: int = 0
    duplicate_entries: int = 0
    quarantined: list[tuple[str, str, str]] = field(default_factory=list)
    screened_out: list[Any] = field(default_factory=list)  # issuance_compliance.DebtorBlock: credits to suspense


def _texts(entry: bnk.BankEntry) -> list[str]:
    out = [entry.additional_info or "", entry.entry_reference or ""]
    for tx in entry.transactions:
        out.extend(tx.remittance_unstructured)
        out.extend(tx.creditor_references)
        out.append(tx.end_to_end_id or "")
    return [x for x in out if x]


def _file_problem(ctx: IssuanceContext, message: bnk.BankMessage) -> tuple[str, str] | None:
    for rep in message.reports:
        fiat = ctx.reserve_accounts.get(rep.account.value)
        if fiat is None:
            return "unknown_account", f"account {rep.account.value} is not one of the issuer's reserve accounts"
        for e in rep.entries:
            if bnk.domain_currency(e.currency) is not fiat:
                return "currency_mismatch", (f"entry {e.index} is in {e.currency} but account "
                                             f"{rep.account.value} holds {fiat.value}")
    return None


def ingest_bank_files(ctx: IssuanceContext, max_files: int = 100) -> IngestReport:
    """Read camt.054 / camt.053 files: book credits to customers (or suspense), settle payouts seen debited.
    A duplicate file, a file for an unknown account or in the wrong currency is quarantined and changes nothing;
    an entry already booked from another file (a notification and the later statement) is skipped."""
    report = IngestReport()
    for f in ctx.bank.read_inbound(max_files):
        if f.message is None:
            report.quarantined.append((f.name, f.rejection_code or "", f.rejection_reason or ""))
            continue
        problem = _file_problem(ctx, f.message)
        if problem is not None:
            ctx.bank.quarantine(f.name, *problem)
            report.quarantined.append((f.name, *problem))
            continue
        msg = f.message
        message_key = f"{msg.kind.value}:{msg.message_id}"
        now = _now(ctx)
        refs = ctx.store.deposit_references()
        blocked = {} if ctx.compliance is None else ctx.compliance.screen_debtors(
            msg, ctx.reserve_accounts, lambda e, refs=refs: iss.match_deposit_reference(_texts(e), refs))
        booked_out = len(report.screened_out)
        with ctx.store.unit_of_work(now) as uow:
            duplicate = uow.file_seen(f.content_hash, message_key)
            if not duplicate:
                _book_file(ctx, uow, f, msg, message_key, refs, now, report, blocked)
        if ctx.compliance is not None and len(report.screened_out) > booked_out:
            ctx.compliance.record_debtor_blocks(report.screened_out[booked_out:], now)  # alerts and cases
        reserves_svc.record_bank_statement(ctx.reserves, msg, ctx.reserve_accounts, now)  # reserves: CLBD kept
        if duplicate:
            ctx.bank.quarantine(f.name, "duplicate_statement",
                                f"{message_key} (or a file with the same content) was already processed")
            report.quarantined.append((f.name, "duplicate_statement", message_key))
            continue
        fault_point("bank.after_booking")
        ctx.bank.acknowledge(f.name)
        report.files += 1
    if report.files or report.quarantined:
        ctx.say(f"bank: {report.files} file(s) booked, {report.subscriptions} subscription(s), "
                f"{report.suspense} to suspense, {report.payouts_settled} payout(s) settled, "
                f"{report.duplicate_entries} entr(ies) already booked, {len(report.quarantined)} quarantined")
    return report


def _book_file(ctx: IssuanceContext, uow: Any, f: bnk.InboundFile, msg: bnk.BankMessage, message_key: str,
               refs: Mapping[str, str], now: int, report: IngestReport, blocked: Mapping[str, Any] | None = None
               ) -> None:
    entries = [(rep, e) for rep in msg.reports for e in rep.entries]
    known = uow.known_entries([e.entry_key for _, e in entries])
    customers = {c.id: c for c in ctx.store.customers()}
    sub_seq = uow.next_seq("subscriptions")
    sus_seq = uow.next_seq("suspense")
    entry_rows, sub_rows, sus_rows, transfers, transitions = [], [], [], [], []
    settled: list[tuple[int, str]] = []
    seen_now: set[str] = set()
    for rep, e in entries:
        if e.entry_key in known or e.entry_key in seen_now:
            report.duplicate_entries += 1
            continue
        if e.status != "BOOK" or e.reversal:
            continue  # only booked money counts; a pending entry is booked when it arrives as BOOK
        seen_now.add(e.entry_key)
        fiat = ctx.reserve_accounts[rep.account.value]
        row = dict(entry_key=e.entry_key, file_hash=f.content_hash, direction=e.credit_debit.value,
                   amount_minor=e.amount_minor, currency=fiat.value, outcome="ignored", flow_seq=None, detail=None)
        if e.credit_debit is bnk.CreditDebit.CREDIT:
            customer_id = iss.match_deposit_reference(_texts(e), refs)
            block = (blocked or {}).get(e.entry_key)
            if customer_id is not None and block is None:
                c = customers[customer_id]
                transfers += iss.deposit_entry(sub_seq, fiat, e.amount_minor, c.seq, f"sub:{sub_seq}")
                sub_rows.append(dict(seq=sub_seq, entry_key=e.entry_key, customer_id=c.id, fiat=fiat.value,
                                     amount_minor=e.amount_minor, fee_minor=0,
                                     status=SubscriptionStatus.RECEIVED.value, received_at_ns=now,
                                     updated_at_ns=now))
                transitions.append(_t("subscription", sub_seq, None, "received", now, ctx.actor, message_key))
                row.update(outcome="subscription", flow_seq=sub_seq)
                sub_seq += 1
                report.subscriptions += 1
            else:
                transfers += iss.suspense_entry(sus_seq, fiat, e.amount_minor, f"suspense:{sus_seq}")
                debtor = next((tx.debtor_name for tx in e.transactions if tx.debtor_name), None)
                sus_rows.append(dict(seq=sus_seq, entry_key=e.entry_key, fiat=fiat.value,
                                     amount_minor=e.amount_minor, debtor_name=(debtor or "")[:200],
                                     remittance=" | ".join(_texts(e))[:500], status="open", received_at_ns=now))
                row.update(outcome="suspense", flow_seq=sus_seq,
                           detail=block.reason[:300] if block else "no customer reference matched")
                if block is not None:
                    report.screened_out.append(block)
                sus_seq += 1
                report.suspense += 1
        else:
            seq = _payout_reference_seq(e, fiat)
            if seq is not None:
                settled.append((seq, e.entry_key))
                row.update(outcome="payout", flow_seq=seq)
        entry_rows.append(row)
    uow.record_file(f.content_hash, message_key, f.name, msg.kind.value, len(entries))
    uow.record_entries(entry_rows)
    uow.add_subscriptions(sub_rows)
    uow.add_suspense(sus_rows)
    for seq, _key in settled:
        r = ctx.store.redemption(seq)
        if r.status != RedemptionStatus.PAYOUT_INSTRUCTED.value:
            continue
        transfers += iss.payout_settled_entry(seq, f"rdm:{seq}")
        uow.update_redemption(seq, status=RedemptionStatus.PAID.value, paid_at_ns=now)
        transitions.append(_t("redemption", seq, r.status, "paid", now, ctx.actor, message_key))
        report.payouts_settled += 1
    if transfers:
        uow.post(transfers, "bank file")
    uow.record_transitions(transitions)
    if sub_rows:
        seqs = [r["seq"] for r in sub_rows]
        for k in range(0, len(seqs), 1_000):
            uow.emit("subscriptions.received", {"subscriptions": seqs[k : k + 1_000], "file": message_key})
    if sus_rows:
        uow.emit("operator.task", {"kind": "suspense_credits", "count": len(sus_rows), "file": message_key})
    uow.audit(ctx.actor, "bank.file_booked", f"bank_file:{f.content_hash[:16]}",
              {"message": message_key, "entries": len(entries), "subscriptions": len(sub_rows),
               "suspense": len(sus_rows), "payouts_settled": report.payouts_settled})


def _payout_reference_seq(entry: bnk.BankEntry, fiat: Currency) -> int | None:
    prefix = f"RDM-{fiat.value}-"
    for text in _texts(entry):
        for word in text.replace("/", " ").split():
            if word.startswith(prefix) and word[len(prefix):].isdigit():
                return int(word[len(prefix):])
    return None
