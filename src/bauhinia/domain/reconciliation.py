"""Daily three-way reconciliation of one coin: the bank, the ledger and the chain.

Three sources describe the same money:
  bank    closing balance of each reserve account (camt.053), fiat minor units;
  ledger  reserve cash per bank account (minor units), coin liability per holder and the total supply
          (token base units);
  chain   totalSupply of the contract and every holder's balance from the indexer (token base units).

Every mismatch becomes a `Break` naming the source that is out of line, the key (account or holder), what was
expected, what that source says, and the difference (actual - expected).

Who is named:
  * supply: four views (ledger total, sum of ledger holders, chain totalSupply, sum of chain holders). The
    value held by a strict majority of views is the reference (the ledger total on a tie); each view that
    differs is a break of its source.
  * holders: ledger vs chain per holder. Named `chain` (expected = ledger), unless the supply views show the
    ledger's holders are the odd ones out (their sum disagrees while the chain's agrees), then `ledger`.
  * cash: ledger vs bank per account. Named `bank` (expected = ledger), unless the ledger's own control total
    of reserve cash is given and shows the ledger's per-account figures are the odd ones out.

Pure and dict-based: one pass over each mapping, no sorting of the holder set.
Holder keys must be normalised by the caller (e.g. lower-case 0x addresses) the same way in ledger and chain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bauhinia.domain.errors import ValidationError

breaks_listed_max: int = 100_000
holders_max: int = 50_000_000


class Source(StrEnum):
    BANK = "bank"
    LEDGER = "ledger"
    CHAIN = "chain"


class BreakKind(StrEnum):
    CASH_BALANCE = "cash_balance"  # per reserve account
    HOLDER_BALANCE = "holder_balance"  # per holder
    TOTAL_SUPPLY = "total_supply"
    SUM_OF_HOLDERS = "sum_of_holders"
    CASH_TOTAL = "cash_total"


@dataclass(frozen=True, slots=True)
class Break:
    source: Source  # the source that is out of line
    kind: BreakKind
    key: str  # account id, holder key, or the name of a total
    expected: int
    actual: int
    unit: str  # "minor" (fiat) or "base_units" (token)
    against: Source  # where `expected` came from

    @property
    def difference(self) -> int:
        return self.actual - self.expected

    def describe(self) -> str:
        return (
            f"{self.source.value} {self.kind.value} {self.key}: expected {self.expected} {self.unit} "
            f"(per {self.against.value}), found {self.actual}, difference {self.difference:+d}"
        )


@dataclass(frozen=True, slots=True)
class ReconciliationInput:
    coin: str
    bank_closing_minor: Mapping[str, int]
    ledger_cash_minor: Mapping[str, int]
    ledger_holder_base_units: Mapping[str, int]
    ledger_total_supply_base_units: int
    chain_holder_base_units: Mapping[str, int]
    chain_total_supply_base_units: int
    ledger_cash_total_minor: int | None = None  # the ledger's control total of reserve cash, if kept


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    coin: str
    breaks: tuple[Break, ...]  # at most breaks_listed_max
    break_count: int  # all of them, listed or not
    accounts_checked: int
    holders_checked: int

    @property
    def ok(self) -> bool:
        return self.break_count == 0

    def by_source(self) -> dict[Source, int]:
        out = dict.fromkeys(Source, 0)
        for b in self.breaks:
            out[b.source] += 1
        return out


class _Collector:
    __slots__ = ("count", "items")

    def __init__(self) -> None:
        self.items: list[Break] = []
        self.count = 0

    def add(self, brk: Break) -> None:
        self.count += 1
        if len(self.items) < breaks_listed_max:
            self.items.append(brk)


def _supply_reference(views: Mapping[tuple[Source, BreakKind], int], tie: int) -> int:
    counts = Counter(views.values()).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        return counts[0][0]
    return tie


def reconcile(data: ReconciliationInput) -> ReconciliationResult:
    """Compare the three sources; return every break, named."""
    if len(data.ledger_holder_base_units) > holders_max or len(data.chain_holder_base_units) > holders_max:
        raise ValidationError(f"more than {holders_max} holders", code="too_many_holders")
    out = _Collector()
    bu = "base_units"

    # Supply: four views of one number.
    ledger_sum = sum(data.ledger_holder_base_units.values())
    chain_sum = sum(data.chain_holder_base_units.values())
    views = {
        (Source.LEDGER, BreakKind.TOTAL_SUPPLY): data.ledger_total_supply_base_units,
        (Source.LEDGER, BreakKind.SUM_OF_HOLDERS): ledger_sum,
        (Source.CHAIN, BreakKind.TOTAL_SUPPLY): data.chain_total_supply_base_units,
        (Source.CHAIN, BreakKind.SUM_OF_HOLDERS): chain_sum,
    }
    reference = _supply_reference(views, tie=data.ledger_total_supply_base_units)
    for (source, kind), value in views.items():
        if value != reference:
            against = Source.CHAIN if source is Source.LEDGER else Source.LEDGER
            out.add(Break(source, kind, kind.value, reference, value, bu, against))

    # Holders: ledger vs chain, one pass over each dict.
    ledger_odd = ledger_sum != reference and chain_sum == reference
    ledger_h = data.ledger_holder_base_units
    chain_h = data.chain_holder_base_units
    holder_source = Source.LEDGER if ledger_odd else Source.CHAIN
    holder_against = Source.CHAIN if ledger_odd else Source.LEDGER
    kind = BreakKind.HOLDER_BALANCE
    chain_get = chain_h.get
    for holder, ledger_value in ledger_h.items():
        chain_value = chain_get(holder, 0)
        if chain_value != ledger_value:
            if ledger_odd:
                out.add(Break(holder_source, kind, holder, chain_value, ledger_value, bu, holder_against))
            else:
                out.add(Break(holder_source, kind, holder, ledger_value, chain_value, bu, holder_against))
    chain_only = chain_h.keys() - ledger_h.keys()
    for holder in chain_only:
        chain_value = chain_h[holder]
        if chain_value != 0:
            if ledger_odd:
                out.add(Break(holder_source, kind, holder, chain_value, 0, bu, holder_against))
            else:
                out.add(Break(holder_source, kind, holder, 0, chain_value, bu, holder_against))
    holders_checked = len(ledger_h) + len(chain_only)

    # Cash: bank vs ledger per reserve account.
    bank = data.bank_closing_minor
    ledger_cash = data.ledger_cash_minor
    ledger_cash_odd = False
    if data.ledger_cash_total_minor is not None:
        ledger_cash_sum = sum(ledger_cash.values())
        bank_sum = sum(bank.values())
        if ledger_cash_sum != data.ledger_cash_total_minor:
            if bank_sum == data.ledger_cash_total_minor:
                ledger_cash_odd = True
            out.add(
                Break(
                    Source.LEDGER,
                    BreakKind.CASH_TOTAL,
                    "reserve_cash_total",
                    data.ledger_cash_total_minor,
                    ledger_cash_sum,
                    "minor",
                    Source.LEDGER,
                )
            )
    for account in sorted(bank.keys() | ledger_cash.keys()):
        b = bank.get(account, 0)
        ledger_value = ledger_cash.get(account, 0)
        if b != ledger_value:
            cash = BreakKind.CASH_BALANCE
            if ledger_cash_odd:
                brk = Break(Source.LEDGER, cash, account, b, ledger_value, "minor", Source.BANK)
            else:
                brk = Break(Source.BANK, cash, account, ledger_value, b, "minor", Source.LEDGER)
            out.add(brk)

    return ReconciliationResult(
        coin=data.coin,
        breaks=tuple(out.items),
        break_count=out.count,
        accounts_checked=len(bank.keys() | ledger_cash.keys()),
        holders_checked=holders_checked,
    )
