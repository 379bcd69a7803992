"""The reserve attester (issue 20 item 3): the figure the coin contract's reserve guard checks every mint against.

Where the figure comes from decides who can lift it. In `inline` mode (a demo's default) the minting process posts
the ledger's reserve when a mint needs it, so the process that mints also feeds the guard that limits it. In
`separate` mode (the default outside a demo) the minting process never posts: a mint the guard's figure does not
cover waits, held with the reason `awaiting attestation`, until the attester, a process of its own holding only
the `reserve_attestor` key, posts a figure that covers it (`bauhinia reserves attester`).

The attester's figure is the bank's, checked against the books, never the books alone:
  bank cash    the closing balance (CLBD) of the coin's reserve account on the latest camt.053 the bank sent,
               plus the entries the bank notified since (camt.054 booked from the bank's own channel, on no
               statement yet), less the cash the ledger holds for payouts the bank has not debited yet;
  ledger cash  the ledger's available reserve cash;
  cash         the lower of the two: the guard never hears of more cash than both the bank and the books show;
  assets       the reserve pool's value after haircuts (custodian positions entered under maker-checker, priced
               from the loaded market data).
It refuses to post, saying why, when the coin's circuit breaker is open (a reconciliation break), when the bank has
sent no statement for the account, or when the latest statement closes more than `statement_max_business_days`
Hong Kong business days before today (a statement per business day is expected, so a weekend does not stop it).
Capital paid in outside the bank's files is not bank evidence until a statement shows it, so the figure is then
below the ledger's: the guard under-attests, which only ever refuses a mint, never lets one through.

Dates and freshness are the chain's own: an attestation is dated no later than the latest block (the contract
refuses one from the future) and counts as current for half the contract's maximum age, measured on that clock, so
an idle node neither refuses every attestation nor lets one go stale by the wall clock alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from bauhinia.domain import reserves as rsv
from bauhinia.domain.calendar import HK_TZ, from_ns
from bauhinia.domain.errors import ConflictError, RefusedError
from bauhinia.domain.money import Currency, minor_to_base_units
from bauhinia.ports import Chain, Clock, ReserveSources, ReservesStore
from bauhinia.services import reserves as reserves_svc
from bauhinia.services.regulatory import hk_midnight_ns

INLINE = "inline"
SEPARATE = "separate"
MODES = (INLINE, SEPARATE)
# the contract refuses an attestation dated after its latest block: dated this much before the wall clock
attestation_clock_skew_s = 60
statement_max_business_days_default = 2


@dataclass(frozen=True, slots=True)
class ReserveFigure:
    """One coin's attested reserve and how it was reached (recorded with each posting)."""

    coin: str
    statement: str | None  # message id of the camt.053 it starts from
    statement_closing_on: date | None
    bank_closing_minor: int
    bank_notified_since_minor: int  # camt.054 entries booked from the bank on no statement yet (net)
    held_for_payouts_minor: int  # burned and instructed, not yet debited by the bank
    bank_cash_minor: int
    ledger_cash_minor: int
    cash_minor: int  # min(bank cash, ledger cash)
    assets_minor: int
    reserve_base_units: int

    def digest(self, at_s: int) -> bytes:
        body = {**asdict(self), "statement_closing_on": str(self.statement_closing_on), "at_s": at_s}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()


@dataclass
class AttesterContext:
    reserves: ReservesStore
    sources: ReserveSources
    ledger: reserves_svc.LedgerReader
    chains: Mapping[Currency, Chain]  # keyed by fiat currency
    reserve_accounts: Mapping[str, Currency]  # bank account id -> fiat
    clock: Clock
    is_business_day: Callable[[date], bool]
    audit: Callable[[str, str, str, dict[str, Any]], None]  # (actor, action, subject, details)
    statement_max_business_days: int = statement_max_business_days_default
    actor: str = "reserve-attester"


@dataclass
class AttestResult:
    coin: str
    posted: bool
    reason: str  # why it posted, or why it did not
    figure: ReserveFigure | None = None
    at_s: int = 0
    tx_hash: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _oldest_allowed(today: date, business_days: int, is_business_day: Callable[[date], bool]) -> date:
    """The earliest closing date of a statement still current today: `business_days` business days back."""
    day = today
    for _ in range(business_days):
        day -= timedelta(days=1)
        while not is_business_day(day):
            day -= timedelta(days=1)
    return day


