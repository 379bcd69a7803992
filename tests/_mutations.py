"""Pytest plugin of the mutation check: switch off one control of the requirements register.

Loaded only by tools/mutation_check.py (`-p _mutations` with tests/ on PYTHONPATH) and by the quick test of that
tool; never by `make test`. BAUHINIA_MUTATE=<requirement id> names the control to switch off. Python controls are
patched in `pytest_configure`, before any test module is imported, so `from module import name` in a test sees
the mutant too. Contract controls are mutated in the Vyper source: a mutated copy is written to a temporary file
and the titanoboa test helper (tests/unit/contract_env.py) is pointed at it once collection has imported it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

ENV = "BAUHINIA_MUTATE"
ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "StableCoin.vy"

_undo: list[Callable[[], None]] = []


def _set(obj: Any, name: str, value: Any) -> None:
    old = getattr(obj, name)
    setattr(obj, name, value)
    _undo.append(lambda: setattr(obj, name, old))


# --- one mutant per requirement -----------------------------------------------------------------------------


def _full_backing() -> None:
    from bauhinia.domain import reserves

    original = reserves.check_mint

    def always_allowed(**kwargs: int) -> Any:
        return dataclasses.replace(original(**kwargs), allowed=True)

    _set(reserves, "check_mint", always_allowed)


def _mint_funds() -> None:
    from bauhinia.domain import issuance as iss
    from bauhinia.domain.ledger import Account, AccountKind

    def overdraftable(customer: Any, fiat: Any) -> Account:
        return Account(iss.customer_account_id(customer.seq, fiat), fiat.value, AccountKind.LIABILITY, 0, code=10,
                       reference=f"customer:{customer.id}:{fiat.value}")

    _set(iss, "customer_account", overdraftable)


def _mint_cleared() -> None:
    from bauhinia.adapters.store.issuance_repo import SqlIssuanceStore
    from bauhinia.domain import issuance as iss

    original = SqlIssuanceStore.customers

    def all_cleared(self: Any) -> list[Any]:
        return [dataclasses.replace(c, status=iss.CustomerStatus.CLEARED) for c in original(self)]

    _set(SqlIssuanceStore, "customers", all_cleared)


def _cnh_approval() -> None:
    from bauhinia.domain.issuance import CoinConfig

    _set(CoinConfig, "require_mintable", lambda self: None)


def _redeem_at_par() -> None:
    from bauhinia.domain import issuance as iss

    _set(iss, "fee_minor", lambda amount_minor, fee_bps: amount_minor * fee_bps * 2 // iss.BPS)


def _payout_deadline() -> None:
    from bauhinia.domain import calendar

    original = calendar.payout_deadline

    def a_week_later(cal: Any, requested_at: Any) -> Any:
        d = original(cal, requested_at)
        return dataclasses.replace(d, due_business_day=d.due_business_day + timedelta(days=7),
                                   deadline=d.deadline + timedelta(days=7))

    _set(calendar, "payout_deadline", a_week_later)


def _burn_one_entry() -> None:
    from bauhinia.domain import issuance as iss

    _set(iss, "_link", lambda legs: list(legs))


def _no_interest() -> None:
    from bauhinia.domain import issuance as iss
    from bauhinia.domain.ledger import Account, AccountKind

    original = iss.issuer_accounts

    def with_interest(fiat: Any) -> list[Any]:
        return [*original(fiat), Account(iss.book_account_id(fiat, iss.Book.EQUITY) + 3, fiat.value,
                                         AccountKind.EXPENSE, 0, code=9,
                                         reference=f"issuer:{fiat.value}:interest_to_holders")]

    _set(iss, "issuer_accounts", with_interest)


def _eligibility() -> None:
    from bauhinia.domain import reserves

    _set(reserves, "eligibility_refusals", lambda asset, as_of: [])


def _daily_statement() -> None:
    from bauhinia.domain import regulatory

    original = regulatory.statement_line

    def without_composition(*args: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(original(*args, **kwargs), composition_minor={})

    _set(regulatory, "statement_line", without_composition)


def _monthly_return() -> None:
    from bauhinia.domain import regulatory

    original = regulatory.redemption_stats

    def no_breaches(facts: Any, period_end_ns: int) -> Any:
        return dataclasses.replace(original(facts, period_end_ns), breaches=0)

    _set(regulatory, "redemption_stats", no_breaches)


def _recon_halt() -> None:
    from bauhinia.services import reserves

    def no_trip(store: Any, coin: Any, **kwargs: Any) -> Any:
        return store.breaker_state(coin)

    _set(reserves, "trip_breaker", no_trip)


def _second_approver() -> None:
    from bauhinia.domain import approvals, cases

    _set(approvals, "_checker", lambda req, policy, actor, roles: None)
    _set(cases, "_decide", lambda request, approver, doing: approver.strip())


def _cdd_threshold() -> None:
    from bauhinia.domain import cdd

    _set(cdd, "occasional_transaction_threshold_hkd_minor", 8_000_000)


def _travel_rule() -> None:
    from bauhinia.domain import compliance

    _set(compliance, "travel_rule_threshold_hkd_minor", 8_000_000)


def _sanctions() -> None:
    from bauhinia.domain import cdd

    _set(cdd, "decide_onboarding", lambda screening: (cdd.OnboardingDecision.ACCEPTED, "mutant: no screening"))


def _retention() -> None:
    from bauhinia.domain import cdd

    _set(cdd, "check_deletion_allowed", lambda *args, **kwargs: None)


def _notify() -> None:
    from bauhinia.domain import regulatory

    _set(regulatory, "notification_deadline_ns",
         lambda kind, opened_at_ns, severity=None: opened_at_ns + 24 * 3_600 * regulatory.NS_PER_S)


# Contract mutants: (text in contracts/StableCoin.vy, replacement).
CONTRACT_MUTANTS: dict[str, tuple[str, str]] = {
    "RES-FROZEN-IN-SUPPLY": ("    self.isFrozen[account] = True\n",
                             "    self.isFrozen[account] = True\n    self.totalSupply -= self.balanceOf[account]\n"),
    "CHN-UPGRADE-CONTROL": ('    assert self.paused, "pause first"\n', ""),
}

MUTANTS: dict[str, Callable[[], None]] = {
    "RES-FULL-BACKING": _full_backing,
    "ISS-MINT-FUNDS": _mint_funds,
    "ISS-MINT-CLEARED": _mint_cleared,
    "CNH-APPROVAL": _cnh_approval,
    "ISS-REDEEM-AT-PAR": _redeem_at_par,
    "ISS-PAYOUT-DEADLINE": _payout_deadline,
    "ISS-BURN-ONE-ENTRY": _burn_one_entry,
    "ISS-NO-INTEREST": _no_interest,
    "RES-ELIGIBILITY": _eligibility,
    "RPT-DAILY-WEEKLY": _daily_statement,
    "RPT-MONTHLY-RETURN": _monthly_return,
    "RES-RECON-HALT": _recon_halt,
    "OPS-SECOND-APPROVER": _second_approver,
    "AML-CDD-THRESHOLD": _cdd_threshold,
    "AML-TRAVEL-RULE": _travel_rule,
    "AML-SANCTIONS": _sanctions,
    "REC-RETENTION-5Y": _retention,
    "INC-NOTIFY": _notify,
}


def known() -> set[str]:
    return set(MUTANTS) | set(CONTRACT_MUTANTS)


_mutated_contract: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _mutated_contract
    target = os.environ.get(ENV, "").strip()
    if not target:
        return
    if target not in known():
        raise pytest.UsageError(f"{ENV}={target}: no mutant for this requirement")
    if target in MUTANTS:
        MUTANTS[target]()
    else:
        old, new = CONTRACT_MUTANTS[target]
        source = CONTRACT.read_text()
        if old not in source:
            raise pytest.UsageError(f"{ENV}={target}: the contract no longer contains the mutated line")
        folder = Path(tempfile.mkdtemp(prefix="bauhinia-mutant-"))
        _mutated_contract = folder / "StableCoin.vy"
        _mutated_contract.write_text(source.replace(old, new, 1))
    config.stash[_key] = target


_key = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if _mutated_contract is None:
        return
    env = sys.modules.get("contract_env")
    if env is None:
        return
    env.CONTRACT_PATH = _mutated_contract
    env.deployer.cache_clear()


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(_key, None)
    return f"mutation check: control of {target} switched off" if target else None


def pytest_unconfigure(config: pytest.Config) -> None:
    while _undo:
        _undo.pop()()
