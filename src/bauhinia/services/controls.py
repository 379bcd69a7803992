"""One policy for every entrance (issue 20 item 1): who may ask for a high-risk operation, and the maker-checker
path it then takes.

The CLI, the API and the console call these functions with the `Actor` they authenticated (a CLI operator or an
API client: both are clients of the credentials store, subject `client:<id>`). The roles are checked here, not in
the entrance, and each high-risk operation (breaker reset, role grant, freeze, a large mint, ...) only opens an
approval request whose maker is that actor; the approvals service then refuses the maker as its own checker and
runs the operation's executor once a different person with an approver role agrees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bauhinia.domain import approvals as apv
from bauhinia.domain.errors import ForbiddenError, NotFoundError, ValidationError
from bauhinia.domain.money import Currency

STAFF = frozenset({"operator", "treasury", "compliance", "auditor", "admin"})
# Who may ask for each high-risk operation (the approvers are the policy's approver roles, domain/approvals.py).
REQUESTERS: Mapping[str, frozenset[str]] = {
    "breaker_reset": frozenset({"treasury", "admin"}),
    "role_grant": frozenset({"admin"}),
    "freeze": frozenset({"compliance", "admin"}),
    "mint": frozenset({"operator", "treasury", "admin"}),
    "pause": frozenset({"operator", "compliance", "admin"}),  # pause or unpause a coin
    "unfreeze": frozenset({"compliance", "admin"}),
    "wipe": frozenset({"compliance", "admin"}),
    "policy_change": frozenset({"admin"}),
    "minter_admin": frozenset({"treasury", "admin"}),
    "rescue": frozenset({"admin"}),
}
CHECKERS = frozenset({"operator", "treasury", "compliance", "admin"})  # each policy narrows this further
READERS = CHECKERS | {"auditor"}
APPROVALS_SCANNED_MAX = 1_000


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated person or machine client: `client_id` in the credentials store and its roles."""

    client_id: str
    roles: frozenset[str]
    demo: bool = False  # the built-in demo operator of an unauthenticated demo CLI

    @property
    def subject(self) -> str:
        # The demo operator is no client of the store, so no client can ever act (or approve) as it.
        return "demo:operator" if self.demo else f"client:{self.client_id}"


def require_role(actor: Actor, allowed: Iterable[str], what: str) -> None:
    allowed = frozenset(allowed)
    if not actor.roles & allowed:
        raise ForbiddenError(f"{what} needs one of the roles: {', '.join(sorted(allowed))} "
                             f"({actor.subject} has {', '.join(sorted(actor.roles)) or 'none'})",
                             code="role_not_allowed")


def require_requester(actor: Actor, kind: str) -> None:
    require_role(actor, REQUESTERS.get(kind, CHECKERS), f"asking for {kind}")


# --------------------------------------------------------------------------------------------- high-risk requests

def request_breaker_reset(approvals: Any, reserves: Any, coin: Currency, reason: str, actor: Actor) -> Any:
    """Ask to re-open minting: an approval request (policy "breaker_reset"); the breaker stays tripped until a
    different treasury user or admin approves it."""
    require_requester(actor, "breaker_reset")
    if not reason.strip():
        raise ValidationError("a breaker reset needs a reason", code="reason_required")
    if not reserves.breaker_state(coin).halted:
        raise ValidationError(f"minting of {coin.value} is not halted", code="breaker_not_tripped")
    return approvals.submit("breaker_reset", {"coin": coin.value, "reason": reason, "maker": actor.subject},
                            maker=actor.subject)


def request_role_grant(approvals: Any, actor: Actor, client_id: str, role: str, *,
                       created_by: str | None) -> Any:
    """Ask to grant `role` to a client: an approval request (policy "role_grant"). Neither the client itself nor
    whoever created it may approve, and a client never asks for itself."""
    require_requester(actor, "role_grant")
    if client_id == actor.client_id:
        raise ForbiddenError("a client cannot ask for a role for itself", code="self_grant")
    excluded = sorted({f"client:{client_id}", *filter(None, [created_by])})
    return approvals.submit("role_grant", {"client_id": client_id, "role": role, "excluded_approvers": excluded},
                            maker=actor.subject)


def request_policy_change(approvals: Any, actor: Actor, kind: str, changes: Mapping[str, Any], reason: str) -> Any:
    """Ask to change an approval policy (who approves `kind`, how many, above what amount, for how long): an
    approval request of kind "policy_change", which two other admins approve by default."""
    require_requester(actor, "policy_change")
    return approvals.request_policy_change(kind, changes, reason, maker=actor.subject)


def policy_view(policy: apv.Policy) -> dict[str, Any]:
    return {"kind": policy.kind, "approver_roles": sorted(policy.approver_roles),
            "approvals_required": policy.approvals_required, "ttl_s": policy.ttl_s,
            "threshold_param": policy.threshold_param, "threshold": policy.threshold,
            "description": policy.description}


