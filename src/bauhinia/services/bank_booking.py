"""Fiat in: ISO 20022 statements and notifications booked to subscriptions, suspense and settled payouts.

`ingest_bank_files` reads what the bank adapter hands over, books every entry once (a notification and the later
statement carry the same entry key) and acknowledges the file only after its booking committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import NotFoundError
from bauhinia.domain.issuance import RedemptionStatus, SubscriptionStatus
from bauhinia.domain.money import Currency
from bauhinia.faults import fault_point
from bauhinia.services import payout_returns as returns_svc
from bauhinia.services import refunds as refunds_svc
from bauhinia.services import reserves as reserves_svc
from bauhinia.services.issuance import PAYER_HOLD_PREFIX, IssuanceContext, _now, _t


@dataclass
class IngestReport:
    files: int = 0
    subscriptions: int = 0
    suspense: int = 0
    payouts_settled: int = 0
    refunds_settled: int = 0
    payouts_returned: int = 0  # payouts the payee's bank sent back: their redemptions are owed again
    bank_charges: int = 0  # the bank's own charges debited from the reserve account: booked as the issuer's expense
    duplicate_entries: int = 0
    batch_entries: int = 0  # entries booked detail by detail
    unexplained_movements: int = 0  # debits matching no payout, reversals: each an incident and an operator task
    incidents: list[str] = field(default_factory=list)  # incident ids opened by this run
    requeued: list[str] = field(default_factory=list)  # files read again from quarantine (they were still arriving)
    quarantined: list[tuple[str, str, str]] = field(default_factory=list)
    screened_out: list[Any] = field(default_factory=list)  # issuance_compliance.DebtorBlock: credits to suspense
    payer_holds: list[PayerHold] = field(default_factory=list)  # subscriptions held: payer is not the customer's


@dataclass(frozen=True, slots=True)
class PayerHold:
    """A credit quoting a customer's deposit reference, not paid from that customer's verified bank account: its
    subscription is held (never minted by the run) and a case is opened after the booking commits."""

    subscription_seq: int
    entry_key: str
    customer_id: str
    payer_name: str
    payer_account: str
    amount_minor: int
    fiat: Currency
    reason: str


def _norm_account(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def payer_problem(ctx: IssuanceContext, customer: iss.Customer, accounts: list[iss.VerifiedBankAccount],
                  part: bnk.BankEntry) -> str:
    """Why this credit is not from the customer's own verified bank account ("" when it is): the payer's account
    must be one of the customer's verified accounts and the payer's name that account's holder (the screening
    matcher's transliteration-aware comparison, through ctx.names)."""
    name = next((tx.debtor_name for tx in part.transactions if tx.debtor_name), None) or ""
    account = next((tx.debtor_account.value for tx in part.transactions if tx.debtor_account), None) or ""
    if not accounts:
        return f"customer {customer.id} has no verified bank account to receive deposits from"
    if not name.strip() or not account.strip():
        return "the bank gives no payer name and account for this credit"
    same = [a for a in accounts if _norm_account(a.account) == _norm_account(account)]
    if not same:
        return f"payer account ending {account[-4:]!r} is not a verified account of customer {customer.id}"
    if not any(ctx.names.same_party(name, a.holder_name) for a in same):
        return f"payer {name!r} is not the holder of customer {customer.id}'s verified account"
    return ""


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


