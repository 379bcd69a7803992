"""domain.settlement: invoices and their audited life, quotes with exact rates and rounding, corridors, report
figures."""

from __future__ import annotations

from datetime import date

import pytest

from bauhinia.domain import settlement as st
from bauhinia.domain.errors import ConflictError, ForbiddenError, InvariantViolation, RefusedError, ValidationError
from bauhinia.domain.money import Currency

NOW_NS = 1_750_000_000 * 10**9  # 2025-06-15
EXP = st.TradeParty("EXP", "Pearl River Electronics", "CN", "0x" + "11" * 20)
IMP = st.TradeParty("IMP", "Kowloon Bay Trading", "HK", "0x" + "22" * 20)
AGENT = "0x" + "33" * 20
STRANGER = "0x" + "44" * 20
BL, PL = st.document_hash(b"bl"), st.document_hash(b"pl")


def issued(**changes: object) -> st.TradeInvoice:
    args: dict[str, object] = dict(
        invoice_id="INV-1", exporter=EXP, importer=IMP, currency=Currency.CNH, due_date=date(2025, 7, 15),
        line_items=[st.LineItem("panels", 10, 90_000), st.LineItem("freight", 1, 10_000)],
        bill_of_lading_hash=BL, packing_list_hash=PL, now_ns=NOW_NS, agent_address=AGENT)
    args.update(changes)
    invoice, record = st.issue_invoice(**args)  # type: ignore[arg-type]
    assert record.to_state is st.InvoiceState.ISSUED and record.sequence == 1
    return invoice


def funded() -> tuple[st.TradeInvoice, list[st.TransitionRecord]]:
    inv = issued()
    inv, r1 = st.accept_invoice(inv, actor_address=IMP.address, now_ns=NOW_NS + 1)
    expiry = st.escrow_expiry_for(inv, now_ns=NOW_NS + 2)
    inv, r2 = st.fund_invoice(inv, actor_address=IMP.address, escrow_expiry_s=expiry, now_ns=NOW_NS + 2)
    return inv, [r1, r2]


def test_line_items_must_sum_to_the_total() -> None:
    assert issued().amount_minor == 100_000
    assert issued().amount_base_units == 100_000 * 10_000
    with pytest.raises(ValidationError) as info:
        issued(amount_minor=100_001)
    assert info.value.code == "line_items_mismatch"


@pytest.mark.parametrize(("changes", "code"), [
    ({"line_items": []}, "bad_line_item"),
    ({"importer": st.TradeParty("EXP", "x", "HK", "0x" + "55" * 20)}, "same_party"),
    ({"currency": Currency.BCNH}, None),  # a coin is normalised to its fiat currency
    ({"bill_of_lading_hash": "abc"}, "bad_hash"),
    ({"invoice_id": "INV 1 with spaces"}, "bad_invoice_id"),
    ({"invoice_id": "X" * 36}, "bad_invoice_id"),
    ({"due_date": date(2025, 6, 1)}, "due_date_past"),
    ({"agent_address": EXP.address}, "bad_agent"),
])
def test_issue_validation(changes: dict[str, object], code: str | None) -> None:
    if code is None:
        assert issued(**changes).currency is Currency.CNH
        return
    with pytest.raises(ValidationError) as info:
        issued(**changes)
    assert info.value.code == code


def test_line_item_amounts_are_positive_integers() -> None:
    with pytest.raises(ValidationError):
        st.LineItem("x", 1, 0)
    with pytest.raises(ValidationError):
        st.LineItem("x", 1, 1.5)  # type: ignore[arg-type]


def test_happy_life_is_audited_and_replays() -> None:
    inv, records = funded()
    inv2, r3 = st.release_invoice(inv, actor_address=AGENT, presented_documents_hash=inv.documents_hash,
                                  now_ns=NOW_NS + 3)
    assert inv2.state is st.InvoiceState.RELEASED and inv2.sequence == 4
    first = st.TransitionRecord("INV-1", 1, None, st.InvoiceState.ISSUED, "EXP", NOW_NS, "issued")
    trail = [first, *records, r3]
    st.check_history(inv2, trail)
    assert [r.from_state for r in trail[1:]] == [st.InvoiceState.ISSUED, st.InvoiceState.ACCEPTED,
                                                  st.InvoiceState.FUNDED]
    with pytest.raises(InvariantViolation):
        st.check_history(inv2, [first, records[1], r3])  # a step missing


