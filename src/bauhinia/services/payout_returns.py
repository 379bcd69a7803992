"""Returned payouts: the payee's bank sends a redemption's payout back (account closed, wrong account number...).

The holder has no coins (they were burned) and no money: the payout is owed again. The platform books the money
that came back and reopens the redemption; an operator names the account to pay (one of the customer's verified
accounts) and a second person agrees (approval `payout_retry`); the redemption then goes through the payout run
again, as a new payout attempt with its own ledger ids.

    book_return         inside the bank file's transaction: a credit with a return reason quoting RDM-<ccy>-<seq>
                        of a paid redemption, of the amount paid: reserve cash up, the payout owed again
                        (payable up); paid -> payout_returned, status-checked
    request_payout_retry  the maker's ask; returns the approval id
    execute_payout_retry  the approved retry: payout_returned -> burned (status-checked) with the account to pay,
                        and the reserve cash held for the new attempt; the next payout run instructs it

A return that does not fit (no such redemption, not paid, another amount) is booked to suspense by the caller and
raises an incident: money came in, a person decides what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bauhinia.domain import issuance as iss
from bauhinia.domain.errors import ConflictError, NotFoundError, ValidationError
from bauhinia.domain.issuance import RedemptionStatus
from bauhinia.domain.money import Currency
from bauhinia.services.issuance import IssuanceContext, _now, _t, payout_reference

PAYOUT_RETRY_KIND = "payout_retry"


def book_return(ctx: IssuanceContext, uow: Any, seq: int, amount_minor: int, fiat: Currency, entry_key: str,
                reason_code: str, info: str | None) -> tuple[list[Any], list[Any]] | str:
    """The bank's credit returning redemption `seq`'s payout. Returns (transfers, transitions) to book in the
    file's transaction, or why it is not a payout return the platform can book (the caller books it to
    suspense and opens an incident)."""
    try:
        r = ctx.store.redemption(seq)
    except NotFoundError:
        return f"return quotes {payout_reference(fiat, seq)}, which is no redemption"
    paid = int(r.amount_minor) - int(r.fee_minor)
    if Currency(r.fiat) is not fiat or paid != amount_minor:
        return (f"return of {amount_minor} {fiat.value} minor units quotes redemption {seq}, paid out "
                f"{paid} {r.fiat}")
    returns = uow.transitions_into("redemption", [seq], RedemptionStatus.PAYOUT_RETURNED.value)[seq]
    why = f"returned by the payee's bank ({reason_code}" + (f": {info}" if info else "") + ")"
    if not uow.move_redemption(seq, [RedemptionStatus.PAID.value], RedemptionStatus.PAYOUT_RETURNED.value,
                               paid_at_ns=None):
        return f"return quotes redemption {seq}, which is {r.status} (no paid payout to return)"
    uow.emit("redemption.payout_returned", {"redemption": seq, "customer": r.customer_id, "fiat": fiat.value,
                                            "amount_minor": amount_minor, "reason_code": reason_code,
                                            "entry": entry_key}, key=f"{entry_key}:returned")
    uow.emit("operator.task", {"kind": "payout_returned", "redemption": seq, "reason_code": reason_code,
                               "amount_minor": amount_minor, "fiat": fiat.value}, key=f"{entry_key}:task")
    uow.audit(ctx.actor, "redemption.payout_returned", f"redemption:{seq}",
              {"amount_minor": amount_minor, "fiat": fiat.value, "reason_code": reason_code, "info": info,
               "entry": entry_key, "bank_account": r.bank_account})
    return (iss.payout_returned_entry(seq, fiat, amount_minor, f"rdm:{seq}", returns),
            [_t("redemption", seq, RedemptionStatus.PAID.value, RedemptionStatus.PAYOUT_RETURNED.value, _now(ctx),
                ctx.actor, why[:300])])


def _verified_account(ctx: IssuanceContext, customer_id: str, account: str) -> Any:
    acct = next((a for a in ctx.store.bank_accounts() if a.customer_id == customer_id and a.account == account),
                None)
    if acct is None:
        raise ValidationError(f"{account} is not a verified bank account of customer {customer_id}: register and "
                              "verify it first", code="bank_account_not_verified")
    return acct


def request_payout_retry(ctx: IssuanceContext, seq: int, reason: str, *, maker: str,
                         bank_account: str | None = None) -> str:
    """Ask a second person (approval `payout_retry`) to pay returned redemption `seq` again, to `bank_account`
    (one of the customer's verified accounts; by default the one it was sent to). Returns the approval id."""
    if ctx.approvals is None:
        raise ValidationError("a payout retry needs the approvals service", code="approvals_not_wired")
    if len(reason.strip()) < 3:
        raise ValidationError("a payout retry needs its reason", code="reason_required")
    r = ctx.store.redemption(seq)
    if r.status != RedemptionStatus.PAYOUT_RETURNED.value:
        raise ConflictError(f"redemption {seq} is {r.status}: only a returned payout is paid again",
                            code="redemption_not_returned")
    account = (bank_account or str(r.bank_account)).strip()
    _verified_account(ctx, str(r.customer_id), account)
    sub = ctx.approvals.submit(PAYOUT_RETRY_KIND, {
        "redemption": seq, "fiat": str(r.fiat), "amount_minor": int(r.amount_minor) - int(r.fee_minor),
        "customer": str(r.customer_id), "bank_account": account, "previous_account": str(r.bank_account),
        "reason": reason.strip()[:500]}, maker=maker)
    return str(sub.request.id) if sub.request is not None else "executed"


def execute_payout_retry(ctx: IssuanceContext, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The executor of an approved `payout_retry`: in one transaction the redemption is claimed back into the
    payout queue (payout_returned -> burned, status-checked) with the account to pay, and the reserve cash held
    for the new payout attempt."""
    seq = int(params["redemption"])
    r = ctx.store.redemption(seq)
    fiat = Currency(r.fiat)
    account = str(params["bank_account"])
    _verified_account(ctx, str(r.customer_id), account)
    amount = int(r.amount_minor) - int(r.fee_minor)
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        attempt = uow.transitions_into("redemption", [seq], RedemptionStatus.BURNED.value)[seq]
        hold = iss.payout_retry_hold_entry(seq, fiat, amount, f"rdm:{seq}", attempt)  # refuses past the limit
        if not uow.move_redemption(seq, [RedemptionStatus.PAYOUT_RETURNED.value], RedemptionStatus.BURNED.value,
                                   bank_account=account, payout_batch=None):
            raise ConflictError(f"redemption {seq} is no longer a returned payout", code="redemption_not_returned")
        uow.post(hold, "payout retry", new=True)
        uow.record_transitions([_t("redemption", seq, RedemptionStatus.PAYOUT_RETURNED.value,
                                   RedemptionStatus.BURNED.value, now, ctx.actor,
                                   f"payout made again to {account}: {params.get('reason', '')}"[:300])])
        uow.emit("redemption.payout_retry", {"redemption": seq, "bank_account": account, "attempt": attempt})
        uow.audit(ctx.actor, "redemption.payout_retry", f"redemption:{seq}",
                  {"approval": key, "bank_account": account, "previous_account": str(r.bank_account),
                   "attempt": attempt, "amount_minor": amount, "reason": params.get("reason")})
    return {"redemption": seq, "bank_account": account, "attempt": attempt, "amount_minor": amount}
