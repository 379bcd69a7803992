"""Manual ledger transfers are adjustments: a reason, a limit per role, and a second person when they matter.

Pure. Every entry the platform books itself (mints, burns, payouts, fees, suspense) comes from a flow with its
own controls; a transfer an operator types in has none, so it is an *adjustment*:
  * it carries a reason (what happened, which ticket), kept in the adjustments journal and the monthly return;
  * each role may propose adjustments only up to its limit per transfer (`role_limits_minor`); above every
    limit of the maker's roles it is refused;
  * it needs a second person (maker-checker) when any transfer is above `approval_above_minor`, or touches
    the issuer's own books (reserve cash, coins outstanding, redemptions payable, suspense, fee income,
    equity), or a customer's account, or any equity, income or expense account;
  * its id is derived from what it books (sha256 of the canonical transfers), so the same adjustment sent
    twice is one adjustment, and a different one cannot reuse its id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bauhinia.domain.errors import ForbiddenError, ValidationError
from bauhinia.domain.ledger import AccountKind, Transfer

reason_length_min = 10
reason_length_max = 500
PROTECTED_KINDS = frozenset({AccountKind.EQUITY, AccountKind.INCOME, AccountKind.EXPENSE})
ID_PREFIX = "adj_"


@dataclass(frozen=True, slots=True)
class AdjustmentPolicy:
    approval_above_minor: int
    role_limits_minor: Mapping[str, int]

    def __post_init__(self) -> None:
        if self.approval_above_minor < 0 or any(v < 0 for v in self.role_limits_minor.values()):
            raise ValidationError("adjustment limits are 0 or more minor units", code="bad_adjustment_policy")

    def limit_for(self, roles: frozenset[str]) -> int:
        return max((self.role_limits_minor.get(r, 0) for r in roles), default=0)


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the rules need to know of an account the adjustment touches."""

    id: int
    kind: AccountKind
    reference: str | None


@dataclass(frozen=True, slots=True)
class Assessment:
    adjustment_id: str
    largest_minor: int
    needs_approval_because: tuple[str, ...]

    @property
    def needs_approval(self) -> bool:
        return bool(self.needs_approval_because)


def transfer_params(t: Transfer) -> dict[str, object]:
    return {"id": t.id, "debit_account_id": t.debit_account_id, "credit_account_id": t.credit_account_id,
            "amount": t.amount, "currency": t.currency, "code": t.code, "reference": t.reference,
            "flags": t.flags, "pending_id": t.pending_id, "timeout_s": t.timeout_s}


def transfer_from_params(p: Mapping[str, object]) -> Transfer:
    def i(name: str) -> int:
        v = p.get(name, 0)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValidationError(f"transfer field {name} must be an integer", code="bad_adjustment")
        return v

    ref = p.get("reference")
    return Transfer(i("id"), i("debit_account_id"), i("credit_account_id"), i("amount"), str(p.get("currency", "")),
                    i("code"), None if ref is None else str(ref), i("flags"), i("pending_id"), i("timeout_s"))


def adjustment_id(transfers: Sequence[Transfer], reason: str) -> str:
    canonical = json.dumps({"transfers": [transfer_params(t) for t in transfers], "reason": reason},
                           sort_keys=True, separators=(",", ":"))
    return ID_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _protected(account: AccountFacts) -> str | None:
    ref = account.reference or ""
    if ref.startswith("customer:"):
        return f"account {account.id} is a customer's account"
    if ref.startswith("issuer:"):
        return f"account {account.id} is one of the issuer's books ({ref})"
    if account.kind in PROTECTED_KINDS:
        return f"account {account.id} is an {account.kind.value} account"
    return None


def check_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not reason_length_min <= len(text) <= reason_length_max:
        raise ValidationError(f"an adjustment needs a reason of {reason_length_min}..{reason_length_max} characters "
                              "(what happened, which ticket)", code="adjustment_reason_required")
    return text


def assess(transfers: Sequence[Transfer], reason: str, accounts: Mapping[int, AccountFacts],
           amounts_minor: Sequence[int], maker_roles: frozenset[str], policy: AdjustmentPolicy) -> Assessment:
    """Check an adjustment against the policy. `accounts` holds every account the transfers touch (their own
    or, for posting/voiding a pending transfer, the pending transfer's); `amounts_minor` the amount each
    transfer moves (a pending transfer's full amount when a post names 0)."""
    if not transfers:
        raise ValidationError("an adjustment books at least one transfer", code="bad_adjustment")
    if len(amounts_minor) != len(transfers):
        raise ValidationError("one amount per transfer", code="bad_adjustment")
    text = check_reason(reason)
    largest = max(amounts_minor)
    limit = policy.limit_for(maker_roles)
    if largest > limit:
        raise ForbiddenError(f"a transfer of {largest} minor units is above this role's adjustment limit of "
                             f"{limit}", code="adjustment_limit_exceeded")
    why: list[str] = []
    if largest > policy.approval_above_minor:
        why.append(f"a transfer of {largest} minor units is above the approval threshold of "
                   f"{policy.approval_above_minor}")
    for account in sorted(accounts.values(), key=lambda a: a.id):
        note = _protected(account)
        if note is not None:
            why.append(note)
    return Assessment(adjustment_id(transfers, text), largest, tuple(dict.fromkeys(why)))
