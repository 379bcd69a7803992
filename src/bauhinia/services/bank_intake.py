"""Bank files that come from a person: checked, held, and booked only when a second person approves.

The books take the bank's word only from the bank's channel (the host-to-host folder, or a file carrying the
bank's signature). A file a person uploads could be anything, so it is parsed and its signature checked at
once (a bad one is refused and a copy quarantined), then held as an approval request of kind
`bank_file_release` that shows the checker what the file would book. The executor moves the file into the
inbox and runs the normal ingest, whose content-hash, message and entry keys make a second run book nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bauhinia.domain import approvals as apv
from bauhinia.domain import banking as bnk
from bauhinia.domain.errors import ValidationError

KIND = "bank_file_release"


@dataclass(frozen=True, slots=True)
class HeldUpload:
    name: str
    message: bnk.BankMessage
    approval: apv.ApprovalRequest | None


def summary(message: bnk.BankMessage) -> dict[str, Any]:
    credits: dict[str, int] = {}
    debits: dict[str, int] = {}
    entries = 0
    for rep in message.reports:
        for e in rep.entries:
            if e.status != "BOOK" or e.reversal:
                continue
            entries += 1
            side = credits if e.credit_debit is bnk.CreditDebit.CREDIT else debits
            side[e.currency] = side.get(e.currency, 0) + e.amount_minor
    return {"kind": message.kind.value, "message_id": message.message_id, "content_sha256": message.content_hash,
            "accounts": sorted({r.account.value for r in message.reports}), "booked_entries": entries,
            "credits_minor": credits, "debits_minor": debits}


def hold_upload(ctx: Any, approvals: Any, data: bytes, *, maker: str, signature: bytes | None) -> HeldUpload:
    """Check and hold an uploaded camt.053 / camt.054; opens the approval request a second person decides."""
    name, message = ctx.bank.hold(data, signature)
    params = {"file": name, "signed": bool(signature), **summary(message)}
    sub = approvals.submit(KIND, params, maker=maker)
    return HeldUpload(name, message, sub.request)


def release_upload(ctx: Any, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The approval executor: move the held file into the inbox and book it (once)."""
    name = params.get("file")
    if not isinstance(name, str) or not name:
        raise ValidationError("the approved bank file has no name", code="bad_bank_file")
    from bauhinia.services.bank_booking import ingest_bank_files

    released = ctx.bank.release(name)
    rep = ingest_bank_files(ctx)
    return {"file": name, "released": released, "files": rep.files, "subscriptions": rep.subscriptions,
            "suspense": rep.suspense, "payouts_settled": rep.payouts_settled,
            "duplicate_entries": rep.duplicate_entries,
            "quarantined": [{"file": f, "code": c, "reason": r} for f, c, r in rep.quarantined]}