# --------------------------------------------------------------------------------------------------- decisions

def approve(approvals: Any, approval_id: str, actor: Actor, comment: str = "") -> apv.ApprovalRequest:
    """A checker approves (never the maker; the policy names the roles); enough approvals run the operation."""
    require_role(actor, CHECKERS, "deciding an approval")
    result: apv.ApprovalRequest = approvals.approve(approval_id, actor=actor.subject, roles=actor.roles,
                                                    comment=comment)
    return result


def reject(approvals: Any, approval_id: str, actor: Actor, reason: str) -> apv.ApprovalRequest:
    require_role(actor, CHECKERS, "deciding an approval")
    if not reason.strip():
        raise ValidationError("a rejection needs a reason", code="reason_required")
    result: apv.ApprovalRequest = approvals.reject(approval_id, actor=actor.subject, roles=actor.roles,
                                                   reason=reason)
    return result


def resubmit(approvals: Any, approval_id: str, actor: Actor) -> apv.ApprovalRequest:
    """Ask again for an operation whose request expired undecided; the asker becomes its maker."""
    require_role(actor, CHECKERS, "resubmitting an approval")
    result: apv.ApprovalRequest = approvals.resubmit(approval_id, maker=actor.subject, roles=actor.roles)
    return result


def execute(approvals: Any, approval_id: str, actor: Actor) -> apv.ApprovalRequest:
    """Run an approved request whose execution failed before (still once); an approver role of its policy."""
    request = approvals.get(approval_id)
    policy = approvals.policy(request.kind)
    if policy is None or not actor.roles & policy.approver_roles:
        raise ForbiddenError(f"executing {request.kind} needs an approver role", code="approver_role_missing")
    result: apv.ApprovalRequest = approvals.execute(approval_id, actor=actor.subject)
    return result


def open_approval_for(approvals: Any, kind: str, param: str, value: Any) -> str:
    """The id of the open approval request of `kind` whose parameter `param` is `value`."""
    for r in approvals.list(status="requested", limit=APPROVALS_SCANNED_MAX):
        if r.kind == kind and r.params.get(param) == value:
            return str(r.id)
    raise NotFoundError(f"no {kind} approval awaits a decision for {value}", code=f"{kind}_approval_not_found")


# ------------------------------------------------------------------------------------------- freezes and mints

def request_freeze(gate: Any, case_id: str, addresses: list[str], reason: str, actor: Actor, now_ns: int) -> Any:
    """Ask to freeze wallets of a case: recorded on the case and submitted for approval (policy "freeze"); only a
    different compliance officer or admin approving it makes the executor freeze them on every coin's chain."""
    from bauhinia.services.issuance_compliance import request_wallet_freeze

    require_requester(actor, "freeze")
    return request_wallet_freeze(gate, case_id, addresses, reason, actor=actor.subject, now_ns=now_ns)


def run_mint(ctx: Any, fiat: Currency, actor: Actor, **kwargs: Any) -> Any:
    """A mint run started by `actor`: a mint above the policy's threshold opens an approval whose maker is that
    actor (never "system"), so the one who started the run cannot approve it."""
    from dataclasses import replace

    from bauhinia.services.issuance import run_subscriptions

    require_requester(actor, "mint")
    return run_subscriptions(replace(ctx, actor=actor.subject), fiat, **kwargs)


# -------------------------------------------------------------------------------- pause, unfreeze, wipe on chain

# The coin's own powers beyond a freeze: pausing (or unpausing) every transfer, unfreezing addresses, and burning a
# frozen address's coins under an order. Each is an approval request; the executor calls the chain.
CHAIN_POLICIES: tuple[apv.Policy, ...] = (
    apv.Policy("pause", frozenset({"compliance", "admin"}), description="pause or unpause every transfer of a coin"),
    apv.Policy("unfreeze", frozenset({"compliance", "admin"}), description="unfreeze addresses on a coin"),
    apv.Policy("wipe", frozenset({"compliance", "admin"}), approvals_required=2,
               description="burn a frozen address's coins under a court or regulator order"),
    apv.Policy("minter_admin", frozenset({"treasury", "admin"}), approvals_required=2,
               description="make an address a minter with an allowance, change its allowance, or remove it"),
    apv.Policy("rescue", frozenset({"admin"}), approvals_required=2,
               description="return another token sent to a coin's contract by mistake"),
)
CHAIN_ACTIONS = {"pause": "pause", "unpause": "pause", "unfreeze": "unfreeze", "wipe": "wipe",
                 "minter_allowance": "minter_admin", "minter_remove": "minter_admin", "rescue": "rescue"}
