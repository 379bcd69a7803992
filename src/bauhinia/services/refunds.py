"""Refunds: money sent back to whoever paid it (issue 21 item 1).

Two exceptions end this way every day: a bank receipt in suspense that belongs to nobody the issuer serves, and a
subscription held because it was paid from an account that is not the customer's verified one (or the customer
failed due diligence). Funds of unknown or wrong origin go back to their source, never on to someone else.

    request_refund   an operator asks (approval `refund`, a second person of treasury or compliance decides)
    execute_refund   the approved refund, in one transaction: the credit is claimed (status-checked: a mint run or
                     an assignment that took it first leaves nothing to refund), the refund recorded and the
                     reserve cash for it held (pending) against the liability it sat in
    write_refund_file  the pain.001 (or the rail's pacs.008) to the payer's account, written after the commit and
                     re-written identically after a crash (`recover_refunds`)
    settle_refund    the bank's statement shows the debit quoting the refund's end-to-end id: the held cash is
                     posted out (called by the bank-file booking, in its transaction)

The payer's account is what the bank's file gave for the credit (kept at booking); an operator gives it only when
the file gave none."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain.calendar import from_ns
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.issuance import Book, SubscriptionStatus
from bauhinia.domain.money import Currency
from bauhinia.services.issuance import IssuanceContext, _now, _t, payout_execution_date

REFUND_KIND = "refund"
SOURCES = ("suspense", "subscription")
REFUNDABLE_SUBSCRIPTION = (SubscriptionStatus.HELD.value, SubscriptionStatus.RECEIVED.value)


def refund_reference(fiat: Currency, seq: int) -> str:
    """The refund's end-to-end id: on the payment file and on the bank's debit that settles it."""
    return f"RFD-{fiat.value}-{seq:010d}"


def refund_reference_seq(texts: list[str], fiat: Currency) -> int | None:
    prefix = f"RFD-{fiat.value}-"
    for text in texts:
        for word in text.replace("/", " ").split():
            if word.startswith(prefix) and word[len(prefix):].isdigit():
                return int(word[len(prefix):])
    return None


def _source(ctx: IssuanceContext, source: str, seq: int) -> tuple[Any, Currency, int, str]:
    """(row, fiat, amount_minor, entry_key) of what is to be refunded, refusing one that cannot be."""
    if source == "suspense":
        row = next((r for r in ctx.store.suspense(None) if int(r.seq) == seq), None)
        if row is None:
            raise NotFoundError(f"no suspense credit {seq}", code="suspense_not_found")
        if row.status != "open":
            raise ConflictError(f"suspense credit {seq} is {row.status}", code="suspense_not_open")
    elif source == "subscription":
        row = ctx.store.subscription(seq)
        if row.status not in REFUNDABLE_SUBSCRIPTION or row.mint_batch is not None:
            raise ConflictError(f"subscription {seq} is {row.status}: only a received or held subscription that "
                                "no mint run has taken can be refunded", code="subscription_not_refundable")
    else:
        raise ValidationError(f"a refund is of a suspense credit or a subscription, not {source!r}",
                              code="bad_refund_source")
    return row, Currency(row.fiat), int(row.amount_minor), str(row.entry_key or "")


def request_refund(ctx: IssuanceContext, source: str, seq: int, reason: str, *, maker: str,
                   creditor: bnk.Party | None = None) -> str:
    """Ask a second person (approval `refund`) to send a suspense credit or a held subscription back to the
    account it came from; returns the approval id. `creditor` is needed only when the bank's file named no payer
    account for the credit."""
    if ctx.approvals is None:
        raise ValidationError("a refund needs the approvals service", code="approvals_not_wired")
    if len(reason.strip()) < 3:
        raise ValidationError("a refund needs its reason", code="reason_required")
    _row, fiat, amount_minor, entry_key = _source(ctx, source, seq)
    if creditor is None:
        payer = ctx.store.payer(entry_key) if entry_key else None
        if payer is None:
            raise ValidationError(f"the bank's file named no payer account for {source} {seq}: give the account "
                                  "to refund to (--to-name, --to-account)", code="payer_unknown")
        creditor = bnk.Party(str(payer.name), bnk.AccountId(str(payer.account), str(payer.scheme)))
    if not creditor.name.strip() or not creditor.account.value.strip():
        raise ValidationError("the account to refund to needs a holder name and an account",
                              code="bad_refund_account")
    sub = ctx.approvals.submit(REFUND_KIND, {
        "source": source, "seq": seq, "fiat": fiat.value, "amount_minor": amount_minor,
        "creditor_name": creditor.name[:140], "creditor_account": creditor.account.value[:64],
        "creditor_scheme": creditor.account.scheme[:35], "creditor_bic": creditor.agent_bic,
        "reason": reason.strip()[:500]}, maker=maker)
    return str(sub.request.id) if sub.request is not None else "executed"


def execute_refund(ctx: IssuanceContext, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The executor of an approved `refund`: claim, record, hold the reserve cash (one transaction), then write
    the payment file."""
    source, seq = str(params["source"]), int(params["seq"])
    row, fiat, amount_minor, _ = _source(ctx, source, seq)
    now = _now(ctx)
    execution = payout_execution_date(ctx, fiat, now)
    with ctx.store.unit_of_work(now) as uow:
        if source == "suspense":
            claimed = uow.move_suspense(seq, "open", "refunded")
            from_account = iss.book_account_id(fiat, Book.SUSPENSE)
        else:
            claimed = uow.move_subscription(seq, REFUNDABLE_SUBSCRIPTION, SubscriptionStatus.REFUNDED.value,
                                            f"refunded to the payer: {params.get('reason', '')}")
            from_account = iss.customer_account_id(ctx.store.customer(row.customer_id).seq, fiat)
        if not claimed:
            raise ConflictError(f"{source} {seq} was taken by another flow before the refund",
                                code="refund_source_taken")
        refund_seq = uow.next_seq("refunds")
        reference = refund_reference(fiat, refund_seq)
        uow.add_refund(dict(
            seq=refund_seq, source=source, source_seq=seq, fiat=fiat.value, amount_minor=amount_minor,
            creditor_name=str(params["creditor_name"]), creditor_account=str(params["creditor_account"]),
            creditor_scheme=str(params.get("creditor_scheme") or "OTHR"), creditor_bic=params.get("creditor_bic"),
            reason=str(params.get("reason", ""))[:500], approval_key=key[:120],
            message_id=f"BH-RF-{fiat.value}-{refund_seq:08d}", execution_date=execution.isoformat(),
            status="instructed"))
        uow.post(iss.refund_hold_entry(refund_seq, fiat, amount_minor, from_account, reference), "refund")
        transitions = [_t("refund", refund_seq, None, "instructed", now, ctx.actor, f"{source} {seq}")]
        if source == "subscription":
            transitions.append(_t("subscription", seq, row.status, "refunded", now, ctx.actor, reference))
        uow.record_transitions(transitions)
        uow.emit("refund.instructed", {"refund": refund_seq, "source": source, "seq": seq,
                                       "amount_minor": amount_minor, "fiat": fiat.value})
        uow.audit(ctx.actor, "refund.instructed", f"refund:{refund_seq}",
                  {"source": source, "seq": seq, "amount_minor": amount_minor, "fiat": fiat.value, "approval": key,
                   "creditor_account": str(params["creditor_account"]), "reason": params.get("reason")})
    written = write_refund_file(ctx, ctx.store.refund(refund_seq))
    return {"refund": refund_seq, "source": source, "seq": seq, "amount_minor": amount_minor, "file": written}


