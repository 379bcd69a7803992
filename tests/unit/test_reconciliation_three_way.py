"""Three-way reconciliation: a planted break in each source is found and named."""

from __future__ import annotations

from bauhinia.domain.reconciliation import BreakKind, ReconciliationInput, Source, reconcile


def _clean() -> dict:  # type: ignore[type-arg]
    holders = {f"0x{i:040x}": (i + 1) * 1_000_000 for i in range(50)}
    total = sum(holders.values())
    return {
        "coin": "BHKD",
        "bank_closing_minor": {"HSBC-001": 600_000_00, "BOCHK-002": 400_000_00},
        "ledger_cash_minor": {"HSBC-001": 600_000_00, "BOCHK-002": 400_000_00},
        "ledger_holder_base_units": dict(holders),
        "ledger_total_supply_base_units": total,
        "chain_holder_base_units": dict(holders),
        "chain_total_supply_base_units": total,
    }


def test_clean_sources_reconcile() -> None:
    result = reconcile(ReconciliationInput(**_clean()))
    assert result.ok and result.break_count == 0
    assert result.accounts_checked == 2 and result.holders_checked == 50


def test_planted_bank_break_named_bank() -> None:
    data = _clean()
    data["bank_closing_minor"]["BOCHK-002"] -= 1_00
    result = reconcile(ReconciliationInput(**data))
    assert result.break_count == 1
    (brk,) = result.breaks
    assert (brk.source, brk.kind, brk.key) == (Source.BANK, BreakKind.CASH_BALANCE, "BOCHK-002")
    assert (brk.expected, brk.actual, brk.difference) == (400_000_00, 399_999_00, -1_00)
    assert "bank" in brk.describe()


def test_planted_chain_break_named_chain() -> None:
    data = _clean()
    holder = "0x" + "0" * 39 + "7"
    data["chain_holder_base_units"][holder] += 5
    result = reconcile(ReconciliationInput(**data))
    sources = {(b.source, b.kind, b.key) for b in result.breaks}
    assert sources == {
        (Source.CHAIN, BreakKind.HOLDER_BALANCE, holder),
        (Source.CHAIN, BreakKind.SUM_OF_HOLDERS, "sum_of_holders"),
    }
    holder_break = next(b for b in result.breaks if b.kind is BreakKind.HOLDER_BALANCE)
    assert holder_break.difference == 5


def test_unknown_chain_holder_found() -> None:
    data = _clean()
    data["chain_holder_base_units"]["0xdead"] = 9
    data["chain_total_supply_base_units"] += 9
    result = reconcile(ReconciliationInput(**data))
    keys = {(b.source, b.key) for b in result.breaks}
    assert (Source.CHAIN, "0xdead") in keys
    assert (Source.CHAIN, "total_supply") in keys


def test_planted_ledger_holder_break_named_ledger() -> None:
    data = _clean()
    holder = "0x" + "0" * 39 + "3"
    data["ledger_holder_base_units"][holder] -= 2_000
    result = reconcile(ReconciliationInput(**data))
    named = {(b.source, b.kind, b.key) for b in result.breaks}
    assert named == {
        (Source.LEDGER, BreakKind.HOLDER_BALANCE, holder),
        (Source.LEDGER, BreakKind.SUM_OF_HOLDERS, "sum_of_holders"),
    }
    brk = next(b for b in result.breaks if b.kind is BreakKind.HOLDER_BALANCE)
    assert brk.against is Source.CHAIN and brk.difference == -2_000


def test_planted_ledger_total_break_named_ledger() -> None:
    data = _clean()
    data["ledger_total_supply_base_units"] += 1
    result = reconcile(ReconciliationInput(**data))
    assert [(b.source, b.kind) for b in result.breaks] == [(Source.LEDGER, BreakKind.TOTAL_SUPPLY)]


def test_planted_ledger_cash_break_named_ledger_with_control_total() -> None:
    data = _clean()
    data["ledger_cash_minor"]["HSBC-001"] += 7
    result = reconcile(ReconciliationInput(**data, ledger_cash_total_minor=1_000_000_00))
    named = {(b.source, b.kind, b.key) for b in result.breaks}
    assert named == {
        (Source.LEDGER, BreakKind.CASH_TOTAL, "reserve_cash_total"),
        (Source.LEDGER, BreakKind.CASH_BALANCE, "HSBC-001"),
    }


def test_missing_bank_account_found() -> None:
    data = _clean()
    del data["bank_closing_minor"]["HSBC-001"]
    result = reconcile(ReconciliationInput(**data))
    (brk,) = result.breaks
    assert brk.key == "HSBC-001" and brk.actual == 0 and brk.source is Source.BANK