def bank_figure(actx: AttesterContext, fiat: Currency, as_of: date) -> ReserveFigure:
    """The figure the attester may post for a coin today; RefusedError naming why it may post none."""
    coin = fiat.coin
    breaker = actx.reserves.breaker_state(coin)
    if breaker.halted:
        raise RefusedError(f"{coin.value}: the circuit breaker is open ({breaker.reason[:120]}): the bank and the "
                           "books disagree, so no reserve figure is attested", code="attester_breaker_open")
    accounts = sorted(a for a, f in actx.reserve_accounts.items() if f is fiat)
    statements = actx.reserves.latest_statements()
    statement = next((statements[a] for a in accounts if a in statements), None)
    if statement is None or statement.closing_on is None:
        raise RefusedError(f"{coin.value}: no bank statement (camt.053) with a closing balance recorded for "
                           f"{', '.join(accounts) or 'its reserve account'}: there is no bank figure to attest",
                           code="attester_no_statement")
    oldest = _oldest_allowed(as_of, actx.statement_max_business_days, actx.is_business_day)
    if statement.closing_on < oldest:
        raise RefusedError(f"{coin.value}: the latest bank statement ({statement.message_id}) closes on "
                           f"{statement.closing_on}, before {oldest} ({actx.statement_max_business_days} business "
                           "days back): the bank figure is stale", code="attester_statement_stale")
    notified, _count = actx.sources.unstated_bank_entries_minor(
        fiat, received_from_ns=hk_midnight_ns(statement.closing_on))
    figures = reserves_svc.ledger_figures(actx.ledger, fiat)
    held = figures.held_for_payouts_minor
    bank_cash = statement.closing_minor + notified - held
    cash = max(0, min(bank_cash, figures.reserve_cash_available_minor))
    pool = rsv.value_pool(coin, actx.reserves.list_assets(coin), actx.reserves.market_data(as_of))
    return ReserveFigure(coin.value, statement.message_id, statement.closing_on, statement.closing_minor, notified,
                         held, bank_cash, figures.reserve_cash_available_minor, cash, pool.reserve_value_minor,
                         minor_to_base_units(pool.reserve_value_minor + cash))


def post_reserve(chain: Chain, now_ns: int, reserve_base_units: int, digest: Callable[[int], bytes],
                 key: str) -> tuple[int, Any]:
    """Post `reserve_base_units` to the coin's reserve guard, dated on the chain's clock; (date, transaction).

    The date is the earlier of the wall clock (less the skew) and the latest block, never before the attestation
    already there. A posting whose nonce another process of the same key took first (chain_tx_dropped) posted
    nothing and is sent again under its own key."""
    status = chain.status()
    wall_s = now_ns // 1_000_000_000 - attestation_clock_skew_s
    chain_s = status.head_time_s or wall_s
    at_s = max(min(wall_s, chain_s), status.attested_at_s)
    try:
        return at_s, chain.attest_reserve(reserve_base_units, at_s, digest(at_s), idempotency_key=f"{key}:{at_s}")
    except ConflictError as exc:
        if exc.code != "chain_tx_dropped":
            raise
        return at_s, chain.attest_reserve(reserve_base_units, at_s, digest(at_s),
                                          idempotency_key=f"{key}:{at_s}:again")


def is_current(status: Any, wall_now_ns: int) -> bool:
    """Is the attestation on chain younger than half the contract's maximum age, on the chain's clock?"""
    chain_s = status.head_time_s or wall_now_ns // 1_000_000_000 - attestation_clock_skew_s
    return bool(status.attested_at_s) and chain_s - status.attested_at_s < status.reserve_max_age_s // 2


def covers(status: Any, wall_now_ns: int, mint_base_units: int) -> bool:
    """Would the attestation on chain let a mint of `mint_base_units` through now?"""
    return is_current(status, wall_now_ns) and (
        status.attested_reserve_base_units >= status.total_supply_base_units + mint_base_units)


def attest(actx: AttesterContext, fiat: Currency, *, force: bool = False) -> AttestResult:
    """Post the bank's figure for one coin when the guard's figure differs from it or is no longer current
    (`force`: post anyway). Each posting is audited with the figure and how it was reached."""
    coin = fiat.coin.value
    now = actx.clock.now_ns()
    as_of = from_ns(now).astimezone(HK_TZ).date()
    try:
        figure = bank_figure(actx, fiat, as_of)
    except RefusedError as exc:
        return AttestResult(coin, False, exc.detail, details={"code": exc.code})
    chain = actx.chains[fiat]
    status = chain.status()
    current = is_current(status, now)
    if not force and current and status.attested_reserve_base_units == figure.reserve_base_units:
        return AttestResult(coin, False, "the guard's figure is current and equals the bank's", figure,
                            status.attested_at_s)
    why = ("forced" if force else "the guard's figure is no longer current" if not current
           else f"the bank's figure changed from {status.attested_reserve_base_units} base units")
    at_s, tx = post_reserve(chain, now, figure.reserve_base_units, figure.digest,
                            f"attest:attester:{coin}:{figure.reserve_base_units}")
    details = {**asdict(figure), "statement_closing_on": str(figure.statement_closing_on), "at_s": at_s,
               "tx_hash": tx.tx_hash, "why": why}
    actx.audit(actx.actor, "reserve.attested", f"coin:{coin}", details)
    if figure.reserve_base_units < status.total_supply_base_units:
        why += (f"; below the supply on chain ({status.total_supply_base_units} base units): mints stop until the "
                "reserve covers it")
    return AttestResult(coin, True, why, figure, at_s, tx.tx_hash, details)


def attest_all(actx: AttesterContext, *, force: bool = False) -> list[AttestResult]:
    return [attest(actx, fiat, force=force) for fiat in sorted(set(actx.reserve_accounts.values()),
                                                                   key=lambda f: f.value)
            if fiat in actx.chains]
