"""Subscription and redemption at par: one function per command.

Each command loads what it needs, asks the domain, and commits the new state, its ledger entry, its outbox
events and its audit entry in one unit of work; only then does it talk to the chain or the bank, with an
idempotency key stored in that same commit. A crash anywhere is healed by `recover`, which re-drives every flow
from what was committed: the chain journal returns the transaction already sent for a key, the bank adapter
returns the file already written for a batch, so nothing is minted or paid twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any, Protocol

from bauhinia.domain import banking as bnk
from bauhinia.domain import issuance as iss
from bauhinia.domain import reserves as rsv
from bauhinia.domain.calendar import HK_TZ, HkCalendar, from_ns, payout_deadline_ns
from bauhinia.domain.chain import ChainTxState
from bauhinia.domain.errors import BauhiniaError, ConflictError, NotFoundError, RefusedError, ValidationError
from bauhinia.domain.issuance import Book, RedemptionStatus, Transition
from bauhinia.domain.money import Currency, base_units_to_minor, minor_to_base_units
from bauhinia.faults import fault_point
from bauhinia.ports import Bank, Chain, Clock, ReservesStore
from bauhinia.services import attester
from bauhinia.services import reserves as reserves_svc

# the reason of a subscription held because its payer is not the customer's verified bank account (bank_booking)
PAYER_HOLD_PREFIX = "payer check: "
mint_batch_credits_max = 512
subscriptions_per_run_max = 100_000
redemptions_per_run_max = 5_000
redemption_warning_before_s = 4 * 3600


class LedgerReader(Protocol):
    def account(self, account_id: int) -> Any: ...


@dataclass
class IssuanceContext:
    """What the issuance commands need, wired by bootstrap."""

    store: Any  # adapters.store.issuance_repo.SqlIssuanceStore (unit_of_work + reads)
    ledger: LedgerReader
    chains: Mapping[Currency, Chain]  # keyed by fiat currency
    bank: Bank
    reserves: ReservesStore
    calendar: HkCalendar
    clock: Clock
    issuer: Mapping[Currency, bnk.Party]  # the issuer's reserve account per fiat: the debtor of payouts
    reserve_accounts: Mapping[str, Currency]  # bank account id -> fiat, for inbound statements
    coin_cursors: Mapping[Currency, str]  # indexer cursor of each coin's contract
    index: Callable[[Currency], int]  # catch the coin's indexer up; returns events applied
    recover_signer: Callable[[str, str], str]  # (EIP-191 message, signature) -> address
    buffer_bps: int = 0
    approvals: Any = None  # services.approvals.ApprovalService: mints above its "mint" policy need a checker
    mint_batch_size: int = mint_batch_credits_max
    # redemption idempotency key -> the trade invoice whose proceeds it pays out (settlement's link), carried in
    # the payout's ISO 20022 remittance information
    invoice_reference_for: Callable[[str], str | None] | None = None
    # services.issuance_compliance.ComplianceGate (holds the Screener port): CDD, screening of debtors and wallets,
    # the HK$8,000 rule and travel-rule payloads; None leaves issuance unscreened
    compliance: Any = None
    # ports.NameComparer (the screening matcher's transliteration-aware normalisation): bank account holders and
    # payers are checked against the customer's legal name; None leaves them unchecked
    names: Any = None
    # fiat -> the bank's payment cut-off (Hong Kong time): a payout instructed after it executes the next
    # business day; none: the same business day
    payout_cutoff: Mapping[Currency, dt_time] = field(default_factory=dict)
    warn_before_s: int = redemption_warning_before_s  # the deadline watcher warns this long before a deadline
    # services.attester: True (a demo) posts the ledger's reserve to the contract's guard when a mint needs it;
    # False leaves that to the separate attester and holds a mint its figure does not cover
    attest_inline: bool = True
    actor: str = "system"
    events: list[str] = field(default_factory=list)  # human log of what happened, for the CLI and demo

    def say(self, text: str) -> None:
        self.events.append(text)


def _now(ctx: IssuanceContext) -> int:
    return ctx.clock.now_ns()


def _t(flow: str, seq: int, frm: str | None, to: str, at: int, actor: str, reason: str = "") -> Transition:
    if frm is not None and frm != to:
        iss.check_transition(flow, frm, to)
    return Transition(flow, str(seq), frm, to, at, actor, reason)


def content_key(kind: str, fiat: Currency, attempts: Mapping[int, int]) -> str:
    """A chain transaction's idempotency key derived from what it does: which flows (sequence numbers) in which
    attempt. Two runners that would send the same mint or burn share one key, so the journal holds one
    transaction; a retry after a reversal is a new attempt, hence a new key and a new transaction."""
    body = ",".join(f"{seq}.{attempts[seq]}" for seq in sorted(attempts))
    return f"{kind}:{fiat.value}:{hashlib.sha256(body.encode()).hexdigest()[:40]}"


# ---------------------------------------------------------------------------------------------------------
# Set-up: coins, customers, bank accounts, wallets, issuer capital
# ---------------------------------------------------------------------------------------------------------


def configure_coin(ctx: IssuanceContext, config: iss.CoinConfig) -> None:
    """Record a coin's licence data and fees, and open its books in the ledger."""
    now = _now(ctx)
    results = ctx.store.ledger.create_accounts(iss.issuer_accounts(config.fiat))
    iss.require_ok(results, "chart of accounts")
    with ctx.store.unit_of_work(now) as uow:
        uow.put_coin_config(config)
        uow.audit(ctx.actor, "coin.configured", f"coin:{config.fiat.value}",
                  {"licence": config.licence_number, "approval": config.mainland_approval_reference,
                   "subscription_fee_bps": config.subscription_fee_bps,
                   "redemption_fee_bps": config.redemption_fee_bps})


def fund_issuer_capital(ctx: IssuanceContext, fiat: Currency, amount_minor: int, reference: str) -> None:
    """The issuer's own money paid into the reserve (the coverage buffer above 100%)."""
    if amount_minor <= 0:
        raise ValidationError("capital must be positive", code="bad_amount")
    acct = iss.book_account_id(fiat, Book.EQUITY)
    seq = int(hashlib.sha256(reference.encode()).hexdigest()[:12], 16) % (iss.flow_seq_max - 1) + 1
    entry = [iss.capital_entry(seq, fiat, amount_minor, acct, reference)]
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.post(entry, "issuer capital")
        uow.audit(ctx.actor, "reserve.capital_paid_in", f"coin:{fiat.value}", {"amount_minor": amount_minor,
                                                                               "reference": reference})


def _check_clearance(ctx: IssuanceContext, customer_id: str) -> None:
    """With compliance wired (always, outside a demo), "cleared" is not an operator's flag: only an accepted CDD
    record with a clean screening (and a senior sign-off for a high-risk or PEP customer) clears."""
    if ctx.compliance is None:
        return
    problem = ctx.compliance.clearance_problem(customer_id)
    if problem:
        raise RefusedError(f"cannot clear: {problem}", code="cdd_not_cleared")


def onboard_customer(ctx: IssuanceContext, customer_id: str, name: str, *, cleared: bool) -> iss.Customer:
    """Create a customer with its deposit reference and ledger accounts. Due diligence decides `cleared`: with
    compliance wired, `cleared` is refused unless the customer's CDD record clears it."""
    if not customer_id or len(customer_id) > 64 or not name.strip():
        raise ValidationError("customer id (1..64 chars) and name are required", code="bad_customer")
    if cleared:
        _check_clearance(ctx, customer_id)
    now = _now(ctx)
    try:
        existing = ctx.store.customer(customer_id)
    except NotFoundError:
        existing = None
    if existing is not None:
        # Idempotent. The ledger accounts are created after the customer's row commits, so a crash in between
        # leaves a customer without them: create them again here ("exists" when they are there).
        _open_customer_accounts(ctx, existing)
        return existing
    with ctx.store.unit_of_work(now) as uow:
        seq = uow.next_customer_seq()
        status = iss.CustomerStatus.CLEARED if cleared else iss.CustomerStatus.ONBOARDING
        customer = iss.Customer(customer_id, seq, name.strip(), status, iss.deposit_reference_for(seq))
        uow.add_customer(customer)
        uow.audit(ctx.actor, "customer.onboarded", f"customer:{customer_id}",
                  {"status": status.value, "deposit_reference": customer.deposit_reference})
        uow.emit("customer.onboarded", {"customer_id": customer_id, "status": status.value}, key=customer_id)
    _open_customer_accounts(ctx, customer)
    return customer