def write_refund_file(ctx: IssuanceContext, refund: Any) -> str:
    """Write (or re-write identically) the payment file of a committed refund, then mark it written."""
    fiat = Currency(refund.fiat)
    creditor = bnk.Party(str(refund.creditor_name), bnk.AccountId(str(refund.creditor_account),
                                                                  str(refund.creditor_scheme)), refund.creditor_bic)
    payment = bnk.PaymentBatch(
        message_id=str(refund.message_id), created_at=from_ns(int(refund.created_at_ns)), debtor=ctx.issuer[fiat],
        execution_date=date.fromisoformat(str(refund.execution_date)),
        payouts=(bnk.PayoutInstruction(redemption_reference=refund_reference(fiat, int(refund.seq)),
                                       amount_minor=int(refund.amount_minor), currency=fiat.value,
                                       creditor=creditor),))
    written = ctx.bank.write_payment_file(payment)
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        if uow.move_refund(int(refund.seq), ["instructed"], "written", file_name=str(written.name)[:200]):
            uow.emit("refund.file_written", {"refund": int(refund.seq), "file": written.name})
    return str(written.name)


def recover_refunds(ctx: IssuanceContext) -> int:
    """After a crash between the claim and the file: write every instructed refund's file (idempotent)."""
    pending = ctx.store.refunds(["instructed"])
    for r in pending:
        write_refund_file(ctx, r)
    return len(pending)


def settle_refund(ctx: IssuanceContext, uow: Any, seq: int, entry_key: str, amount_minor: int,
                  fiat: Currency) -> tuple[list[Any], list[Any]] | str:
    """Inside the bank file's transaction: the debit quoting refund `seq`. Returns (transfers, transitions) to
    book, or the reason it is not a refund the platform awaits (the caller raises an incident)."""
    try:
        r = ctx.store.refund(seq)
    except NotFoundError:
        return f"debit quotes {refund_reference(fiat, seq)}, which is no refund"
    if Currency(r.fiat) is not fiat or int(r.amount_minor) != amount_minor:
        return (f"debit of {amount_minor} {fiat.value} minor units quotes refund {seq} of {int(r.amount_minor)} "
                f"{r.fiat}")
    if not uow.move_refund(seq, ["instructed", "written"], "paid"):
        return f"debit quotes refund {seq}, which is {r.status} (no refund awaits settlement)"
    return (iss.refund_settled_entry(seq, refund_reference(fiat, seq)),
            [_t("refund", seq, r.status, "paid", _now(ctx), ctx.actor, entry_key)])
