"""Manual ledger transfers as adjustments: assess, book at once or open a maker-checker request, journal.

The API's `POST /v1/ledger/transfers` (and anything else that lets a person write to the books) goes through
`propose`. An adjustment the policy lets one person book is booked now with its journal row; any other waits
as an approval request of kind `ledger_adjustment`, whose executor (`book_approved`) books it once the
checker approves, with the approver named in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bauhinia.domain import adjustments as adj
from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import NotFoundError, RefusedError, ValidationError
from bauhinia.domain.ledger import Transfer, TransferFlags
from bauhinia.ports import AdjustmentsJournal, Clock

KIND = "ledger_adjustment"  # its policy (who approves) is in domain.approvals.DEFAULT_POLICIES


@dataclass(frozen=True, slots=True)
class AdjustmentOutcome:
    adjustment_id: str
    status: str  # booked | replay | pending_approval | refused
    results: list[str]
    approval: apv.ApprovalRequest | None
    needs_approval_because: tuple[str, ...]


class AdjustmentService:
    def __init__(self, ledger: Any, journal: AdjustmentsJournal, approvals: Any, clock: Clock,
                 policy: adj.AdjustmentPolicy) -> None:
        self.ledger = ledger  # lookup_accounts(ids), pending_state(id)
        self.journal = journal
        self.approvals = approvals  # ApprovalService
        self.clock = clock
        self.policy = policy

    def _facts(self, transfers: Sequence[Transfer]) -> tuple[dict[int, adj.AccountFacts], list[int]]:
        ids: set[int] = set()
        amounts: list[int] = []
        for t in transfers:
            ids.update(i for i in (t.debit_account_id, t.credit_account_id) if i)
            amount = t.amount
            if t.pending_id and t.flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING):
                try:
                    p = self.ledger.pending_state(t.pending_id)
                except NotFoundError:
                    p = None
                if p is not None:
                    ids.update((p.debit_account_id, p.credit_account_id))
                    amount = amount or p.amount
            amounts.append(int(amount))
        views = self.ledger.lookup_accounts(sorted(ids)) if ids else []
        facts = {v.account.id: adj.AccountFacts(v.account.id, v.account.kind, v.account.reference) for v in views}
        return facts, amounts

    def propose(self, transfers: Sequence[Transfer], reason: str, *, maker: str,
                maker_roles: frozenset[str]) -> AdjustmentOutcome:
        facts, amounts = self._facts(transfers)
        text = adj.check_reason(reason)
        assessment = adj.assess(transfers, text, facts, amounts, maker_roles, self.policy)
        done = self.journal.get(assessment.adjustment_id)
        if done is not None:
            return AdjustmentOutcome(done.adjustment_id, "replay", ["exists"] * len(transfers), None,
                                     assessment.needs_approval_because)
        if assessment.needs_approval:
            params = {"adjustment_id": assessment.adjustment_id, "reason": text,
                      "transfers": [adj.transfer_params(t) for t in transfers],
                      "needs_approval_because": list(assessment.needs_approval_because),
                      "largest_minor": assessment.largest_minor}
            sub = self.approvals.submit(KIND, params, maker=maker)
            return AdjustmentOutcome(assessment.adjustment_id, "pending_approval", [], sub.request,
                                     assessment.needs_approval_because)
        booking = self.journal.book(assessment.adjustment_id, transfers, reason=text, maker=maker, approval_id=None,
                                    approvers=(), amounts_minor=amounts, now_ns=self.clock.now_ns())
        status = "booked" if booking.booked else ("replay" if booking.replay else "refused")
        return AdjustmentOutcome(assessment.adjustment_id, status, booking.results, None, ())

    def book_approved(self, params: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The approval executor: book the approved adjustment (once; a retry answers what was booked)."""
        approval_id = key.removeprefix("approval:")
        request = self.approvals.get(approval_id)
        raw = params.get("transfers")
        if not isinstance(raw, list) or not raw:
            raise ValidationError("the approved adjustment has no transfers", code="bad_adjustment")
        transfers = [adj.transfer_from_params(p) for p in raw]
        reason = str(params.get("reason", ""))
        adjustment_id = adj.adjustment_id(transfers, adj.check_reason(reason))
        if adjustment_id != params.get("adjustment_id"):
            raise ValidationError("the approved adjustment does not match its id", code="bad_adjustment")
        _, amounts = self._facts(transfers)
        approvers = [d.actor for d in request.decisions if d.approve]
        booking = self.journal.book(adjustment_id, transfers, reason=reason, maker=request.maker,
                                    approval_id=approval_id, approvers=approvers, amounts_minor=amounts,
                                    now_ns=self.clock.now_ns())
        if not booking.booked and not booking.replay:
            raise RefusedError(f"the ledger refused the adjustment: {', '.join(booking.results)}",
                               code="adjustment_refused")
        return {"adjustment_id": adjustment_id, "results": booking.results, "replay": booking.replay}