def _open_customer_accounts(ctx: IssuanceContext, customer: iss.Customer) -> None:
    accounts = [iss.customer_account(customer, f) for f in (Currency.CNH, Currency.HKD)]
    iss.require_ok(ctx.store.ledger.create_accounts(accounts), "customer accounts")


def set_customer_status(ctx: IssuanceContext, customer_id: str, status: iss.CustomerStatus, reason: str) -> None:
    """Set a customer's issuance status. Cleared only through CDD when compliance is wired (`_check_clearance`)."""
    ctx.store.customer(customer_id)  # 404 for an unknown customer
    if status is iss.CustomerStatus.CLEARED:
        _check_clearance(ctx, customer_id)
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.set_customer_status(customer_id, status)
        uow.audit(ctx.actor, "customer.status", f"customer:{customer_id}", {"status": status.value,
                                                                            "reason": reason})


def legal_names(ctx: IssuanceContext, customer: iss.Customer) -> list[str]:
    """The customer's legal name(s): the issuance record's, and every name of its CDD subject when there is one."""
    names = [customer.name]
    if ctx.compliance is not None:
        names += list(ctx.compliance.subject_names(customer.id))
    return list(dict.fromkeys(n for n in names if n.strip()))


def holder_problem(ctx: IssuanceContext, customer: iss.Customer, holder_name: str) -> str:
    """Why a bank account in `holder_name` is not the customer's own ("" when it is, or names are not checked)."""
    if ctx.names is None:
        return ""
    names = legal_names(ctx, customer)
    if any(ctx.names.same_party(holder_name, n) for n in names):
        return ""
    return f"account holder {holder_name!r} is not the customer's legal name ({' / '.join(names)[:200]})"


def add_bank_account(ctx: IssuanceContext, account: iss.VerifiedBankAccount, *, override: str = "") -> None:
    """Record a bank account verified to be in the customer's own name (payouts go only there). One in another
    party's name is refused, unless `override` names the approved `bank_account_override` request (a second
    person accepted it with a reason: `request_bank_account_override`)."""
    customer = ctx.store.customer(account.customer_id)
    if not account.account.strip() or len(account.account) > 64:
        raise ValidationError("bank account number required (1..64 chars)", code="bad_bank_account")
    if account.account in {a.account for a in ctx.store.bank_accounts(customer.id)}:
        return
    problem = holder_problem(ctx, customer, account.holder_name)
    if problem and not override:
        raise RefusedError(f"{problem}: a second person may accept it with a reason (bank_account_override)",
                           code="bank_account_holder_mismatch")
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.add_bank_account(account)
        uow.audit(ctx.actor, "customer.bank_account_verified", f"customer:{customer.id}",
                  {"account_tail": account.account[-4:], "currency": account.currency.value,
                   **({"holder_mismatch": problem, "override": override} if problem else {})})


def request_bank_account_override(ctx: IssuanceContext, account: iss.VerifiedBankAccount, reason: str, *,
                                  maker: str) -> str:
    """Ask a second person (approval `bank_account_override`) to accept an account whose holder is not the
    customer's legal name; returns the approval id. The account is added only when it is approved."""
    customer = ctx.store.customer(account.customer_id)
    if ctx.approvals is None:
        raise ValidationError("an override needs the approvals service", code="approvals_not_wired")
    if len(reason.strip()) < 3:
        raise ValidationError("an override needs a reason", code="reason_required")
    problem = holder_problem(ctx, customer, account.holder_name)
    if not problem:
        raise ValidationError("the account holder is the customer: add the account, no override needed",
                              code="override_not_needed")
    sub = ctx.approvals.submit("bank_account_override", {
        "customer_id": customer.id, "account": account.account, "scheme": account.scheme,
        "holder_name": account.holder_name, "currency": account.currency.value, "bic": account.bic,
        "reason": reason.strip()[:500], "mismatch": problem[:300]}, maker=maker)
    return str(sub.request.id) if sub.request is not None else "executed"


