"""The matcher over a small frozen piece of the real lists: hits, evidence, false-positive memory, re-screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from bauhinia.adapters.screening.lists import SNAPSHOT_DIR, load_lists, load_ofac_csv, load_un_xml
from bauhinia.adapters.screening.matcher import Matcher, Query
from bauhinia.domain.compliance import (
    ListedParty,
    PartySchema,
    ReviewedFalsePositive,
    ScreeningDecision,
    decide_screening,
)
from bauhinia.domain.errors import ValidationError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "screening"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([*load_un_xml(FIXTURES / "un_small.xml"), *load_ofac_csv(FIXTURES)])


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("黃滿志", "ofac-9340"),  # characters -> HK spelling "Moon Chi WONG"
        ("Wong Moon-chi", "ofac-9340"),
        ("张磊", "ofac-16318"),  # "ZHANG, Lei"
        ("Lei Zhang", "ofac-16318"),
        ("金鐵三", "un-6908566"),  # Traditional against the listed Simplified 金铁三
        ("華信船務（香港）有限公司", "un-6908693"),
        ("Huaxin Shipping (Hong Kong) Limited", "un-6908693"),
        ("صدام حسين التكريتي", "un-6908048|ofac-7843"),  # the same man on both lists
        ("Usama bin Ladin", "ofac-6365"),
    ],
)
def test_listed_names_are_found(matcher: Matcher, name: str, entity: str) -> None:
    hits = matcher.screen(Query(name))
    assert hits, f"{name} found nothing"
    assert hits[0].entity_id in entity.split("|")
    assert matcher.thresholds.decide(hits[0].score) is ScreeningDecision.HIT
    assert hits[0].explanation


@pytest.mark.parametrize("name", ["王芳", "Chan Tai Man", "John Smith", "黃滿成", "Zhang Wei"])
def test_unlisted_names_are_clear(matcher: Matcher, name: str) -> None:
    hits = matcher.screen(Query(name))
    assert all(matcher.thresholds.decide(h.score) is not ScreeningDecision.HIT for h in hits)


def test_date_of_birth_and_nationality_are_evidence(matcher: Matcher) -> None:
    plain = matcher.screen(Query("Lei Zhang", date_of_birth=""))[0]
    same = matcher.screen(Query("Lei Zhang", date_of_birth="1976-01-03", nationality="CN"))[0]
    other = matcher.screen(Query("Lei Zhang", date_of_birth="1990-05-05", nationality="GB"), minimum=0.0)[0]
    assert same.score >= plain.score
    assert any("date of birth 1976-01-03 matches" in e for e in same.explanation)
    assert any("nationality CN matches" in e for e in same.explanation)
    assert other.score < plain.score
    assert any("differs" in e for e in other.explanation)


def test_person_screened_against_a_company_is_penalised(matcher: Matcher) -> None:
    as_company = matcher.screen(Query("Banco Nacional de Cuba", schema=PartySchema.COMPANY))
    as_person = matcher.screen(Query("Banco Nacional de Cuba", schema=PartySchema.PERSON), minimum=0.0)
    assert as_company[0].score > as_person[0].score


def test_query_validation() -> None:
    with pytest.raises(ValidationError):
        Query("  ")
    with pytest.raises(ValidationError, match="YYYY"):
        Query("Zhang Lei", date_of_birth="03/01/1976")


def test_reviewed_false_positive_is_remembered_per_customer_and_entity(matcher: Matcher) -> None:
    hits = matcher.screen(Query("Lei Zhang"))
    assert decide_screening("cust-1", hits).decision is ScreeningDecision.HIT
    review = ReviewedFalsePositive("cust-1", hits[0].entity_id, hits[0].entity_fingerprint, "analyst-7",
                                   "different date of birth and ID card", reviewed_at_ns=1)
    outcome = decide_screening("cust-1", hits, [review])
    assert outcome.decision is ScreeningDecision.CLEAR and outcome.suppressed
    # Another customer with the same name is not covered by that review.
    assert decide_screening("cust-2", hits, [review]).decision is ScreeningDecision.HIT


def test_customer_listed_after_onboarding_is_caught_on_rescreen() -> None:
    base = [*load_un_xml(FIXTURES / "un_small.xml")]
    customer = Query("陳大文", date_of_birth="1980-02-02")
    before = Matcher(base).screen(customer)
    assert decide_screening("cust-9", before).decision is ScreeningDecision.CLEAR
    listed = ListedParty("ftm-new-1", "OpenSanctions", PartySchema.PERSON, ("CHAN Tai Man",), ("1980-02-02",))
    after = Matcher([*base, listed]).screen(customer)
    outcome = decide_screening("cust-9", after)
    assert outcome.decision is ScreeningDecision.HIT and outcome.hits[0].entity_id == "ftm-new-1"


def test_review_no_longer_applies_when_the_listed_record_changes() -> None:
    old = ListedParty("ftm-x", "OpenSanctions", PartySchema.PERSON, ("CHAN Tai Man",))
    new = ListedParty("ftm-x", "OpenSanctions", PartySchema.PERSON, ("CHAN Tai Man", "陳大文"), ("1980-02-02",))
    hits_old = Matcher([old]).screen(Query("陳大文"))
    review = ReviewedFalsePositive("c", "ftm-x", hits_old[0].entity_fingerprint, "a", "different person", 1)
    assert decide_screening("c", hits_old, [review]).decision is ScreeningDecision.CLEAR
    hits_new = Matcher([new]).screen(Query("陳大文"))
    assert decide_screening("c", hits_new, [review]).decision is ScreeningDecision.HIT


def test_packaged_lists_load() -> None:
    parties = load_lists(SNAPSHOT_DIR)  # the gzipped snapshot shipped in the package
    assert len(parties) > 8_000