CHAIN_KINDS = tuple(sorted(set(CHAIN_ACTIONS.values())))
UINT256_MAX = 2**256 - 1
ADDRESSES_MAX = 100


def _address(text: str) -> str:
    a = text.strip().lower()
    if len(a) != 42 or not a.startswith("0x") or any(ch not in "0123456789abcdef" for ch in a[2:]):
        raise ValidationError(f"not an address: {text[:64]!r}", code="bad_address")
    return a


def request_chain_control(approvals: Any, actor: Actor, action: str, fiat: Currency, reason: str, *,
                          addresses: Iterable[str] = (), order: str = "", amount_base_units: int | None = None,
                          token: str = "") -> Any:
    """Ask to pause / unpause a coin, unfreeze addresses, wipe a frozen address (`order` names the order; its
    SHA-256 goes on chain), set a minter's allowance or remove a minter (`addresses`: the minter), or rescue
    another token sent to the contract (`token`, `addresses`: the receiver, `amount_base_units`): an approval
    request, run on the chain only once different people approve (two for a wipe, minter changes and a rescue)."""
    import hashlib

    kind = CHAIN_ACTIONS.get(action)
    if kind is None:
        raise ValidationError(f"unknown chain action {action!r}", code="bad_action")
    require_requester(actor, kind)
    if not reason.strip():
        raise ValidationError("a reason is required", code="reason_required")
    fiat = fiat.fiat  # a coin names its fiat currency
    if fiat not in (Currency.CNH, Currency.HKD):
        raise ValidationError(f"{fiat.value} has no coin", code="not_a_coin")
    params: dict[str, Any] = {"action": action, "currency": fiat.value, "reason": reason[:500]}
    listed = [_address(a) for a in addresses]
    if action == "unfreeze":
        if not 1 <= len(listed) <= ADDRESSES_MAX:
            raise ValidationError(f"unfreeze 1..{ADDRESSES_MAX} addresses", code="bad_addresses")
        params["addresses"] = listed
    elif action == "wipe":
        if len(listed) != 1 or not order.strip():
            raise ValidationError("a wipe names one frozen address and the order", code="bad_wipe")
        params.update(address=listed[0], order=order[:500],
                      order_reference=hashlib.sha256(order.encode()).hexdigest())
    elif action in ("minter_allowance", "minter_remove"):
        if len(listed) != 1:
            raise ValidationError("a minter change names one minter address", code="bad_minter")
        params["address"] = listed[0]
        if action == "minter_allowance":
            if amount_base_units is None or not 0 <= amount_base_units <= UINT256_MAX:
                raise ValidationError("a minter allowance is 0..2^256-1 base units", code="bad_allowance")
            params["amount_base_units"] = str(amount_base_units)  # JSON-safe beyond 2^53
    elif action == "rescue":
        if len(listed) != 1 or amount_base_units is None or not 0 < amount_base_units <= UINT256_MAX:
            raise ValidationError("a rescue names the token, one receiver and an amount above zero",
                                  code="bad_rescue")
        params.update(token=_address(token), address=listed[0], amount_base_units=str(amount_base_units))
    return approvals.submit(kind, params, maker=actor.subject)


def run_chain_control(chains: Mapping[Currency, Any], params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The approvals executor of the chain controls (pause, unfreeze, wipe, minter_admin, rescue): the chain call
    (idempotent by the approval's key). A reverted or failed call raises, so the approval stays approved with the
    error, never executed."""
    from bauhinia.domain.errors import RefusedError

    chain = chains[Currency(str(params["currency"]))]
    action = str(params["action"])
    if action == "pause":
        tx = chain.pause(idempotency_key=key)
    elif action == "unpause":
        tx = chain.unpause(idempotency_key=key)
    elif action == "unfreeze":
        tx = chain.unfreeze(list(params["addresses"]), idempotency_key=key)
    elif action == "wipe":
        tx = chain.wipe_frozen(str(params["address"]), bytes.fromhex(str(params["order_reference"])),
                               idempotency_key=key)
    elif action == "minter_allowance":
        tx = chain.configure_minter(str(params["address"]), int(params["amount_base_units"]), idempotency_key=key)
    elif action == "minter_remove":
        tx = chain.remove_minter(str(params["address"]), idempotency_key=key)
    elif action == "rescue":
        tx = chain.rescue_erc20(str(params["token"]), str(params["address"]), int(params["amount_base_units"]),
                                idempotency_key=key)
    else:
        raise ValidationError(f"unknown chain action {action!r}", code="bad_action")
    if tx.succeeded is False:
        raise RefusedError(f"{action} on {params['currency']} reverted ({tx.tx_hash})", code="chain_reverted")
    return {"action": action, "currency": params["currency"], "tx_hash": tx.tx_hash}