def ingest_bank_files(ctx: IssuanceContext, max_files: int = 100,
                      progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """Read camt.052 / camt.053 / camt.054 files: book credits to customers (or suspense), settle payouts seen
    debited. A duplicate file, a file for an unknown account or in the wrong currency is quarantined and changes
    nothing; an entry already booked from another file (a notification and the later statement) is skipped.
    A batch entry is booked detail by detail. A debit matching no payout and a reversal open an incident (once,
    by entry key) and an operator task; a quarantined file (other than a duplicate) raises an operator task.
    `progress(entries_done, entries_total)`, when given, is told after each entry and each file (a progress bar)."""
    report = IngestReport()
    inbound = ctx.bank.read_inbound(max_files)
    if inbound:
        _open_charge_books(ctx)
    sizes = [sum(len(r.entries) for r in f.message.reports) if f.message is not None else 0 for f in inbound]
    total, done = sum(sizes), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    before = 0
    for f, size in zip(inbound, sizes, strict=True):
        _ingest_one(ctx, f, report, tick)
        before += size
        done = before  # a file quarantined or seen before counts through without its entries' ticks
        if progress is not None:
            progress(done, total)
    if report.files or report.quarantined:
        ctx.say(f"bank: {report.files} file(s) booked, {report.subscriptions} subscription(s), "
                f"{report.suspense} to suspense, {report.payouts_settled} payout(s) settled, "
                + (f"{report.payouts_returned} payout(s) returned, " if report.payouts_returned else "")
                + (f"{report.bank_charges} bank charge(s), " if report.bank_charges else "")
                + f"{report.duplicate_entries} entr(ies) already booked, {len(report.quarantined)} quarantined"
                + (f", {report.unexplained_movements} unexplained movement(s) (incidents)"
                   if report.unexplained_movements else ""))
    return report


def _open_charge_books(ctx: IssuanceContext) -> None:
    """The bank-charges expense book of every reserve currency (a ledger opened before it existed lacks it);
    idempotent, outside the file's transaction."""
    books = [a for fiat in set(ctx.reserve_accounts.values()) for a in iss.issuer_accounts(fiat)
             if a.code == int(iss.Book.BANK_CHARGES)]
    iss.require_ok(ctx.store.ledger.create_accounts(books), "bank charges book")


def _ingest_one(ctx: IssuanceContext, f: bnk.InboundFile, report: IngestReport, tick: Callable[[], None]) -> None:
    """Take in one inbound file: quarantine it, or book its entries in one unit of work and acknowledge it."""
    if f.requeued:
        report.requeued.append(f.name)
        _operator_task(ctx, {"kind": "bank_file_requeued", "file": f.name,
                             "reason": "quarantined while still arriving; it changed since and is read again"})
    if f.message is None:
        _quarantined(ctx, report, f.name, f.rejection_code or "", f.rejection_reason or "")
        return
    problem = _file_problem(ctx, f.message)
    if problem is not None:
        ctx.bank.quarantine(f.name, *problem)
        _quarantined(ctx, report, f.name, *problem)
        return
    msg = f.message
    message_key = f"{msg.kind.value}:{msg.message_id}"
    now = _now(ctx)
    refs = ctx.store.deposit_references()
    blocked = {} if ctx.compliance is None else ctx.compliance.screen_debtors(
        _booking_view(msg), ctx.reserve_accounts,
        lambda e, refs=refs: iss.match_deposit_reference(_texts(e), refs))
    booked_out = len(report.screened_out)
    held_before = len(report.payer_holds)
    alerts: list[_Alert] = []
    with ctx.store.unit_of_work(now) as uow:
        duplicate = uow.file_seen(f.content_hash, message_key)
        if not duplicate:
            alerts = _book_file(ctx, uow, f, msg, message_key, refs, now, report, blocked, tick)
    if ctx.compliance is not None and len(report.screened_out) > booked_out:
        ctx.compliance.record_debtor_blocks(report.screened_out[booked_out:], now)  # alerts and cases
    if ctx.compliance is not None and len(report.payer_holds) > held_before:
        ctx.compliance.record_payer_holds(report.payer_holds[held_before:], now)  # alerts and cases
    report.incidents += _open_incidents(ctx, alerts, message_key, now)
    reserves_svc.record_bank_statement(ctx.reserves, msg, ctx.reserve_accounts, now)  # reserves: CLBD kept
    if duplicate:
        ctx.bank.quarantine(f.name, "duplicate_statement",
                            f"{message_key} (or a file with the same content) was already processed")
        report.quarantined.append((f.name, "duplicate_statement", message_key))
        return
    fault_point("bank.after_booking")
    ctx.bank.acknowledge(f.name)
    report.files += 1


def _operator_task(ctx: IssuanceContext, payload: dict[str, Any]) -> None:
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.emit("operator.task", payload)


def _quarantined(ctx: IssuanceContext, report: IngestReport, name: str, code: str, reason: str) -> None:
    """A file set aside raises an operator task at once: a bank file in quarantine may hold money never booked."""
    report.quarantined.append((name, code, reason))
    _operator_task(ctx, {"kind": "bank_file_quarantined", "file": name, "code": code, "reason": reason[:300]})


@dataclass(frozen=True, slots=True)
class _Alert:
    """A reserve-account movement no flow explains: an incident and an operator task after the booking."""

    key: str  # the entry key, or the part key of a batch detail
    kind: str  # unmatched_debit | reversal | payout_not_instructed
    fiat: Currency
    amount_minor: int
    direction: str
    reason: str
    texts: tuple[str, ...]
    bank_transaction_code: str | None


def _booking_view(msg: bnk.BankMessage) -> bnk.BankMessage:
    """The message with every batch entry split into its parts (what screening looks at: each payer)."""
    reports = []
    for rep in msg.reports:
        entries: list[bnk.BankEntry] = []
        for e in rep.entries:
            try:
                entries.extend(bnk.entry_parts(e))
            except bnk.BatchMismatch:
                entries.append(e)
        reports.append(replace(rep, entries=tuple(entries)))
    return replace(msg, reports=tuple(reports))


def _with_fx(text: str | None, entry: bnk.BankEntry) -> str | None:
    notes = entry.fx_notes
    if not notes:
        return text
    fx = "FX: " + "; ".join(notes)
    return (f"{text}; {fx}" if text else fx)[:300]


def _book_file(ctx: IssuanceContext, uow: Any, f: bnk.InboundFile, msg: bnk.BankMessage, message_key: str,
               refs: Mapping[str, str], now: int, report: IngestReport, blocked: Mapping[str, Any] | None = None,
               tick: Callable[[], None] | None = None) -> list[_Alert]:
    """Book one file's entries. A batch entry (several transaction details) is booked detail by detail, each
    under its own part key; one whose details do not add up goes to suspense whole. Returns the movements an
    operator must look at (debits matching no payout, reversals), for incidents after the commit."""
    entries = [(rep, e) for rep in msg.reports for e in rep.entries]
    known = uow.known_entries([e.entry_key for _, e in entries])
    customers = {c.id: c for c in ctx.store.customers()}
    # with compliance wired, a credit is minted only when paid from the customer's verified bank account
    check_payer = ctx.compliance is not None and ctx.names is not None
    accounts: dict[str, list[iss.VerifiedBankAccount]] = {}
    if check_payer:
        for a in ctx.store.bank_accounts():
            accounts.setdefault(a.customer_id, []).append(a)
    sub_seq = uow.next_seq("subscriptions")
    sus_seq = uow.next_seq("suspense")
    entry_rows, sub_rows, sus_rows, transfers, transitions = [], [], [], [], []
    payer_rows: list[dict[str, Any]] = []  # who paid each credit (a refund goes back there)
    settled: list[tuple[int, str, bnk.BankEntry, Currency]] = []
    returned: list[tuple[int, bnk.BankEntry, Currency, dict[str, Any]]] = []  # payouts sent back, booked below
    alerts: list[_Alert] = []
    seen_now: set[str] = set()
    for rep, e in entries:
        if tick is not None:
            tick()
        if e.entry_key in known or e.entry_key in seen_now:
            report.duplicate_entries += 1
            continue
        if e.status != "BOOK":
            continue  # only booked money counts; a pending entry is booked when it arrives as BOOK
        seen_now.add(e.entry_key)
        fiat = ctx.reserve_accounts[rep.account.value]
        row: dict[str, Any] = dict(entry_key=e.entry_key, file_hash=f.content_hash, direction=e.credit_debit.value,
                                   amount_minor=e.amount_minor, currency=fiat.value, outcome="ignored",
                                   flow_seq=None, detail=None)
        entry_rows.append(row)
        if e.reversal:  # the bank takes back an earlier booking: a person decides what it undoes
            row["detail"] = _with_fx(f"reversal ({e.credit_debit.value}): left to an operator", e)
            alerts.append(_Alert(e.entry_key, "reversal", fiat, e.amount_minor, e.credit_debit.value,
                                 "the bank reversed an earlier booking (RvslInd)", tuple(_texts(e)),
                                 e.bank_transaction_code))
            continue
        mismatch: str | None = None
        try:
            parts = bnk.entry_parts(e)
        except bnk.BatchMismatch as exc:
            parts, mismatch = (e,), exc.detail
        if e.is_batch and mismatch is None:
            report.batch_entries += 1
        booked: list[str] = []
        if e.credit_debit is bnk.CreditDebit.CREDIT:
            for part in parts:
                if part.amount_minor == 0:  # the ledger books no zero amount: nothing moved
                    booked.append("zero amount")
                    row["detail"] = row["detail"] or "zero amount: nothing to book"
                    continue
                payer_tx = next((tx for tx in part.transactions if tx.debtor_name and tx.debtor_account), None)
                if payer_tx is not None and payer_tx.debtor_account is not None:
                    payer_rows.append(dict(entry_key=part.entry_key[:80], name=(payer_tx.debtor_name or "")[:140],
                                           account=payer_tx.debtor_account.value[:64],
                                           scheme=payer_tx.debtor_account.scheme[:35]))
                if part.is_return and not mismatch:
                    returned_seq = _payout_reference_seq(part, fiat)
                    if returned_seq is not None:  # booked after the payouts this file settles (same-day return)
                        returned.append((returned_seq, part, fiat, row))
                        booked.append(f"return of payout {returned_seq}")
                        row.update(outcome="payout_return", flow_seq=returned_seq,
                                   detail=_with_fx(f"returned: {part.return_reason}", part))
                        continue
                customer_id = None if mismatch else iss.match_deposit_reference(_texts(part), refs)
                block = (blocked or {}).get(part.entry_key)
                if customer_id is not None and block is None:
                    c = customers[customer_id]
                    transfers += iss.deposit_entry(sub_seq, fiat, part.amount_minor, c.seq, f"sub:{sub_seq}")
                    payer = payer_problem(ctx, c, accounts.get(c.id, []), part) if check_payer else ""
                    sub_rows.append(dict(seq=sub_seq, entry_key=part.entry_key, customer_id=c.id, fiat=fiat.value,
                                         amount_minor=part.amount_minor, fee_minor=0,
                                         status=SubscriptionStatus.RECEIVED.value, received_at_ns=now,
                                         updated_at_ns=now, reason=None))
                    transitions.append(_t("subscription", sub_seq, None, "received", now, ctx.actor, message_key))
                    if payer:
                        reason = (PAYER_HOLD_PREFIX + payer)[:300]
                        sub_rows[-1].update(status=SubscriptionStatus.HELD.value, reason=reason)
                        transitions.append(_t("subscription", sub_seq, "received", "held", now, ctx.actor, reason))
                        debtor = next((tx for tx in part.transactions if tx.debtor_name or tx.debtor_account), None)
                        report.payer_holds.append(PayerHold(
                            sub_seq, part.entry_key, c.id, (debtor.debtor_name or "") if debtor else "",
                            debtor.debtor_account.value if debtor and debtor.debtor_account else "",
                            part.amount_minor, fiat, reason))
                    booked.append(f"subscription {sub_seq}")
                    row.update(outcome="subscription", flow_seq=sub_seq, detail=_with_fx(None, part))
                    sub_seq += 1
                    report.subscriptions += 1
                else:
                    transfers += iss.suspense_entry(sus_seq, fiat, part.amount_minor, f"suspense:{sus_seq}")
                    debtor = next((tx.debtor_name for tx in part.transactions if tx.debtor_name), None)
                    why = (f"batch entry not split: {mismatch}" if mismatch else
                           block.reason if block else "no customer reference matched")
                    remittance = " | ".join([*_texts(part), *part.fx_notes])
                    sus_rows.append(dict(seq=sus_seq, entry_key=part.entry_key, fiat=fiat.value,
                                         amount_minor=part.amount_minor, debtor_name=(debtor or "")[:200],
                                         remittance=remittance[:500], status="open", received_at_ns=now))
                    booked.append(f"suspense {sus_seq}")
                    if row["outcome"] != "subscription":
                        row.update(outcome="suspense", flow_seq=sus_seq, detail=_with_fx(why[:300], part))
                    if block is not None:
                        report.screened_out.append(block)
                    sus_seq += 1
                    report.suspense += 1
        else:
            for part in parts:
                if part.amount_minor == 0:
                    booked.append("zero amount")
                    row["detail"] = row["detail"] or "zero amount: nothing to book"
                    continue
                seq = None if mismatch else _payout_reference_seq(part, fiat)
                refund = None if mismatch or seq is not None else refunds_svc.refund_reference_seq(_texts(part), fiat)
                if refund is not None:
                    settled_refund = refunds_svc.settle_refund(ctx, uow, refund, part.entry_key, part.amount_minor,
                                                               fiat)
                    if isinstance(settled_refund, str):
                        alerts.append(_Alert(part.entry_key, "refund_not_instructed", fiat, part.amount_minor,
                                             e.credit_debit.value, settled_refund, tuple(_texts(part)),
                                             e.bank_transaction_code))
                        booked.append("unmatched")
                        if row["outcome"] == "ignored":
                            row["detail"] = _with_fx(settled_refund[:300], part)
                        continue
                    transfers += settled_refund[0]
                    transitions += settled_refund[1]
                    booked.append(f"refund {refund}")
                    row.update(outcome="refund", flow_seq=refund)
                    report.refunds_settled += 1
                    continue
                if seq is not None:
                    settled.append((seq, part.entry_key, part, fiat))
                    booked.append(f"payout {seq}")
                    row.update(outcome="payout", flow_seq=seq)
                    continue
                if not mismatch and _is_charge(part):
                    # the bank's own fee: the issuer's expense, out of its own money; still shown to a person
                    transfers += iss.bank_charge_entry(fiat, part.amount_minor, part.entry_key,
                                                       f"bank charge {part.entry_key}")
                    booked.append("bank charge")
                    row.update(outcome="charge", detail=_with_fx(
                        f"bank charge ({part.bank_transaction_code}) booked as an expense", part))
                    alerts.append(_Alert(part.entry_key, "bank_charge", fiat, part.amount_minor, e.credit_debit.value,
                                         "the bank debited its charges (booked to the issuer's bank charges)",
                                         tuple(_texts(part)), part.bank_transaction_code))
                    report.bank_charges += 1
                    continue
                why = (f"batch debit not split: {mismatch}" if mismatch else
                       f"debit of {part.amount_minor} {fiat.value} minor units matches no payout "
                       f"(no {_payout_prefix(fiat)}<seq> reference)")
                alerts.append(_Alert(part.entry_key, "unmatched_debit", fiat, part.amount_minor,
                                     e.credit_debit.value, why, tuple(_texts(part)), e.bank_transaction_code))
                booked.append("unmatched")
                if row["outcome"] == "ignored":
                    row["detail"] = _with_fx(why[:300], part)
        if e.is_batch and mismatch is None:
            row.update(flow_seq=None, detail=_with_fx(
                (f"batch of {len(parts)}: " + ", ".join(booked))[:300], e))
    for seq, key, part, fiat in settled:
        try:
            r = ctx.store.redemption(seq)
        except NotFoundError:
            r = None
        if r is None or r.status != RedemptionStatus.PAYOUT_INSTRUCTED.value:
            state = "unknown" if r is None else r.status
            alerts.append(_Alert(key, "payout_not_instructed", fiat, part.amount_minor, part.credit_debit.value,
                                 f"debit quotes {_payout_prefix(fiat)}{seq}, a redemption that is {state} "
                                 "(no payout awaits settlement)", tuple(_texts(part)), part.bank_transaction_code))
            continue
        # the hold of the burn attempt that was paid out (a burn reversed after a reorganisation and burned
        # again holds under its new attempt's id)
        burns = uow.transitions_into("redemption", [seq], "burned")[seq]
        transfers += iss.payout_settled_entry(seq, f"rdm:{seq}", attempt=max(0, burns - 1))
        uow.update_redemption(seq, status=RedemptionStatus.PAID.value, paid_at_ns=now)
        transitions.append(_t("redemption", seq, r.status, "paid", now, ctx.actor, message_key))
        report.payouts_settled += 1
    for seq, part, fiat, row in returned:
        got = returns_svc.book_return(ctx, uow, seq, part.amount_minor, fiat, part.entry_key,
                                      part.return_reason or "NARR", _return_info(part))
        if not isinstance(got, str):
            transfers += got[0]
            transitions += got[1]
            report.payouts_returned += 1
            continue
        # money came back that fits no paid payout: it is the reserve's, in suspense, for a person to decide
        transfers += iss.suspense_entry(sus_seq, fiat, part.amount_minor, f"suspense:{sus_seq}")
        sus_rows.append(dict(seq=sus_seq, entry_key=part.entry_key, fiat=fiat.value, amount_minor=part.amount_minor,
                             debtor_name=next((tx.debtor_name for tx in part.transactions if tx.debtor_name), "")[:200],
                             remittance=" | ".join(_texts(part))[:500], status="open", received_at_ns=now))
        if row["flow_seq"] == seq and row["outcome"] == "payout_return":
            row.update(outcome="suspense", flow_seq=sus_seq, detail=got[:300])
        alerts.append(_Alert(part.entry_key, "return_unmatched", fiat, part.amount_minor, part.credit_debit.value,
                             got, tuple(_texts(part)), part.bank_transaction_code))
        sus_seq += 1
        report.suspense += 1
    uow.record_file(f.content_hash, message_key, f.name, msg.kind.value, len(entries))
    uow.record_entries(entry_rows)
    uow.add_subscriptions(sub_rows)
    uow.add_suspense(sus_rows)
    uow.record_payers(payer_rows)
    if transfers:
        uow.post(transfers, "bank file")
    uow.record_transitions(transitions)
    if sub_rows:
        seqs = [r["seq"] for r in sub_rows]
        for k in range(0, len(seqs), 1_000):
            uow.emit("subscriptions.received", {"subscriptions": seqs[k : k + 1_000], "file": message_key})
    if sus_rows:
        uow.emit("operator.task", {"kind": "suspense_credits", "count": len(sus_rows), "file": message_key})
    if alerts:
        uow.emit("operator.task", {
            "kind": "reserve_movements_unexplained", "count": len(alerts), "file": message_key,
            "entries": [{"entry": a.key, "kind": a.kind, "direction": a.direction, "amount_minor": a.amount_minor,
                         "fiat": a.fiat.value, "reason": a.reason} for a in alerts[:100]]})
    report.unexplained_movements += len(alerts)
    uow.audit(ctx.actor, "bank.file_booked", f"bank_file:{f.content_hash[:16]}",
              {"message": message_key, "entries": len(entries), "subscriptions": len(sub_rows),
               "suspense": len(sus_rows), "payouts_settled": report.payouts_settled,
               "unexplained": len(alerts)})
    return alerts


def incident_id_for(key: str) -> str:
    """The incident of an unexplained movement: derived from its entry (or part) key, so re-reading the file, or
    the statement that repeats a notification's entry, never opens a second one."""
    return f"bank-{key}"[:64]


def _open_incidents(ctx: IssuanceContext, alerts: list[_Alert], message_key: str, now: int) -> list[str]:
    if not alerts:
        return []
    existing = {i.incident_id for i in ctx.reserves.list_incidents()}
    opened: list[str] = []
    for a in alerts:
        incident_id = incident_id_for(a.key)
        if incident_id in existing:
            continue
        what = {"unmatched_debit": "debit matching no payout", "reversal": "reversal by the bank",
                "payout_not_instructed": "debit quoting a payout not awaiting settlement",
                "refund_not_instructed": "debit quoting a refund not awaiting settlement",
                "return_unmatched": "returned payment matching no paid payout (booked to suspense)",
                "bank_charge": "bank charge (booked as the issuer's expense)"}[a.kind]
        try:
            _open_incident(ctx, a, incident_id, what, message_key, now)
        except Exception:
            if incident_id not in {i.incident_id for i in ctx.reserves.list_incidents()}:
                raise
            continue  # another runner opened it first
        existing.add(incident_id)
        opened.append(incident_id)
    return opened


def _open_incident(ctx: IssuanceContext, a: _Alert, incident_id: str, what: str, message_key: str, now: int) -> None:
    reserves_svc.open_incident(
        ctx.reserves, incident_id=incident_id, coin=a.fiat.coin, kind="reconciliation_break",
        summary=(f"reserve account {what}: {a.direction} {a.amount_minor} {a.fiat.value} minor units "
                 f"({message_key})"),
        details={"entry": a.key, "movement": a.kind, "direction": a.direction, "amount_minor": a.amount_minor,
                 "fiat": a.fiat.value, "reason": a.reason, "file": message_key,
                 "bank_transaction_code": a.bank_transaction_code, "texts": list(a.texts)[:10]},
        now_ns=now, severity={"reversal": "medium", "bank_charge": "low"}.get(a.kind, "high"))


def _is_charge(entry: bnk.BankEntry) -> bool:
    """A debit the bank coded as its charges: sub-family CHRG (e.g. ACMT/MDOP/CHRG, PMNT/MDOP/CHRG)."""
    return (entry.bank_transaction_code or "").upper().endswith("/CHRG")


def _return_info(entry: bnk.BankEntry) -> str | None:
    return next((tx.return_info for tx in entry.transactions if tx.return_info), None)


def _payout_prefix(fiat: Currency) -> str:
    return f"RDM-{fiat.value}-"


def _payout_reference_seq(entry: bnk.BankEntry, fiat: Currency) -> int | None:
    prefix = _payout_prefix(fiat)
    for text in _texts(entry):
        for word in text.replace("/", " ").split():
            if word.startswith(prefix) and word[len(prefix):].isdigit():
                return int(word[len(prefix):])
    return None
