"""Pure compliance rules: thresholds, wallet exposure, travel-rule threshold and completeness."""

from __future__ import annotations

import pytest

from bauhinia.domain.compliance import (
    PartyInformation,
    ScreeningDecision,
    ScreeningHit,
    ScreeningThresholds,
    Transfer,
    WalletDecision,
    assess_wallet,
    best_hits,
    decide_screening,
    parse_party_schema,
    travel_rule_amount_hkd_minor,
    travel_rule_missing,
    travel_rule_needs_full_information,
)
from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Currency

LISTED = "0x7db418b5d567a4e0e8c59ad71be1fce48f3e6107"
CUSTOMER = "0x1111111111111111111111111111111111111111"
OTHER = "0x2222222222222222222222222222222222222222"
listed = {LISTED: "OFAC SDN ofac-30518 (ETH)"}


def test_thresholds_decide_both_ways() -> None:
    t = ScreeningThresholds(hit=0.85, review=0.7)
    assert t.decide(0.85) is ScreeningDecision.HIT
    assert t.decide(0.8499) is ScreeningDecision.REVIEW
    assert t.decide(0.7) is ScreeningDecision.REVIEW
    assert t.decide(0.69) is ScreeningDecision.CLEAR
    with pytest.raises(ValidationError):
        ScreeningThresholds(hit=0.6, review=0.7)


def test_decision_takes_the_best_hit_and_ignores_low_scores() -> None:
    hits = [ScreeningHit("a", "A", 0.72, ()), ScreeningHit("b", "B", 0.5, ())]
    outcome = decide_screening("c", hits)
    assert outcome.decision is ScreeningDecision.REVIEW and [h.entity_id for h in outcome.hits] == ["a"]
    assert decide_screening("c", []).decision is ScreeningDecision.CLEAR


def test_best_hits_one_per_entity() -> None:
    hits = [ScreeningHit("a", "A1", 0.8, ()), ScreeningHit("a", "A2", 0.9, ()), ScreeningHit("b", "B", 0.85, ())]
    assert [(h.entity_id, h.matched_name) for h in best_hits(hits, 5)] == [("a", "A2"), ("b", "B")]


def test_parse_schema() -> None:
    assert parse_party_schema("person").value == "Person"
    assert parse_party_schema("Organization").value == "Company"
    with pytest.raises(ValidationError):
        parse_party_schema("Planet")


def test_direct_exposure_blocks_checksum_case_insensitive() -> None:
    result = assess_wallet("0x7Db418b5D567A4e0E8c59Ad71BE1FcE48f3E6107", listed)
    assert result.decision is WalletDecision.BLOCK


def test_indirect_exposure_alerts_both_directions() -> None:
    sent = assess_wallet(CUSTOMER, listed, [Transfer(CUSTOMER, LISTED, 5_000_000)])
    received = assess_wallet(CUSTOMER, listed, [Transfer(LISTED, CUSTOMER, 7_000_000)])
    assert sent.decision is WalletDecision.ALERT and sent.exposed_amount_base_units == 5_000_000
    assert received.decision is WalletDecision.ALERT and "received" in received.reasons[0]


def test_no_exposure_is_clear_and_two_hops_is_not_exposure() -> None:
    transfers = [Transfer(CUSTOMER, OTHER, 1), Transfer(OTHER, LISTED, 1)]  # listed is two hops from customer
    assert assess_wallet(CUSTOMER, listed, transfers).decision is WalletDecision.CLEAR
    assert assess_wallet(OTHER, listed, transfers).decision is WalletDecision.ALERT


def test_wallet_limits() -> None:
    with pytest.raises(ValidationError):
        assess_wallet(" ", listed)
    with pytest.raises(ValidationError):
        Transfer(CUSTOMER, OTHER, -1)
    with pytest.raises(ValidationError, match="too many"):
        assess_wallet(CUSTOMER, listed, [Transfer(CUSTOMER, OTHER, 1)] * 3, transfers_max=2)


@pytest.mark.requirement("AML-TRAVEL-RULE")
def test_travel_rule_threshold_is_hk_8000() -> None:
    assert travel_rule_needs_full_information(800_000)
    assert not travel_rule_needs_full_information(799_999)
    assert travel_rule_amount_hkd_minor(800_000, Currency.HKD) == 800_000
    assert travel_rule_amount_hkd_minor(8_000_000_000, Currency.BHKD) == 800_000  # 8,000.000000 BHKD
    assert travel_rule_amount_hkd_minor(7_999_999_999, Currency.BHKD) == 800_000  # rounds up, never dodges
    assert travel_rule_amount_hkd_minor(740_741, Currency.CNH, hkd_per_unit_ppm=1_080_000) == 800_001
    with pytest.raises(ValidationError, match="HKD rate"):
        travel_rule_amount_hkd_minor(1, Currency.BCNH)


@pytest.mark.requirement("AML-TRAVEL-RULE")
def test_travel_rule_completeness_both_ways() -> None:
    minimal = PartyInformation(has_name=True, has_account=True)
    full = PartyInformation(has_name=True, has_account=True, has_birth_date_and_place=True)
    assert travel_rule_missing(minimal, minimal, 799_999) == ()
    missing = travel_rule_missing(minimal, minimal, 800_000)
    assert len(missing) == 1 and "HK$8,000" in missing[0]
    assert travel_rule_missing(full, minimal, 800_000) == ()
    nameless = PartyInformation(has_name=False, has_account=False)
    assert len(travel_rule_missing(full, nameless, 100)) == 2