def approve_bank_account_override(ctx: IssuanceContext, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The executor of an approved `bank_account_override`: the account is recorded, with the approval named."""
    account = iss.VerifiedBankAccount(str(params["customer_id"]), str(params["account"]), str(params["scheme"]),
                                      str(params["holder_name"]), Currency(params["currency"]),
                                      params.get("bic") or None)
    add_bank_account(ctx, account, override=key)
    return {"customer_id": account.customer_id, "account_tail": account.account[-4:], "override": key}


def verify_wallet(ctx: IssuanceContext, customer_id: str, address: str, nonce: str, signature: str) -> None:
    """Whitelist a wallet after the customer signed the ownership challenge with it (EIP-191)."""
    customer = ctx.store.customer(customer_id)
    message = iss.wallet_challenge(customer.id, address, nonce)
    try:
        signer = ctx.recover_signer(message, signature).lower()
    except Exception as exc:  # a malformed signature is bad input, not a crash
        raise ValidationError(f"signature cannot be read: {exc}", code="bad_signature") from None
    if signer != address.lower():
        raise RefusedError(f"the challenge was signed by {signer}, not by {address.lower()}",
                           code="wallet_signature_mismatch")
    if ctx.compliance is not None:
        ctx.compliance.check_wallet(address)  # OFAC digital-currency addresses, issuer blacklist
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        uow.add_wallet(iss.WhitelistedWallet(customer.id, address.lower(), now), signature)
        uow.audit(ctx.actor, "customer.wallet_verified", f"customer:{customer.id}", {"wallet": address.lower()})


def payout_reference(fiat: Currency, seq: int) -> str:
    return f"RDM-{fiat.value}-{seq:010d}"


# ---------------------------------------------------------------------------------------------------------
# Mint
# ---------------------------------------------------------------------------------------------------------


@dataclass
class MintReport:
    batches: int = 0
    minted: int = 0
    held: int = 0
    minted_base_units: int = 0
    refused: list[str] = field(default_factory=list)


def _liabilities(ctx: IssuanceContext, fiat: Currency) -> tuple[int, int, int]:
    """(coins outstanding, redemptions in flight, reserve cash available) from the ledger, in base units and
    minor units respectively for the cash."""
    outstanding = ctx.ledger.account(iss.book_account_id(fiat, Book.COINS_OUTSTANDING)).posted
    in_flight = ctx.ledger.account(iss.book_account_id(fiat, Book.REDEMPTIONS_PAYABLE)).posted
    cash = ctx.ledger.account(iss.book_account_id(fiat, Book.RESERVE_CASH)).available
    return minor_to_base_units(outstanding), minor_to_base_units(in_flight), cash


def run_subscriptions(ctx: IssuanceContext, fiat: Currency, max_batches: int = 200) -> MintReport:
    """Mint for every received subscription whose customer is cleared, has a verified wallet, and whose mint
    the reserve covers; hold the others with the reason. Batches of up to 512 credits per transaction."""
    report = MintReport()
    config = ctx.store.coin_config(fiat)
    config.require_mintable()
    chain = ctx.chains[fiat]
    wallets: dict[str, str] = {}
    for w in ctx.store.wallets():
        wallets.setdefault(w.customer_id, w.address)
    customers = {c.id: c for c in ctx.store.customers()}
    frozen: dict[str, bool] = {}
    travel: dict[int, dict[str, Any]] = {}  # subscription seq -> validated IVMS101 payload of its mint
    after = 0
    for _ in range(max_batches):
        subs = ctx.store.subscriptions(fiat, ["received", "held"], limit=ctx.mint_batch_size, after_seq=after)
        if not subs:
            break
        after = subs[-1].seq
        ready, held = [], []
        for s in subs:
            c = customers.get(s.customer_id)
            wallet = wallets.get(s.customer_id)
            reason = ""
            if s.status == "held" and (s.reason or "").startswith(PAYER_HOLD_PREFIX) and not s.approved_by:
                reason = str(s.reason)  # not paid from the customer's verified account: a case decides
            elif c is None or c.status is not iss.CustomerStatus.CLEARED:
                reason = "customer not cleared"
            elif wallet is None:
                reason = "customer has no verified wallet"
            elif ctx.compliance is not None and (reason := ctx.compliance.mint_problem(
                    c, wallet, s.seq, s.amount_minor, fiat, travel)):
                pass  # CDD status, HK$8,000 identity rule, wallet screening, travel-rule payload
            elif _needs_approval(ctx, s) and not _mint_approved(s):
                reason = f"awaiting a second approver (mint above the policy threshold): {_request_approval(ctx, s)}"
            else:
                if wallet not in frozen:
                    frozen[wallet] = chain.is_frozen(wallet)
                if frozen[wallet]:
                    reason = "wallet is frozen"
            if reason:
                held.append((s, reason))
            else:
                ready.append((s, c, wallet, iss.fee_minor(s.amount_minor, config.subscription_fee_bps)))
        if ready:
            try:
                total = sum(minor_to_base_units(s.amount_minor - fee) for s, _, _, fee in ready)
                _gate_mint(ctx, fiat, total)
                _chain_would_mint(ctx, fiat, chain, total)  # before anything is booked: no attempt is spent
            except RefusedError as exc:
                held += [(s, exc.detail) for s, _, _, _ in ready]
                report.refused.append(exc.detail)
                ready = []
        _hold(ctx, held, report)
        if ready:
            batch = _create_mint_batch(ctx, fiat, ready, travel)
            if batch is None:  # another runner claimed every one of them first
                continue
            report.batches += 1
            minted = send_mint_batch(ctx, batch)
            report.minted += minted
            report.minted_base_units += int(batch.amount_base_units) if minted else 0
        if report.refused:
            break
    settle_mints(ctx, fiat)  # mined batches become final once deep enough (re-read from the chain)
    if report.minted or report.held:
        ctx.say(f"mint {fiat.value}: {report.minted} subscription(s) minted in {report.batches} batch(es), "
                f"{report.held} held" + (f" ({report.refused[0]})" if report.refused else ""))
    return report


def settle_mints(ctx: IssuanceContext, fiat: Currency) -> dict[str, int]:
    """Mined mint batches until they are final: each is re-read from the canonical chain. Final and succeeded:
    the batch is `final`. Reorganised out: its same bytes are offered again (by the journal). Reverted on the
    fork that won: the mint is reversed in the ledger and its credits are held for a new attempt, so ledger and
    chain agree after any reorganisation."""
    chain = ctx.chains[fiat]
    out = {"final": 0, "waiting": 0, "reversed": 0}
    for b in ctx.store.mint_batches("pending"):  # sent and reverted, waiting for that to be final
        tx = chain.tx(b.idempotency_key) if Currency(b.fiat) is fiat else None
        if tx is not None and tx.succeeded is False and ctx.store.batch_subscriptions(b.seq):
            send_mint_batch(ctx, b)
    for b in ctx.store.mint_batches("mined"):
        if Currency(b.fiat) is not fiat:
            continue
        tx = chain.refresh(b.idempotency_key)
        if tx is None or not tx.final(chain.confirmations):
            out["waiting"] += 1
            continue
        now = _now(ctx)
        if tx.succeeded:
            with ctx.store.unit_of_work(now) as uow:
                uow.move_mint_batch(b.seq, "mined", "final", tx.tx_hash)
            out["final"] += 1
            continue
        subs = ctx.store.batch_subscriptions(b.seq)
        customers = {c.id: c for c in ctx.store.customers()}
        reason = f"mint transaction {tx.tx_hash} reverted on the final chain (after a reorganisation)"
        with ctx.store.unit_of_work(now) as uow:
            if not uow.move_mint_batch(b.seq, "mined", "refused", tx.tx_hash):
                continue  # another runner reversed it first
            attempts = uow.transitions_into("subscription", [x.seq for x in subs], "minting")
            transfers = []
            for x in subs:
                transfers += iss.mint_reversal_entry(x.seq, fiat, x.amount_minor, x.fee_minor,
                                                     customers[x.customer_id].seq, f"sub:{x.seq}",
                                                     attempt=max(0, attempts[x.seq] - 1))
            uow.post(transfers, "mint reversal", new=True)
            uow.update_subscriptions([x.seq for x in subs], status="held", reason=reason[:300], mint_batch=None)
            uow.record_transitions(_t("subscription", x.seq, x.status, "held", now, ctx.actor, reason)
                                   for x in subs)
            uow.emit("mint.batch_reversed", {"batch": b.seq, "reason": reason}, key=f"{b.idempotency_key}:rev")
            uow.audit(ctx.actor, "mint.batch_reversed", f"mint_batch:{b.seq}", {"reason": reason})
        out["reversed"] += 1
    return out


def _chain_would_mint(ctx: IssuanceContext, fiat: Currency, chain: Chain, total_base_units: int) -> None:
    """The contract's own conditions for this mint (pause, minter role and allowance, reserve attestation),
    checked from its readable state before the batch is booked: a paused coin holds the credits with the reason
    instead of booking and reversing an attempt on every run (a subscription has 8)."""
    check = getattr(chain, "check_batch_mint", None)
    if check is None and ctx.attest_inline:
        return
    # separate attester: a mint its figure does not cover waits here, before an attempt is booked and reversed
    _ensure_attested(ctx, fiat, chain, total_base_units, f"precheck:{fiat.value}")
    if check is not None:
        check(total_base_units)


def _needs_approval(ctx: IssuanceContext, s: Any) -> bool:
    if ctx.approvals is None:
        return False
    policy = ctx.approvals.policy("mint")
    return bool(policy is not None and policy.applies({"amount_minor": int(s.amount_minor)}))


def _request_approval(ctx: IssuanceContext, s: Any) -> str:
    """Open (once) the maker-checker request for a large mint; returns its id."""
    if s.approval_id:
        return str(s.approval_id)
    sub = ctx.approvals.submit("mint", {"subscription": int(s.seq), "coin": Currency(s.fiat).coin.value,
                                        "amount_minor": int(s.amount_minor), "customer_id": s.customer_id},
                               maker=ctx.actor)
    approval_id = str(sub.request.id) if sub.request is not None else "executed"
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.update_subscriptions([s.seq], approval_id=approval_id)
    return approval_id


def approve_large_mint(ctx: IssuanceContext, subscription_seq: int, approval_key: str) -> dict[str, Any]:
    """The executor of an approved "mint" request: the subscription may now be minted by the next run."""
    s = ctx.store.subscription(subscription_seq)
    if s.status not in ("received", "held"):
        raise ConflictError(f"subscription {subscription_seq} is {s.status}", code="invalid_transition")
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.update_subscriptions([subscription_seq], approved_by=approval_key[:120])
        uow.audit(ctx.actor, "mint.approved", f"subscription:{subscription_seq}", {"approval": approval_key})
    return {"subscription": subscription_seq, "approved": True}


PAYER_RELEASE_KIND = "payer_hold_release"
PAYER_RELEASED_PREFIX = "payer-release:"  # approved_by of a subscription whose payer hold a second officer lifted


def _mint_approved(s: Any) -> bool:
    """Has a checker approved this (large) mint? A lifted payer hold is not a mint approval."""
    return bool(s.approved_by) and not str(s.approved_by).startswith(PAYER_RELEASED_PREFIX)


def request_payer_hold_release(ctx: IssuanceContext, subscription_seq: int, reason: str, *, maker: str,
                               case_id: str | None = None) -> str:
    """Ask a second compliance officer (approval `payer_hold_release`) to let a subscription held by the payer
    check be minted, after its case review found the payment is the customer's own (e.g. paid from an account of
    the customer's not yet verified); returns the approval id. Nothing changes until it is approved."""
    if ctx.approvals is None:
        raise ValidationError("a release needs the approvals service", code="approvals_not_wired")
    if len(reason.strip()) < 3:
        raise ValidationError("a release needs the case review's reason", code="reason_required")
    s = ctx.store.subscription(subscription_seq)
    if s.status != "held" or not (s.reason or "").startswith(PAYER_HOLD_PREFIX):
        raise ConflictError(f"subscription {subscription_seq} is {s.status} ({(s.reason or '')[:80]}), not held by "
                            "the payer check", code="not_payer_held")
    if s.approved_by:
        raise ConflictError(f"subscription {subscription_seq}'s payer hold is already released",
                            code="already_released")
    sub = ctx.approvals.submit(PAYER_RELEASE_KIND, {
        "subscription": s.seq, "customer_id": s.customer_id, "fiat": s.fiat, "amount_minor": int(s.amount_minor),
        "hold": str(s.reason)[:300], "reason": reason.strip()[:500], "case": (case_id or "")[:64]}, maker=maker)
    return str(sub.request.id) if sub.request is not None else "executed"


def release_payer_hold(ctx: IssuanceContext, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The executor of an approved `payer_hold_release`: the next mint run takes the subscription through every
    other check (CDD, screening, wallet, coverage, the large-mint approval) as usual."""
    seq = int(params["subscription"])
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        still = uow.subscriptions_still([seq], ("held",))
        s = ctx.store.subscription(seq)
        if seq not in still or not (s.reason or "").startswith(PAYER_HOLD_PREFIX):
            raise ConflictError(f"subscription {seq} is {s.status}, no longer held by the payer check",
                                code="not_payer_held")
        uow.update_subscriptions([seq], approved_by=(PAYER_RELEASED_PREFIX + key)[:120])
        uow.audit(ctx.actor, "subscription.payer_hold_released", f"subscription:{seq}",
                  {"approval": key, "reason": params.get("reason"), "case": params.get("case")})
    return {"subscription": seq, "released": True}


SUSPENSE_ASSIGN_KIND = "suspense_assignment"


def _suspense_row(ctx: IssuanceContext, seq: int) -> Any:
    row = next((r for r in ctx.store.suspense(None) if int(r.seq) == seq), None)
    if row is None:
        raise NotFoundError(f"no suspense credit {seq}", code="suspense_not_found")
    return row


def request_suspense_assignment(ctx: IssuanceContext, suspense_seq: int, customer_id: str, reason: str, *,
                                maker: str) -> str:
    """Ask a second person (approval `suspense_assignment`) to credit a bank receipt held in suspense (it matched
    no customer's reference) to `customer_id`, once an operator found whose it is; returns the approval id. When
    approved the customer's funds are credited and a subscription is received for them, which the next mint run
    takes through every check (CDD, screening, wallet, coverage) as any other."""
    if ctx.approvals is None:
        raise ValidationError("an assignment needs the approvals service", code="approvals_not_wired")
    if len(reason.strip()) < 3:
        raise ValidationError("an assignment needs the reason the credit is the customer's", code="reason_required")
    row = _suspense_row(ctx, suspense_seq)
    if row.status != "open":
        raise ConflictError(f"suspense credit {suspense_seq} is {row.status}", code="suspense_not_open")
    customer = ctx.store.customer(customer_id)
    sub = ctx.approvals.submit(SUSPENSE_ASSIGN_KIND, {
        "suspense": int(row.seq), "customer_id": customer.id, "fiat": row.fiat, "amount_minor": int(row.amount_minor),
        "debtor_name": (row.debtor_name or "")[:200], "remittance": (row.remittance or "")[:300],
        "reason": reason.strip()[:500]}, maker=maker)
    return str(sub.request.id) if sub.request is not None else "executed"


def assign_suspense(ctx: IssuanceContext, params: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The executor of an approved `suspense_assignment`: claim the credit (open -> assigned, status-checked),
    move it from suspense to the customer's funds and receive a subscription for it, in one transaction."""
    seq = int(params["suspense"])
    row = _suspense_row(ctx, seq)
    customer = ctx.store.customer(str(params["customer_id"]))
    fiat = Currency(row.fiat)
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        if not uow.move_suspense(seq, "open", "assigned"):
            raise ConflictError(f"suspense credit {seq} is no longer open", code="suspense_not_open")
        sub_seq = uow.next_seq("subscriptions")
        uow.post(iss.suspense_release_entry(seq, fiat, int(row.amount_minor), customer.seq, f"sub:{sub_seq}"),
                 "suspense assigned")
        uow.add_subscriptions([dict(seq=sub_seq, entry_key=f"suspense:{seq}", customer_id=customer.id,
                                    fiat=fiat.value, amount_minor=int(row.amount_minor), fee_minor=0,
                                    status=iss.SubscriptionStatus.RECEIVED.value, received_at_ns=now,
                                    updated_at_ns=now,
                                    reason=None)])
        uow.record_transitions([_t("subscription", sub_seq, None, "received", now, ctx.actor, f"suspense:{seq}")])
        uow.emit("subscriptions.received", {"subscriptions": [sub_seq], "suspense": seq})
        uow.audit(ctx.actor, "suspense.assigned", f"suspense:{seq}",
                  {"customer": customer.id, "subscription": sub_seq, "amount_minor": int(row.amount_minor),
                   "approval": key, "reason": params.get("reason")})
    return {"suspense": seq, "customer_id": customer.id, "subscription": sub_seq}


def _gate_mint(ctx: IssuanceContext, fiat: Currency, mint_base_units: int) -> None:
    reserves_svc.gate_mint(ctx.reserves, ctx.ledger, fiat, from_ns(_now(ctx)).astimezone(HK_TZ).date(),
                           mint_base_units=mint_base_units, buffer_bps=ctx.buffer_bps, now_ns=_now(ctx))


def _hold(ctx: IssuanceContext, held: list[tuple[Any, str]], report: MintReport) -> None:
    changed = [(s, reason) for s, reason in held if s.status != "held" or (s.reason or "") != reason[:300]]
    report.held += len(held)
    if not changed:
        return
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        # Only rows still waiting: one another runner claimed for a mint meanwhile is not touched.
        still = uow.subscriptions_still([s.seq for s, _ in changed], ("received", "held"))
        changed = [(s, reason) for s, reason in changed if s.seq in still]
        if not changed:
            return
        by_reason: dict[str, list[int]] = {}
        for s, reason in changed:
            by_reason.setdefault(reason[:300], []).append(s.seq)
        for reason, seqs in by_reason.items():
            uow.update_subscriptions(seqs, status="held", reason=reason)
        uow.record_transitions(_t("subscription", s.seq, s.status, "held", now, ctx.actor, reason)
                               for s, reason in changed)
        uow.emit("subscriptions.held", {"subscriptions": [s.seq for s, _ in changed][:1_000],
                                        "reasons": sorted(by_reason)})


def _create_mint_batch(ctx: IssuanceContext, fiat: Currency, ready: list[tuple[Any, iss.Customer, str, int]],
                       travel: Mapping[int, dict[str, Any]] | None = None) -> Any:
    """Claim the subscriptions (those still waiting, in the writers' transaction) and journal their batch with its
    ledger entry. Returns None when another runner claimed them all first."""
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        claimed = uow.subscriptions_still([s.seq for s, _, _, _ in ready], ("received", "held"))
        ready = [r for r in ready if r[0].seq in claimed]
        if not ready:
            return None
        attempts = uow.transitions_into("subscription", [s.seq for s, _, _, _ in ready], "minting")
        exhausted = [s for s, _, _, _ in ready if attempts[s.seq] >= iss.mint_attempts_max]
        if exhausted:  # held for an operator; the other credits of the batch go on
            why = f"mint attempts exhausted ({iss.mint_attempts_max}): an operator must resolve it"
            uow.update_subscriptions([s.seq for s in exhausted], status="held", reason=why)
            uow.record_transitions(_t("subscription", s.seq, s.status, "held", now, ctx.actor, why)
                                   for s in exhausted if s.status != "held")
            uow.emit("operator.task", {"kind": "mint_attempts_exhausted",
                                       "subscriptions": [s.seq for s in exhausted][:1_000]})
            ready = [r for r in ready if attempts[r[0].seq] < iss.mint_attempts_max]
            if not ready:
                return None
        transfers = []
        for s, c, _wallet, fee in ready:
            transfers += iss.mint_entry(s.seq, fiat, s.amount_minor, fee, c.seq, f"sub:{s.seq}",
                                        attempt=attempts[s.seq])
        total = sum(minor_to_base_units(s.amount_minor - fee) for s, _, _, fee in ready)
        key = content_key("mint", fiat, {s.seq: attempts[s.seq] for s, _, _, _ in ready})
        batch_seq = uow.add_mint_batch(fiat, key, len(ready), total)
        uow.post(transfers, "mint", new=True)
        groups: dict[tuple[str, int], list[int]] = {}
        for s, _c, wallet, fee in ready:
            groups.setdefault((wallet, fee), []).append(s.seq)
        for (wallet, fee), seqs in groups.items():
            uow.update_subscriptions(seqs, status="minting", mint_batch=batch_seq, wallet=wallet, fee_minor=fee,
                                     reason=None)
        uow.record_transitions(_t("subscription", s.seq, s.status, "minting", now, ctx.actor, key)
                               for s, _, _, _ in ready)
        uow.emit("mint.batch_created", {"batch": batch_seq, "coin": fiat.coin.value, "credits": len(ready),
                                        "amount_base_units": total}, key=key)
        uow.audit(ctx.actor, "mint.batch_created", f"mint_batch:{batch_seq}",
                  {"coin": fiat.coin.value, "credits": len(ready), "amount_base_units": total, "key": key})
        for s, _c, _w, _f in ready:  # the travel-rule payload, stored with the mint in its own commit
            if travel and s.seq in travel:
                uow.audit(ctx.actor, "travel_rule.recorded", f"subscription:{s.seq}", {"ivms101": travel[s.seq]})
    fault_point("mint.after_batch")
    return ctx.store.mint_batch(batch_seq)


def _ensure_attested(ctx: IssuanceContext, fiat: Currency, chain: Chain, mint_base_units: int, key: str) -> None:
    """Make sure the contract's reserve guard covers this mint (services.attester).

    Inline (`ctx.attest_inline`, a demo): post the ledger's reserve when the guard's figure does not cover the
    mint. Separate: never post (this process holds no attestor key); a mint it does not cover is refused with
    `awaiting_attestation`, so its credits wait, held, until the attester posts the bank's figure. Freshness and
    the date are the chain's own clock (its latest block); when posting made an idle node mine a block, a second
    posting dates it at the new head."""
    for _ in range(2):
        status = chain.status()
        if attester.covers(status, _now(ctx), mint_base_units):
            return
        if not ctx.attest_inline:
            raise RefusedError(
                f"awaiting attestation: the reserve guard's figure ({status.attested_reserve_base_units} base units"
                f"{'' if attester.is_current(status, _now(ctx)) else ', no longer current'}) does not cover "
                f"{status.total_supply_base_units} outstanding + {mint_base_units} to mint; the reserve attester "
                "posts the bank's figure", code="awaiting_attestation")
        as_of = from_ns(_now(ctx)).astimezone(HK_TZ).date()
        _outstanding, _in_flight, cash_minor = _liabilities(ctx, fiat)
        pool = rsv.value_pool(fiat.coin, ctx.reserves.list_assets(fiat.coin), ctx.reserves.market_data(as_of))
        reserve_base = minor_to_base_units(pool.reserve_value_minor + cash_minor)

        def digest(at_s: int, reserve_base: int = reserve_base) -> bytes:
            return hashlib.sha256(json.dumps({"coin": fiat.coin.value, "reserve_base_units": reserve_base,
                                              "at_s": at_s}, sort_keys=True).encode()).digest()

        attester.post_reserve(chain, _now(ctx), reserve_base, digest, f"attest:{key}")


def send_mint_batch(ctx: IssuanceContext, batch: Any) -> int:
    """Send (or re-send after a crash: same key, same transaction) a journaled mint batch; settle its state."""
    fiat = Currency(batch.fiat)
    chain = ctx.chains[fiat]
    subs = ctx.store.batch_subscriptions(batch.seq)
    credits = [(s.wallet, minor_to_base_units(s.amount_minor - s.fee_minor)) for s in subs]
    tx = chain.tx(batch.idempotency_key)
    reason = ""
    if tx is None or tx.succeeded is None:
        try:
            if tx is None:
                _ensure_attested(ctx, fiat, chain, sum(a for _, a in credits), batch.idempotency_key)
            tx = chain.batch_mint(credits, idempotency_key=batch.idempotency_key)
        except RefusedError as exc:
            reason = exc.detail
            tx = chain.tx(batch.idempotency_key)  # None: refused before signing; else sent and reverted
        except ConflictError as exc:
            if exc.code != "chain_tx_dropped":
                raise
            # its nonce was taken by another transaction of the minter (another process): it can never be mined,
            # so nothing was minted; reversed below and minted again by the next run under a new attempt
            reason, tx = exc.detail, None
    fault_point("mint.after_send")
    if tx is not None and tx.succeeded is False:
        # Reverted where it was mined: reversed only once that is final. A reorganisation may still bring the
        # same transaction back on a fork where it succeeds; reversing (and re-minting) before then mints twice.
        fresh = chain.refresh(batch.idempotency_key)
        if fresh is not None:
            tx = fresh
        if tx.succeeded is None or not tx.final(chain.confirmations):
            return 0  # still pending: recover and the next runs look again
    now = _now(ctx)
    if tx is not None and tx.succeeded:
        with ctx.store.unit_of_work(now) as uow:
            if not uow.move_mint_batch(batch.seq, "pending", "mined", tx.tx_hash):
                return 0  # another runner (a second recover) settled this batch first
            uow.update_subscriptions([s.seq for s in subs], status="minted")
            uow.record_transitions(_t("subscription", s.seq, s.status, "minted", now, ctx.actor, tx.tx_hash)
                                   for s in subs if s.status != "minted")
            uow.emit("subscriptions.minted", {"batch": batch.seq, "tx_hash": tx.tx_hash,
                                              "subscriptions": [s.seq for s in subs]}, key=batch.idempotency_key)
        fault_point("mint.after_booked")
        return len(subs)
    reason = reason or f"mint transaction {tx.tx_hash if tx else ''} reverted"
    customers = {c.id: c for c in ctx.store.customers()}
    with ctx.store.unit_of_work(now) as uow:
        if not uow.move_mint_batch(batch.seq, "pending", "refused", tx.tx_hash if tx else None):
            return 0  # another runner settled this batch first
        # The reversal of this attempt: the attempt number is how many times the subscription entered minting
        # before this batch (its own entry into minting included, hence - 1).
        attempts = uow.transitions_into("subscription", [s.seq for s in subs], "minting")
        transfers = []
        for s in subs:
            transfers += iss.mint_reversal_entry(s.seq, fiat, s.amount_minor, s.fee_minor,
                                                 customers[s.customer_id].seq, f"sub:{s.seq}",
                                                 attempt=max(0, attempts[s.seq] - 1))
        uow.post(transfers, "mint reversal", new=True)
        uow.update_subscriptions([s.seq for s in subs], status="held", reason=reason[:300], mint_batch=None)
        uow.record_transitions(_t("subscription", s.seq, s.status, "held", now, ctx.actor, reason) for s in subs)
        uow.emit("mint.batch_refused", {"batch": batch.seq, "reason": reason}, key=batch.idempotency_key)
        uow.audit(ctx.actor, "mint.batch_refused", f"mint_batch:{batch.seq}", {"reason": reason})
    return 0


# ---------------------------------------------------------------------------------------------------------
# Redemption
# ---------------------------------------------------------------------------------------------------------


def _request_hash(req: iss.RedemptionRequest) -> str:
    body = json.dumps([req.customer_id, req.coin.value, req.amount_minor, req.wallet.lower(), req.bank_account])
    return hashlib.sha256(body.encode()).hexdigest()


def request_redemption(ctx: IssuanceContext, req: iss.RedemptionRequest) -> Any:
    """A holder asks to redeem: validated, recorded, and told where to send the coins. Idempotent by key."""
    r, replayed = request_redemption_keyed(ctx, req)
    return r if replayed else ctx.store.redemption(r.seq)


def request_redemption_keyed(ctx: IssuanceContext, req: iss.RedemptionRequest, actor: str | None = None,
                             via: dict[str, Any] | None = None) -> tuple[Any, bool]:
    """`request_redemption` that also says whether the key was already recorded (True: this is a replay, nothing
    was written). The request, its transition, its outbox event and its audit entry (by `actor`, with `via`, e.g.
    the API call that asked) commit in one transaction, so the key is taken exactly when the request is."""
    fiat = req.coin.fiat
    if not req.idempotency_key or len(req.idempotency_key) > 120:
        raise ValidationError("an idempotency key of 1..120 characters is required", code="idempotency_key_required")
    rhash = _request_hash(req)
    with ctx.store.reading():
        existing = ctx.store.redemption_by_key(req.idempotency_key)
        if existing is None:
            customer = ctx.store.customer(req.customer_id)
            config = ctx.store.coin_config(fiat)
            wallets = ctx.store.wallets(customer.id)
            accounts = ctx.store.bank_accounts(customer.id)
    if existing is not None:
        return _replayed(existing, rhash), True
    iss.validate_redemption(req, customer, config, wallets, accounts)
    fee = iss.fee_minor(req.amount_minor, config.redemption_fee_bps)
    travel = None if ctx.compliance is None else ctx.compliance.redemption_payload(customer, req)
    now = _now(ctx)
    who = actor or ctx.actor
    with ctx.store.unit_of_work(now) as uow:
        # Checked again under the writers' lock: a concurrent request with this key may have committed since.
        raced = uow.redemption_by_key(req.idempotency_key)
        if raced is None:
            seq = uow.add_redemption(dict(
                idempotency_key=req.idempotency_key, request_hash=rhash, customer_id=customer.id,
                fiat=fiat.value, amount_minor=req.amount_minor, fee_minor=fee, wallet=req.wallet.lower(),
                bank_account=req.bank_account, status=RedemptionStatus.AWAITING_COINS.value, requested_at_ns=now))
            uow.record_transitions([_t("redemption", seq, None, "awaiting_coins", now, who, req.idempotency_key)])
            uow.emit("redemption.requested", {"redemption": seq, "coin": fiat.coin.value,
                                              "amount_base_units": minor_to_base_units(req.amount_minor),
                                              "send_to": ctx.chains[fiat].redemption_address},
                     key=req.idempotency_key)
            uow.audit(who, "redemption.requested", f"redemption:{seq}",
                      {"customer": customer.id, "amount_minor": req.amount_minor, "fee_minor": fee, **(via or {})})
            if travel is not None:
                uow.audit(who, "travel_rule.recorded", f"redemption:{seq}", {"ivms101": travel})
    if raced is not None:
        return _replayed(raced, rhash), True
    return uow.added_redemption, False  # committed: the row as written, without reading it back


def _replayed(existing: Any, request_hash: str) -> Any:
    if existing.request_hash != request_hash:
        raise ConflictError("this idempotency key was used for a different redemption request",
                            code="idempotency_key_reused")
    return existing


def cancel_redemption(ctx: IssuanceContext, seq: int, reason: str) -> None:
    r = ctx.store.redemption(seq)
    now = _now(ctx)
    tr = _t("redemption", seq, r.status, "cancelled", now, ctx.actor, reason)
    with ctx.store.unit_of_work(now) as uow:
        uow.update_redemption(seq, status="cancelled")
        uow.record_transitions([tr])
        uow.audit(ctx.actor, "redemption.cancelled", f"redemption:{seq}", {"reason": reason})


@dataclass
class RedemptionReport:
    burned: int = 0
    unmatched: int = 0
    payout_files: list[str] = field(default_factory=list)
    paid_out: int = 0


def run_redemptions(ctx: IssuanceContext, fiat: Currency) -> RedemptionReport:
    """Match coins received at the redemption address to waiting requests; burn them; book the entry that burns
    the coins and holds the reserve cash for the payout, with the payout deadline."""
    report = RedemptionReport()
    chain = ctx.chains[fiat]
    ctx.index(fiat)
    waiting: dict[tuple[str, int], list[Any]] = {}
    for r in ctx.store.redemptions(fiat, ["awaiting_coins"], limit=100_000):
        waiting.setdefault((r.wallet, minor_to_base_units(r.amount_minor)), []).append(r)
    incoming = ctx.store.unclaimed_transfers_in(ctx.coin_cursors[fiat], chain.redemption_address,
                                                limit=redemptions_per_run_max)
    matched: list[tuple[Any, Any]] = []
    unmatched: list[Any] = []
    for ev in incoming:
        queue = waiting.get((ev.sender.lower(), ev.amount_base_units))
        if queue:
            matched.append((queue.pop(0), ev))  # the oldest waiting request from that wallet for that amount
        else:
            unmatched.append(ev)
    now = _now(ctx)
    if unmatched:
        with ctx.store.unit_of_work(now) as uow:
            free = uow.events_unclaimed([ev.event_key for ev in unmatched])
            unmatched = [ev for ev in unmatched if ev.event_key in free]  # another runner took the rest
            for ev in unmatched:
                uow.claim_event(ev.event_key, "unmatched", None)
                uow.emit("operator.task", {"kind": "unmatched_coins_received", "from": ev.sender,
                                           "amount_base_units": ev.amount_base_units, "tx_hash": ev.tx_hash})
            uow.audit(ctx.actor, "redemption.unmatched_coins", f"coin:{fiat.coin.value}",
                      {"events": [ev.event_key for ev in unmatched][:500]})
        report.unmatched += len(unmatched)
    if matched:
        # One burn for everything matched in this run: its key is stored with each redemption in the same commit
        # as the entries that book it, so a crash before or after the burn re-sends the same transaction.
        deadline = payout_deadline_ns(ctx.calendar, now)
        burn_key = ""
        with ctx.store.unit_of_work(now) as uow:
            # Claimed, not read: only requests still waiting and coin transfers no flow took, in the writers'
            # transaction; a second runner that read the same rows finds them gone and books nothing.
            still = uow.redemptions_still([r.seq for r, _ in matched], "awaiting_coins")
            free = uow.events_unclaimed([ev.event_key for _, ev in matched])
            matched = [(r, ev) for r, ev in matched if r.seq in still and ev.event_key in free]
            if matched:
                # The attempt: how many burns of this redemption came before (a reversed burn is burned again).
                attempts = uow.transitions_into("redemption", [r.seq for r, _ in matched], "burned")
                burn_key = content_key("burn", fiat, {r.seq: attempts[r.seq] for r, _ in matched})
                transfers = []
                for r, _ev in matched:
                    transfers += iss.burn_entry(r.seq, fiat, r.amount_minor, r.fee_minor, f"rdm:{r.seq}",
                                                attempt=attempts[r.seq])
                for r, ev in matched:
                    uow.claim_event(ev.event_key, "redemption", r.seq)
                    uow.update_redemption(r.seq, status="burned", coin_event=ev.event_key, burn_key=burn_key,
                                          valid_at_ns=now, deadline_ns=deadline)
                uow.post(transfers, "burn", new=True)
                uow.record_transitions(_t("redemption", r.seq, r.status, "burned", now, ctx.actor, ev.tx_hash)
                                       for r, ev in matched)
                uow.emit("redemptions.coins_received", {"redemptions": [r.seq for r, _ in matched][:1_000],
                                                        "deadline_ns": deadline, "burn_key": burn_key})
                uow.audit(ctx.actor, "redemption.burn_booked", f"coin:{fiat.coin.value}",
                          {"redemptions": [r.seq for r, _ in matched][:1_000], "burn_key": burn_key,
                           "deadline_ns": deadline})
        if matched:
            fault_point("redeem.after_burn_booked")
            try:
                _burn(ctx, fiat, burn_key)
            except RefusedError as exc:  # booked: the payout gate sends it again, or reverses it
                ctx.say(f"redeem {fiat.value}: burn {burn_key} refused for now: {exc.detail}")
            except ConflictError as exc:  # e.g. dropped (its nonce taken): the payout gate reverses it
                if exc.code != "chain_tx_dropped":
                    raise
                ctx.say(f"redeem {fiat.value}: burn {burn_key} dropped: {exc.detail}")
            fault_point("redeem.after_burn")
        report.burned += len(matched)
    report.payout_files += run_payouts(ctx, fiat)
    if report.burned or report.unmatched or report.payout_files:
        ctx.say(f"redeem {fiat.value}: {report.burned} burned, {report.unmatched} unmatched coin transfer(s), "
                f"payout file(s): {', '.join(report.payout_files) or 'none'}")
    return report


def _burn(ctx: IssuanceContext, fiat: Currency, burn_key: str) -> Any:
    """Burn (or re-send after a crash, same key) the coins of every redemption booked under `burn_key`."""
    chain = ctx.chains[fiat]
    tx = chain.tx(burn_key)
    if tx is not None and tx.succeeded is not None:
        return tx
    total = sum(minor_to_base_units(r.amount_minor)
                for r in ctx.store.redemptions(fiat, ["burned", "payout_instructed", "paid"], limit=1_000_000)
                if r.burn_key == burn_key)
    return chain.burn(total, idempotency_key=burn_key)


@dataclass
class PayoutGate:
    """What the finality gate decided in one payout run."""

    ready: list[Any] = field(default_factory=list)  # burned redemptions whose burn and coins are final
    waiting: int = 0  # burns not yet deep enough (or not yet mined)
    reversed: list[int] = field(default_factory=list)  # redemptions whose burn reverted: back to awaiting coins
    stopped: list[int] = field(default_factory=list)  # burn final but the coins it burned are gone: incident


def _gate_payouts(ctx: IssuanceContext, fiat: Currency, burned: list[Any]) -> PayoutGate:
    """No money leaves before the chain is final: a redemption is paid only when its burn succeeded and is the
    coin's confirmation depth deep in the canonical chain (re-read now, not remembered), and the holder's
    transfer into the redemption address is still among the indexed (confirmed, canonical) events."""
    gate = PayoutGate()
    chain = ctx.chains[fiat]
    by_key: dict[str, list[Any]] = {}
    for r in burned:
        by_key.setdefault(r.burn_key, []).append(r)
    for key, rows in by_key.items():
        tx = chain.refresh(key)
        if tx is not None and tx.state == ChainTxState.DROPPED:
            # its nonce went to another transaction: these bytes can never be mined, nothing was burned; the
            # coins are still at the redemption address, matched again and burned under the next attempt's key
            _reverse_burn(ctx, fiat, key, rows, f"burn {tx.tx_hash} dropped (its nonce was taken by another "
                          "transaction); burned again under a new key")
            gate.reversed += [r.seq for r in rows]
            continue
        if tx is None:  # booked, never sent (a crash in between, or refused): send it now
            try:
                _burn(ctx, fiat, key)
            except ConflictError as exc:
                if exc.code != "chain_tx_dropped":
                    raise
                gate.waiting += len(rows)  # journaled as dropped: reversed on the next pass
                continue
            except RefusedError as exc:
                ctx.index(fiat)
                present = ctx.store.coin_events_present(ctx.coin_cursors[fiat], [r.coin_event for r in rows])
                if any(r.coin_event not in present for r in rows):  # nothing was sent, and the coins are gone
                    _reverse_burn(ctx, fiat, key, rows, f"burn refused and the coins are not on chain: {exc.detail}")
                    gate.reversed += [r.seq for r in rows]
                    continue
                ctx.say(f"redeem {fiat.value}: burn {key} refused: {exc.detail}")  # e.g. paused: wait
            gate.waiting += len(rows)
            continue
        if not tx.final(chain.confirmations):
            gate.waiting += len(rows)
            continue
        if not tx.succeeded:
            _reverse_burn(ctx, fiat, key, rows, f"burn {tx.tx_hash} reverted on the final chain")
            gate.reversed += [r.seq for r in rows]
            continue
        ctx.index(fiat)
        present = ctx.store.coin_events_present(ctx.coin_cursors[fiat], [r.coin_event for r in rows])
        for r in rows:
            if r.coin_event in present:
                gate.ready.append(r)
            else:
                gate.stopped.append(r.seq)
    if gate.stopped:
        _stop_payouts(ctx, fiat, gate.stopped, "burned coins whose transfer to the redemption address is no "
                      "longer on the chain")
    return gate


def _reverse_burn(ctx: IssuanceContext, fiat: Currency, burn_key: str, rows: list[Any], reason: str) -> None:
    """The burn reverted where it counts (e.g. a reorganisation left the holder's transfer out): nothing was
    burned, so book the burn's reversal and put each redemption back to awaiting its coins, its coin event
    released (matched again if it comes back)."""
    now = _now(ctx)
    with ctx.store.unit_of_work(now) as uow:
        still = uow.redemptions_still([r.seq for r in rows], RedemptionStatus.BURNED.value)
        rows = [r for r in rows if r.seq in still and r.burn_key == burn_key]
        if not rows:
            return
        attempts = uow.transitions_into("redemption", [r.seq for r in rows], "burned")
        transfers = []
        for r in rows:
            transfers += iss.burn_reversal_entry(r.seq, fiat, r.amount_minor, r.fee_minor, f"rdm:{r.seq}",
                                                 attempt=max(0, attempts[r.seq] - 1))
            if r.coin_event:
                uow.release_event(r.coin_event)
            uow.update_redemption(r.seq, status=RedemptionStatus.AWAITING_COINS.value, coin_event=None,
                                  burn_key=None, valid_at_ns=None, deadline_ns=None)
        uow.post(transfers, "burn reversal", new=True)
        uow.record_transitions(_t("redemption", r.seq, r.status, "awaiting_coins", now, ctx.actor, reason)
                               for r in rows)
        uow.emit("redemptions.burn_reversed", {"redemptions": [r.seq for r in rows][:1_000], "burn_key": burn_key,
                                               "reason": reason}, key=f"{burn_key}:reversed")
        uow.audit(ctx.actor, "redemption.burn_reversed", f"coin:{fiat.coin.value}",
                  {"redemptions": [r.seq for r in rows][:1_000], "burn_key": burn_key, "reason": reason})
    ctx.say(f"redeem {fiat.value}: burn {burn_key} reversed ({reason}); {len(rows)} redemption(s) await coins")


def _incident_once(ctx: IssuanceContext, fiat: Currency, incident_id: str, kind: str, summary: str,
                   details: dict[str, Any]) -> bool:
    """Open an incident unless one with this id is already registered; True when it was opened now."""
    if incident_id in {i.incident_id for i in ctx.reserves.list_incidents()}:
        return False
    reserves_svc.open_incident(ctx.reserves, incident_id=incident_id, coin=fiat.coin, kind=kind, summary=summary,
                               details=details, now_ns=_now(ctx), severity="high")
    return True


def _stop_payouts(ctx: IssuanceContext, fiat: Currency, seqs: list[int], reason: str) -> None:
    """Money must not leave for these redemptions, and the platform cannot tell alone what is right: an
    incident for the operator (one per redemption, idempotent) and the payout withheld."""
    for seq in seqs:
        _incident_once(ctx, fiat, f"payout-stopped-{fiat.value.lower()}-{seq}", "payout_stopped",
                       f"redemption {seq}: payout withheld: {reason}", {"redemption": seq, "reason": reason})
    ctx.say(f"redeem {fiat.value}: payout withheld for {len(seqs)} redemption(s): {reason}")


def check_paid_burns(ctx: IssuanceContext, fiat: Currency, limit: int = 5_000) -> list[int]:
    """After the payout file: a burn that is no longer in the canonical chain (a reorganisation deeper than the
    confirmation depth) means money left for coins that were not destroyed. Opens an incident per redemption
    (idempotent) and returns their numbers; the journal offers the burn again meanwhile."""
    chain = ctx.chains[fiat]
    lost: list[int] = []
    by_key: dict[str, list[int]] = {}
    for r in ctx.store.redemptions(fiat, [RedemptionStatus.PAYOUT_INSTRUCTED.value], limit=limit):
        by_key.setdefault(r.burn_key, []).append(r.seq)
    for key, seqs in by_key.items():
        tx = chain.refresh(key) if key else None
        if tx is None or not (tx.succeeded and tx.final(chain.confirmations)):
            lost += seqs
    for seq in lost:
        _incident_once(ctx, fiat, f"paid-burn-lost-{fiat.value.lower()}-{seq}", "paid_burn_lost",
                       f"redemption {seq} was instructed for payout but its burn is no longer final on the chain",
                       {"redemption": seq})
    return lost


def run_payouts(ctx: IssuanceContext, fiat: Currency) -> list[str]:
    """Put every burned redemption whose burn is final into a payout batch (committed first), then write its
    payout file (the rail's message: pain.001 by default, pacs.008 where BAUHINIA_PAYOUT_MESSAGES says so). A burn
    not yet deep enough waits for a later run."""
    burned = ctx.store.redemptions(fiat, ["burned"], limit=redemptions_per_run_max)
    ready = _gate_payouts(ctx, fiat, burned).ready if burned else []
    files: list[str] = []
    if ready:
        now = _now(ctx)
        execution = payout_execution_date(ctx, fiat, now)
        with ctx.store.unit_of_work(now) as uow:
            # Claimed: only redemptions still burned (a second runner's batch took the others).
            still = uow.redemptions_still([r.seq for r in ready], RedemptionStatus.BURNED.value)
            ready = [r for r in ready if r.seq in still]
            if ready:
                seq = uow.next_seq("payout_batches")
                batch_seq = uow.add_payout_batch(fiat, f"BH-PO-{fiat.value}-{seq:08d}", execution.isoformat())
                uow.update_redemptions([r.seq for r in ready], status="payout_instructed", payout_batch=batch_seq)
                uow.record_transitions(_t("redemption", r.seq, r.status, "payout_instructed", now, ctx.actor,
                                          f"payout batch {batch_seq}") for r in ready)
                uow.emit("payout.batch_created", {"batch": batch_seq, "redemptions": [r.seq for r in ready]})
                uow.audit(ctx.actor, "payout.batch_created", f"payout_batch:{batch_seq}",
                          {"redemptions": [r.seq for r in ready]})
        if ready:
            fault_point("payout.after_batch")
    for b in ctx.store.payout_batches("pending"):
        if Currency(b.fiat) is fiat:
            files.append(write_payout_file(ctx, b))
    return files


def payout_execution_date(ctx: IssuanceContext, fiat: Currency, now_ns: int) -> date:
    """The day the bank executes a payout instructed now: today on a business day before the currency's cut-off,
    else the next business day."""
    local = from_ns(now_ns).astimezone(HK_TZ)
    cutoff = ctx.payout_cutoff.get(fiat)
    if ctx.calendar.is_business_day(local.date()) and (cutoff is None or local.time() < cutoff):
        return local.date()
    return ctx.calendar.next_business_day(local.date())


def write_payout_file(ctx: IssuanceContext, batch: Any) -> str:
    """Write (or re-write identically after a crash) the payout file (pain.001 or pacs.008) of a committed payout
    batch."""
    fiat = Currency(batch.fiat)
    accounts = {(a.customer_id, a.account): a for a in ctx.store.bank_accounts()}
    payouts = []
    for r in ctx.store.batch_redemptions(batch.seq):
        acct = accounts[(r.customer_id, r.bank_account)]
        invoice = ctx.invoice_reference_for(r.idempotency_key) if ctx.invoice_reference_for else None
        payouts.append(bnk.PayoutInstruction(
            redemption_reference=payout_reference(fiat, r.seq), amount_minor=r.amount_minor - r.fee_minor,
            currency=fiat.value, creditor=bnk.Party(acct.holder_name, bnk.AccountId(acct.account, acct.scheme),
                                                    acct.bic), invoice_reference=invoice))
    payment = bnk.PaymentBatch(message_id=batch.message_id, created_at=from_ns(int(batch.created_at_ns)),
                               debtor=ctx.issuer[fiat], execution_date=date.fromisoformat(batch.execution_date),
                               payouts=tuple(payouts))
    written = ctx.bank.write_payment_file(payment)
    fault_point("payout.after_file")
    with ctx.store.unit_of_work(_now(ctx)) as uow:
        uow.set_payout_batch(batch.seq, "written", written.name)
        uow.emit("payout.file_written", {"batch": batch.seq, "file": written.name, "count": len(payouts)})
    fault_point("payout.after_marked")
    return str(written.name)


# ---------------------------------------------------------------------------------------------------------
# Deadlines and recovery
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedemptionAge:
    seq: int
    customer_id: str
    fiat: str
    status: str
    amount_minor: int
    age_s: int
    time_left_s: int
    deadline: datetime
    level: str  # ok | warning | breached


def redemption_tracker(ctx: IssuanceContext, warn_before_s: int | None = None) -> list[RedemptionAge]:
    """Every unpaid valid redemption with its age and time left; raises an alert (once per level) before a
    deadline is breached (`ctx.warn_before_s` ahead, by default) and when it is."""
    if warn_before_s is None:  # a context from before the setting (a read model's) warns at the default
        warn_before_s = int(getattr(ctx, "warn_before_s", redemption_warning_before_s))
    now = _now(ctx)
    out: list[RedemptionAge] = []
    alerts: list[tuple[Any, int]] = []
    for r in ctx.store.redemptions(None, ["burned", "payout_instructed"], limit=100_000):
        left = (int(r.deadline_ns) - now) // 1_000_000_000
        level = 2 if left <= 0 else (1 if left <= warn_before_s else 0)
        out.append(RedemptionAge(r.seq, r.customer_id, r.fiat, r.status, r.amount_minor,
                                 (now - int(r.valid_at_ns)) // 1_000_000_000, left,
                                 from_ns(int(r.deadline_ns)), ("ok", "warning", "breached")[level]))
        if level > int(r.alert_level):
            alerts.append((r, level))
    if alerts:
        with ctx.store.unit_of_work(now) as uow:
            for r, level in alerts:
                uow.update_redemption(r.seq, alert_level=level)
                topic = "redemption.deadline_breached" if level == 2 else "redemption.deadline_warning"
                uow.emit(topic, {"redemption": r.seq, "deadline_ns": int(r.deadline_ns)}, key=r.idempotency_key)
                uow.audit(ctx.actor, topic, f"redemption:{r.seq}", {"deadline_ns": int(r.deadline_ns)})
    return out


def recover(ctx: IssuanceContext) -> dict[str, int]:
    """After a crash or restart: re-drive every flow from what was committed (idempotent, bounded)."""
    done = {"mint_batches": 0, "burns_and_payouts": 0, "set_aside": 0}
    for b in ctx.store.mint_batches("pending"):
        if not ctx.store.batch_subscriptions(b.seq):
            # A batch that claimed no credits (left by a runner that lost a race before the claims existed)
            # can never be sent: void it rather than wedge every later recovery on it.
            now = _now(ctx)
            with ctx.store.unit_of_work(now) as uow:
                uow.move_mint_batch(b.seq, "pending", "void", None)
                uow.audit(ctx.actor, "mint.batch_voided", f"mint_batch:{b.seq}", {"reason": "no credits"})
            done["set_aside"] += 1
            continue
        try:
            send_mint_batch(ctx, b)
        except BauhiniaError as exc:  # set it aside for an operator, and go on with every other flow
            with ctx.store.unit_of_work(_now(ctx)) as uow:
                uow.audit(ctx.actor, "mint.batch_set_aside", f"mint_batch:{b.seq}", {"reason": str(exc)[:300]})
                uow.emit("mint.batch_set_aside", {"batch": b.seq, "reason": str(exc)[:300]},
                         key=b.idempotency_key)
            ctx.say(f"recover: mint batch {b.seq} set aside: {exc}")
            done["set_aside"] += 1
            continue
        done["mint_batches"] += 1
    from bauhinia.services import refunds as refunds_svc

    done["refund_files"] = refunds_svc.recover_refunds(ctx)
    done["mints_reversed"] = 0
    for fiat in ctx.chains:
        done["mints_reversed"] += settle_mints(ctx, fiat)["reversed"]
        done["burns_and_payouts"] += len(run_payouts(ctx, fiat))
        done["paid_burns_lost"] = done.get("paid_burns_lost", 0) + len(check_paid_burns(ctx, fiat))
    return done


def supply_check(ctx: IssuanceContext, fiat: Currency) -> dict[str, int]:
    """Ledger coins outstanding against the chain's total supply (base units); equal when nothing is in flight."""
    ledger_minor = ctx.ledger.account(iss.book_account_id(fiat, Book.COINS_OUTSTANDING)).posted
    chain_supply = ctx.chains[fiat].total_supply()
    return {"ledger_outstanding_base_units": minor_to_base_units(ledger_minor),
            "chain_supply_base_units": chain_supply,
            "difference_base_units": chain_supply - minor_to_base_units(ledger_minor),
            "ledger_outstanding_minor": ledger_minor,
            "chain_supply_minor": base_units_to_minor(chain_supply - chain_supply % minor_to_base_units(1))}


# The bank side lives in its own module; these names stay importable from here.
from bauhinia.services.bank_booking import IngestReport as IngestReport  # noqa: E402
from bauhinia.services.bank_booking import ingest_bank_files as ingest_bank_files  # noqa: E402
