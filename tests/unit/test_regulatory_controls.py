"""Controls of the requirements register that no other test proved on its own: mint only against received funds,
redemption at par less the disclosed fee, burn and reserve release in one entry, no interest to holders, CNH
approval, no in-place upgrade of the token. Each test names the requirement it proves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bauhinia.adapters.chain.artifacts import stablecoin_abi
from bauhinia.domain import issuance as iss
from bauhinia.domain import ledger as L
from bauhinia.domain.errors import RefusedError, ValidationError
from bauhinia.domain.ledger import AccountKind, Balance, TransferFlags
from bauhinia.domain.money import Currency

CNH = Currency.CNH
NOW = 1_800_000_000 * L.NS_PER_S
CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "StableCoin.vy"
CUSTOMER = iss.Customer("c1", 7, "Kowloon Importers Ltd", iss.CustomerStatus.CLEARED, iss.deposit_reference_for(7))


def _books() -> dict[int, L.Account]:
    accounts = {a.id: a for a in iss.issuer_accounts(CNH)}
    cust = iss.customer_account(CUSTOMER, CNH)
    accounts[cust.id] = cust
    return accounts


def _apply(transfers: list[L.Transfer], balances: dict[int, Balance]) -> list[str]:
    return L.apply_transfers(transfers, _books(), balances, {}, {}, NOW, 0).results


@pytest.mark.requirement("ISS-MINT-FUNDS")
def test_mint_without_received_funds_is_refused_by_the_ledger() -> None:
    cust = iss.customer_account_id(CUSTOMER.seq, CNH)
    mint = iss.mint_entry(1, CNH, 100_00, 0, CUSTOMER.seq, "sub:1")
    # nothing received: the customer's funds cannot go below zero, so no coins outstanding can be booked
    assert _apply(mint, {}) != ["ok"]
    # received less than the mint: refused too
    assert _apply(mint, {cust: Balance(0, 0, 0, 99_99)}) != ["ok"]
    # received in full: the mint entry is accepted
    assert _apply(mint, {cust: Balance(0, 0, 0, 100_00)}) == ["ok"]
    deposit = iss.deposit_entry(2, CNH, 100_00, CUSTOMER.seq, "sub:2")
    assert deposit[0].debit_account_id == iss.book_account_id(CNH, iss.Book.RESERVE_CASH)


@pytest.mark.requirement("ISS-REDEEM-AT-PAR")
def test_redemption_pays_par_less_the_disclosed_fee() -> None:
    config = iss.CoinConfig(CNH, "HKMA-SC-1", "PBOC-1", redemption_fee_bps=10)
    fee = iss.fee_minor(150_000_00, config.redemption_fee_bps)
    assert fee == 150_00  # 10 bps of CNH 150,000.00
    assert iss.fee_minor(999, 10) == 0  # rounded down, in the holder's favour
    entry = iss.burn_entry(3, CNH, 150_000_00, fee, "rdm:3")
    payable = iss.book_account_id(CNH, iss.Book.REDEMPTIONS_PAYABLE)
    paid_out = [t for t in entry if t.credit_account_id == iss.book_account_id(CNH, iss.Book.RESERVE_CASH)]
    assert [t.amount for t in paid_out] == [150_000_00 - 150_00]  # par less the fee, nothing else
    assert sum(t.amount for t in entry if t.credit_account_id == payable) == 150_000_00 - 150_00
    with pytest.raises(ValidationError):  # a fee above 1% cannot even be configured
        iss.CoinConfig(CNH, "HKMA-SC-1", "PBOC-1", redemption_fee_bps=iss.fee_bps_max + 1)


@pytest.mark.requirement("ISS-BURN-ONE-ENTRY")
def test_burn_and_reserve_release_are_one_linked_entry() -> None:
    entry = iss.burn_entry(4, CNH, 1_000_00, 1_00, "rdm:4")
    outstanding = iss.book_account_id(CNH, iss.Book.COINS_OUTSTANDING)
    cash = iss.book_account_id(CNH, iss.Book.RESERVE_CASH)
    assert entry[0].debit_account_id == outstanding  # coins burned...
    assert entry[-1].credit_account_id == cash and entry[-1].flags & TransferFlags.PENDING  # ...reserve held
    assert all(t.flags & TransferFlags.LINKED for t in entry[:-1]) and not entry[-1].flags & TransferFlags.LINKED
    # all or nothing: when the reserve-cash leg cannot be booked, the burn legs are not booked either
    balances = {outstanding: Balance(0, 0, 0, 1_000_00)}  # coins outstanding, but no reserve cash at all
    results = _apply(entry, balances)
    assert results[-1] != "ok" and all(r != "ok" for r in results)


@pytest.mark.requirement("ISS-NO-INTEREST")
def test_chart_of_accounts_has_no_interest_to_holders() -> None:
    for fiat in (Currency.CNH, Currency.HKD):
        accounts = iss.issuer_accounts(fiat)
        assert {a.code for a in accounts} == {int(b) for b in iss.Book}
        # the one expense is what the bank charges the issuer: no holder is ever paid from an expense book
        expenses = [a for a in accounts if a.kind is AccountKind.EXPENSE]
        assert [a.code for a in expenses] == [int(iss.Book.BANK_CHARGES)]
        assert not [a for a in accounts if re.search(r"interest|yield|reward", a.reference)]
    # the only entries that credit a holder-facing account are deposits, suspense releases and mint reversals
    # (a burn reversal credits the issuer's own books only: coins outstanding, back from payable and fees)
    assert {k.name for k in iss.EntryKind} == {"DEPOSIT", "SUSPENSE", "MINT", "MINT_REVERSAL", "BURN",
                                                "PAYOUT_SETTLED", "SUSPENSE_RELEASE", "CAPITAL", "BURN_REVERSAL",
                                                "REFUND", "REFUND_SETTLED", "PAYOUT_RETURNED", "PAYOUT_RETRY",
                                                "BANK_CHARGE"}
    # a bank charge debits only the issuer's expense book, out of the reserve cash (never a holder's account)
    [charge] = iss.bank_charge_entry(Currency.CNH, 25_00, "entry-1", "bank charge")
    assert (charge.debit_account_id, charge.credit_account_id) == (
        iss.book_account_id(Currency.CNH, iss.Book.BANK_CHARGES), iss.book_account_id(Currency.CNH,
                                                                                     iss.Book.RESERVE_CASH))
    # a returned payout credits the payout owed again (the holder's claim), debits the cash that came back
    [ret] = iss.payout_returned_entry(3, Currency.CNH, 999_00, "rdm:3", 0)
    assert (ret.debit_account_id, ret.credit_account_id) == (
        iss.book_account_id(Currency.CNH, iss.Book.RESERVE_CASH),
        iss.book_account_id(Currency.CNH, iss.Book.REDEMPTIONS_PAYABLE))
    # a refund credits only the reserve cash it sends back to the payer (held until the bank pays)
    [refund] = iss.refund_hold_entry(4, Currency.CNH, 500_00, iss.book_account_id(Currency.CNH, iss.Book.SUSPENSE),
                                     "RFD-CNH-4")
    assert refund.credit_account_id == iss.book_account_id(Currency.CNH, iss.Book.RESERVE_CASH)
    reversal = iss.burn_reversal_entry(3, Currency.CNH, 1_000_00, 1_00, "rdm:3")
    assert all(t.credit_account_id in (0, iss.book_account_id(Currency.CNH, iss.Book.COINS_OUTSTANDING))
               for t in reversal)


@pytest.mark.requirement("ISS-NO-INTEREST")
def test_token_has_no_interest_rebase_or_yield_function() -> None:
    names = {f["name"] for f in stablecoin_abi() if f.get("type") == "function"}
    assert {"mint", "batchMint", "burn", "transfer"} <= names
    suspicious = [n for n in names if re.search(r"interest|rebase|yield|dividend|reward|accrue|distribute", n, re.I)]
    assert suspicious == []
    source = CONTRACT.read_text()
    # balances change only by transfers, mints, burns and court-ordered wipes
    writers = re.findall(r"self\.balanceOf\[[^\]]+\]\s*[-+]?=", source)
    assert 0 < len(writers) <= 8


@pytest.mark.requirement("CHN-UPGRADE-CONTROL")
def test_token_has_no_proxy_or_in_place_upgrade() -> None:
    source = CONTRACT.read_text()
    assert "is_delegate_call" not in source and "delegatecall" not in source.lower()
    assert "raw_call" not in source and "selfdestruct" not in source
    names = {f["name"] for f in stablecoin_abi() if f.get("type") == "function"}
    assert not {n for n in names if re.search(r"upgrade|implementation|setLogic", n, re.I)}
    assert "retire" in names and "successor" in names


@pytest.mark.requirement("CNH-APPROVAL")
def test_cnh_coin_needs_a_mainland_approval_reference_to_mint() -> None:
    for missing in (None, "", "   "):
        with pytest.raises(RefusedError) as exc:
            iss.CoinConfig(CNH, "HKMA-SC-1", missing).require_mintable()
        assert exc.value.code == "cnh_coin_without_mainland_approval"
    iss.CoinConfig(CNH, "HKMA-SC-1", "PBOC-CB-2025-017").require_mintable()
    iss.CoinConfig(Currency.HKD, "HKMA-SC-1", None).require_mintable()  # the HKD coin needs none