def test_who_may_do_what() -> None:
    inv = issued()
    with pytest.raises(ForbiddenError):
        st.accept_invoice(inv, actor_address=EXP.address, now_ns=NOW_NS)
    with pytest.raises(ConflictError):
        st.fund_invoice(inv, actor_address=IMP.address, escrow_expiry_s=NOW_NS // 10**9 + 86_400, now_ns=NOW_NS)
    inv, _ = funded()
    with pytest.raises(ForbiddenError):
        st.release_invoice(inv, actor_address=EXP.address, presented_documents_hash=inv.documents_hash,
                           now_ns=NOW_NS + 3)
    with pytest.raises(ForbiddenError):
        st.dispute_invoice(inv, actor_address=STRANGER, reason="x", now_ns=NOW_NS + 3)


def test_a_document_hash_that_does_not_match_refuses_release() -> None:
    inv, _ = funded()
    other = st.documents_commitment(BL, st.document_hash(b"another packing list"))
    with pytest.raises(RefusedError) as info:
        st.release_invoice(inv, actor_address=IMP.address, presented_documents_hash=other, now_ns=NOW_NS + 3)
    assert info.value.code == "documents_mismatch"
    assert st.documents_commitment(BL, PL) == inv.documents_hash != other


def test_expiry_splits_release_and_refund() -> None:
    inv, _ = funded()
    assert inv.escrow_expiry_s is not None
    before = (inv.escrow_expiry_s - 1) * 10**9
    after = inv.escrow_expiry_s * 10**9
    with pytest.raises(RefusedError, match="not expired"):
        st.refund_invoice(inv, actor_address=STRANGER, now_ns=before)
    with pytest.raises(RefusedError, match="expired"):
        st.release_invoice(inv, actor_address=IMP.address, presented_documents_hash=inv.documents_hash,
                           now_ns=after)
    refunded, record = st.refund_invoice(inv, actor_address=STRANGER, now_ns=after)
    assert refunded.state is st.InvoiceState.REFUNDED and record.from_state is st.InvoiceState.FUNDED
    with pytest.raises(ConflictError):
        st.refund_invoice(refunded, actor_address=STRANGER, now_ns=after)


def test_dispute_leaves_the_decision_to_the_agent() -> None:
    inv, _ = funded()
    disputed, record = st.dispute_invoice(inv, actor_address=EXP.address, reason="short shipment",
                                          now_ns=NOW_NS + 3)
    assert disputed.state is st.InvoiceState.DISPUTED and record.reason == "short shipment"
    with pytest.raises(ForbiddenError):
        st.release_invoice(disputed, actor_address=IMP.address, presented_documents_hash=inv.documents_hash,
                           now_ns=NOW_NS + 4)
    with pytest.raises(ForbiddenError):
        st.refund_invoice(disputed, actor_address=IMP.address, now_ns=NOW_NS + 4)
    released, _ = st.release_invoice(disputed, actor_address=AGENT, presented_documents_hash=inv.documents_hash,
                                     now_ns=NOW_NS + 4)
    assert released.state is st.InvoiceState.RELEASED
    no_agent = issued(agent_address=None)
    no_agent, _ = st.accept_invoice(no_agent, actor_address=IMP.address, now_ns=NOW_NS + 1)
    no_agent, _ = st.fund_invoice(no_agent, actor_address=IMP.address,
                                  escrow_expiry_s=NOW_NS // 10**9 + 86_400, now_ns=NOW_NS + 2)
    with pytest.raises(RefusedError, match="no agent"):
        st.dispute_invoice(no_agent, actor_address=IMP.address, reason="x", now_ns=NOW_NS + 3)


def test_escrow_expiry_bounds() -> None:
    inv = issued()
    inv, _ = st.accept_invoice(inv, actor_address=IMP.address, now_ns=NOW_NS)
    with pytest.raises(ValidationError):
        st.fund_invoice(inv, actor_address=IMP.address, escrow_expiry_s=NOW_NS // 10**9 + 60, now_ns=NOW_NS)
    with pytest.raises(ValidationError):
        st.fund_invoice(inv, actor_address=IMP.address, escrow_expiry_s=NOW_NS // 10**9 + 3 * 366 * 86_400,
                        now_ns=NOW_NS)


# --- quotes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "num", "den", "rounding", "expected"), [
    (100, 92, 100, st.Rounding.DOWN, 92),
    (7, 1, 2, st.Rounding.DOWN, 3),
    (7, 1, 2, st.Rounding.UP, 4),
    (5, 1, 2, st.Rounding.HALF_EVEN, 2),   # 2.5 -> 2
    (7, 1, 2, st.Rounding.HALF_EVEN, 4),   # 3.5 -> 4
    (10, 1, 3, st.Rounding.HALF_EVEN, 3),  # 3.33 -> 3
    (20, 1, 3, st.Rounding.HALF_EVEN, 7),  # 6.67 -> 7
    (10**15, 9213, 10_000, st.Rounding.DOWN, 921_300_000_000_000),
])
def test_convert_is_exact_with_explicit_rounding(amount: int, num: int, den: int, rounding: st.Rounding,
                                                 expected: int) -> None:
    rate = st.Rate(Currency.HKD, Currency.CNH, num, den)
    assert st.convert(amount, rate, rounding) == expected


def test_rate_parse_and_inverse() -> None:
    rate = st.Rate.parse(Currency.HKD, Currency.CNH, "0.9213")
    assert (rate.numerator, rate.denominator) == (9213, 10_000)
    assert rate.inverse() == st.Rate(Currency.CNH, Currency.HKD, 10_000, 9213)
    for bad in ("-1", "1e3", "abc", "0.1234567890123"):
        with pytest.raises(ValidationError):
            st.Rate.parse(Currency.HKD, Currency.CNH, bad)
    with pytest.raises(ValidationError):
        st.Rate(Currency.HKD, Currency.BHKD, 1, 1)


def test_make_quote_and_expiry() -> None:
    rate = st.Rate.parse(Currency.HKD, Currency.CNH, "0.92")
    q = st.make_quote(quote_id="Q1", maker=EXP.address, taker=IMP.address, taker_coin=Currency.HKD,
                      taker_amount_base_units=1_000_000, rate=rate, rounding=st.Rounding.DOWN, now_s=100, ttl_s=60,
                      nonce="ab" * 32)
    assert (q.maker_coin, q.maker_amount_base_units, q.taker_coin) == (Currency.BCNH, 920_000, Currency.BHKD)
    assert not q.is_expired(160) and q.is_expired(161)
    st.check_quote_settleable(q, 160)
    with pytest.raises(RefusedError):
        st.check_quote_settleable(q, 161)
    with pytest.raises(ValidationError):  # the rate must convert the taker's currency into the maker's
        st.make_quote(quote_id="Q2", maker=EXP.address, taker=IMP.address, taker_coin=Currency.CNH,
                      taker_amount_base_units=1, rate=rate, rounding=st.Rounding.DOWN, now_s=100, ttl_s=60,
                      nonce="ab" * 32)
    with pytest.raises(ValidationError):  # too long a firm quote
        st.make_quote(quote_id="Q3", maker=EXP.address, taker=IMP.address, taker_coin=Currency.HKD,
                      taker_amount_base_units=1_000_000, rate=rate, rounding=st.Rounding.DOWN, now_s=100,
                      ttl_s=7200, nonce="ab" * 32)


# --- corridors and figures ---------------------------------------------------------------------------------


def test_corridors() -> None:
    assert st.classify_corridor("CN", "HK") is st.Corridor.MAINLAND_TO_HK
    assert st.classify_corridor("hk", "cn") is st.Corridor.HK_TO_MAINLAND
    assert st.classify_corridor("HK", "HK") is st.Corridor.WITHIN_HK
    assert st.classify_corridor("SG", "HK") is st.Corridor.OTHER
    assert issued().corridor is st.Corridor.HK_TO_MAINLAND  # the HK importer pays the mainland exporter


def test_trade_figures() -> None:
    june, july = 1_750_000_000 * 10**9, 1_752_000_000 * 10**9
    payments = [
        st.SettledPayment("invoice", "A", IMP.address, EXP.address, "HK", "CN", Currency.BCNH, 300, june),
        st.SettledPayment("invoice", "B", EXP.address, IMP.address, "CN", "HK", Currency.BCNH, 200, july),
        st.SettledPayment("swap", "C", IMP.address, AGENT, "HK", "HK", Currency.BHKD, 50, july),
    ]
    f = st.trade_figures(payments, {Currency.BCNH: 1_000, Currency.BHKD: 0})
    assert f.volume_by_corridor == {"CN->HK": {"BCNH": 200}, "HK->CN": {"BCNH": 300}, "HK->HK": {"BHKD": 50}}
    assert f.volume_by_currency == {"BCNH": 500, "BHKD": 50}
    assert f.volume_by_month == {"2025-06": {"BCNH": 300}, "2025-07": {"BCNH": 200, "BHKD": 50}}
    assert f.active_holders == 3 and f.payments == 3
    assert f.velocity_milli == {"BCNH": 500, "BHKD": 0}
