"""Customer due diligence: UBOs through chains, explainable risk rating, reviews, EDD, occasional transactions,
retention."""

from __future__ import annotations

from datetime import date

import pytest

from bauhinia.domain import cdd
from bauhinia.domain.compliance import ScreeningDecision
from bauhinia.domain.errors import RefusedError, ValidationError

PEPPER = "test-pepper"
TODAY = date(2026, 3, 1)


def person(pid: str, *names: str, nationality: str = "HK", pep: bool = False, **kw: object) -> cdd.NaturalPerson:
    return cdd.NaturalPerson(pid, names or (pid,), nationality=nationality, pep=pep, **kw)  # type: ignore[arg-type]


def company(pid: str, country: str = "HK", **kw: object) -> cdd.LegalPerson:
    return cdd.LegalPerson(pid, (f"{pid} Limited",), country, **kw)  # type: ignore[arg-type]


def corp_customer(parties: list[cdd.Party], links: list[tuple[str, str, int]], directors: tuple[str, ...] = (),
                  **kw: object) -> cdd.Customer:
    return cdd.Customer(
        "C1", "co", tuple(parties), tuple(cdd.OwnershipLink(o, d, s) for o, d, s in links), directors,
        identity_verified=True, **kw,  # type: ignore[arg-type]
    )


def test_document_number_is_masked_and_hashed_never_kept() -> None:
    doc = cdd.IdentityDocument.from_number(cdd.DocumentType.HKID, "A123456(7)", "hk", PEPPER, date(2030, 1, 1))
    assert doc.number_masked == "****4567"
    assert "A123456" not in repr(doc)
    assert doc.issuing_country == "HK"
    same = cdd.IdentityDocument.from_number(cdd.DocumentType.HKID, "a 123456 (7)", "HK", PEPPER)
    assert same.number_sha256 == doc.number_sha256
    other = cdd.IdentityDocument.from_number(cdd.DocumentType.HKID, "A1234568", "HK", PEPPER)
    assert other.number_sha256 != doc.number_sha256
    assert doc.is_expired(date(2030, 1, 2)) and not doc.is_expired(date(2030, 1, 1))


def test_ubo_computed_through_ownership_chain() -> None:
    # Alice owns 60% of Holdco, Holdco owns 50% of the customer -> 30% effective; Bob 20% direct -> not a UBO;
    # Carol owns 40% of Holdco (20%) and 10% direct -> 30% through two paths.
    parties: list[cdd.Party] = [company("co"), company("holdco", "VG"), person("alice"), person("bob"),
                                person("carol"), person("dan")]
    cust = corp_customer(parties, [("holdco", "co", 5000), ("alice", "holdco", 6000), ("carol", "holdco", 4000),
                                   ("bob", "co", 2000), ("carol", "co", 1000)], directors=("dan",))
    ubos = {u.party_id: u for u in cdd.beneficial_owners(cust)}
    assert set(ubos) == {"alice", "carol"}
    assert ubos["alice"].effective_share_bps == 3000
    assert ubos["carol"].effective_share_bps == 3000
    assert len(ubos["carol"].paths) == 2


def test_exactly_25_percent_is_a_ubo_and_just_below_is_not() -> None:
    parties: list[cdd.Party] = [company("co"), person("a"), person("b")]
    cust = corp_customer(parties, [("a", "co", 2500), ("b", "co", 2499)])
    assert [u.party_id for u in cdd.beneficial_owners(cust)] == ["a"]


def test_no_owner_reaches_threshold_falls_back_to_directors() -> None:
    parties: list[cdd.Party] = [company("co"), person("a"), person("b"), person("d")]
    cust = corp_customer(parties, [("a", "co", 2000), ("b", "co", 2000)], directors=("d",))
    ubos = cdd.beneficial_owners(cust)
    assert [u.party_id for u in ubos] == ["d"]
    assert "senior managing official" in ubos[0].basis


def test_ownership_over_100_percent_and_unknown_parties_refused() -> None:
    with pytest.raises(ValidationError, match="more than 100%"):
        corp_customer([company("co"), person("a"), person("b")], [("a", "co", 6000), ("b", "co", 5000)])
    with pytest.raises(ValidationError, match="unknown party"):
        corp_customer([company("co"), person("a")], [("ghost", "co", 6000)])
    with pytest.raises(ValidationError, match="director"):
        corp_customer([company("co"), company("x")], [], directors=("x",))


def test_opacity_reasons_and_cycle_detected() -> None:
    parties: list[cdd.Party] = [company("co"), company("h1", "VG", nominee_shareholders=True),
                                company("h2", "KY", bearer_shares=True), company("h3", "SC"), person("z")]
    cust = corp_customer(parties, [("h1", "co", 10000), ("h2", "h1", 10000), ("h3", "h2", 10000),
                                   ("z", "h3", 5000), ("co", "h3", 100)])
    reasons = " | ".join(cdd.ownership_opacity(cust))
    assert "nominee" in reasons and "bearer" in reasons
    assert "circular ownership" in reasons
    assert "layers" in reasons
    assert "not identified" in reasons  # h3 has only 51% accounted for
    plain = corp_customer([company("co"), person("a")], [("a", "co", 10000)])
    assert cdd.ownership_opacity(plain) == ()


def test_risk_rating_low_with_no_reasons_beyond_none() -> None:
    cust = cdd.Customer("C1", "p", (person("p", "陳大文", "CHAN Tai Man"),), identity_verified=True)
    a = cdd.assess_risk(cust, TODAY)
    assert a.rating is cdd.RiskRating.LOW and a.points == 0 and a.reasons == ()
    assert a.next_review_on == date(2029, 3, 1)
    assert not a.edd_required


def test_risk_rating_explains_every_point() -> None:
    parties: list[cdd.Party] = [company("co", industry="money_service_operator"), person("a", nationality="NG")]
    cust = corp_customer(parties, [("a", "co", 10000)], expected_monthly_volume_hkd_minor=20_000_000_00)
    a = cdd.assess_risk(cust, TODAY)
    rules = {r.rule: r for r in a.reasons}
    assert set(rules) == {"country", "industry", "volume"}
    assert "NG (a)" in rules["country"].detail
    assert a.points == sum(r.points for r in a.reasons) == 25 + 25 + 15
    assert a.rating is cdd.RiskRating.HIGH
    assert a.next_review_on == date(2027, 3, 1)
    assert cdd.EddFlag.HIGH_RISK_COUNTRY in a.edd_flags and cdd.EddFlag.HIGH_RISK_RATING in a.edd_flags


def test_pep_forces_high_and_edd_even_with_few_points() -> None:
    cust = cdd.Customer("C1", "p", (person("p", pep=True, pep_role="legislator"),), identity_verified=True)
    a = cdd.assess_risk(cust, TODAY)
    assert a.rating is cdd.RiskRating.HIGH
    assert cdd.EddFlag.PEP in a.edd_flags
    assert any(r.rule == "override" for r in a.reasons)
    rules = cdd.risk_rules_from_mapping({"version": "t", "pep_points": 10, "pep_forces_high": False,
                                         "medium_at_points": 5, "high_at_points": 100})
    b = cdd.assess_risk(cust, TODAY, rules)
    assert b.rating is cdd.RiskRating.MEDIUM
    assert b.next_review_on == date(2028, 3, 1)


def test_review_years_from_rules_and_leap_day() -> None:
    assert cdd.review_due(cdd.RiskRating.HIGH, date(2024, 2, 29)) == date(2025, 2, 28)
    rules = cdd.risk_rules_from_mapping({"version": "x", "review_years": {"high": 1, "medium": 1, "low": 2}})
    assert cdd.review_due(cdd.RiskRating.LOW, TODAY, rules) == date(2028, 3, 1)
    with pytest.raises(ValidationError):
        cdd.risk_rules_from_mapping({"version": "x", "review_years": {"high": 1}})


def test_unverified_identity_and_expired_documents_add_points() -> None:
    doc = cdd.IdentityDocument.from_number(cdd.DocumentType.PASSPORT, "E12345678", "CN", PEPPER, date(2025, 1, 1))
    cust = cdd.Customer("C1", "p", (person("p", nationality="CN", documents=(doc,)),))
    a = cdd.assess_risk(cust, TODAY)
    assert {r.rule for r in a.reasons} == {"identity", "documents"}
    assert "****5678" in next(r.detail for r in a.reasons if r.rule == "documents")


@pytest.mark.requirement("AML-CDD-THRESHOLD")
def test_occasional_transaction_threshold_both_ways() -> None:
    cdd.check_occasional_transaction(799_999, identity_verified=False)
    cdd.check_occasional_transaction(800_000, identity_verified=True)
    with pytest.raises(RefusedError, match="identity must be verified") as err:
        cdd.check_occasional_transaction(800_000, identity_verified=False)
    assert err.value.code == "identity_verification_required"
    with pytest.raises(RefusedError):  # linked transactions add up
        cdd.check_occasional_transaction(400_000, False, linked_amounts_hkd_minor=(400_000,))


@pytest.mark.requirement("REC-RETENTION-5Y")
def test_deletion_refused_before_retention_ends_allowed_after() -> None:
    with pytest.raises(RefusedError, match="has not ended"):
        cdd.check_deletion_allowed("C1", None, TODAY)
    with pytest.raises(RefusedError, match="kept until 2031-02-28") as err:
        cdd.check_deletion_allowed("C1", date(2026, 2, 28), TODAY)
    assert err.value.code == "retention_period"
    with pytest.raises(RefusedError):
        cdd.check_deletion_allowed("C1", date(2021, 3, 2), TODAY)  # one day short
    cdd.check_deletion_allowed("C1", date(2021, 3, 1), TODAY)
    with pytest.raises(ValidationError):
        cdd.retention_until(TODAY, years=4)


@pytest.mark.requirement("AML-SANCTIONS")
def test_onboarding_decision() -> None:
    assert cdd.decide_onboarding([ScreeningDecision.CLEAR])[0] is cdd.OnboardingDecision.ACCEPTED
    assert cdd.decide_onboarding([ScreeningDecision.CLEAR, ScreeningDecision.REVIEW])[0] is cdd.OnboardingDecision.HELD
    assert cdd.decide_onboarding([ScreeningDecision.REVIEW, ScreeningDecision.HIT])[0] is cdd.OnboardingDecision.REFUSED


def test_customer_mapping_round_trip_drops_clear_numbers() -> None:
    data = {
        "customer_id": "C9", "subject": "co",
        "parties": [
            {"kind": "legal", "party_id": "co", "names": ["深圳前海贸易有限公司", "Shenzhen Qianhai Trading Co., Ltd."],
             "incorporation_country": "CN", "industry": "trading_company",
             "documents": [{"type": "unified_social_credit_code", "number": "91440300MA5F000000",
                            "issuing_country": "CN"}]},
            {"kind": "natural", "party_id": "p1", "names": ["王芳", "Wang Fang"], "date_of_birth": "1980-05-01",
             "nationality": "CN", "documents": [{"type": "passport", "number": "E99887766", "issuing_country": "CN",
                                                 "expires_on": "2031-01-01", "verified": True}]},
        ],
        "ownership": [{"owner": "p1", "owned": "co", "share_bps": 10000}],
        "directors": ["p1"], "expected_monthly_volume_hkd_minor": 5_000_000_00, "identity_verified": True,
    }
    cust = cdd.customer_from_mapping(data, PEPPER)
    stored = cdd.customer_to_mapping(cust)
    assert "E99887766" not in str(stored) and "91440300MA5F000000" not in str(stored)
    again = cdd.customer_from_mapping(stored, PEPPER)
    assert again == cust
    assert [u.party_id for u in cdd.beneficial_owners(again)] == ["p1"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"parties": []}, "parties"),
        ({"expected_monthly_volume_hkd_minor": 1.5}, "integer"),
        ({"ownership": [{"owner": "p1"}]}, "ownership"),
        ({"parties": [{"kind": "robot", "party_id": "x", "names": ["x"]}]}, "kind"),
        ({"parties": [{"kind": "natural", "party_id": "x", "names": ["x"], "nationality": "China"}]}, "ISO 3166"),
    ],
)
def test_bad_onboarding_data_refused(patch: dict[str, object], message: str) -> None:
    data: dict[str, object] = {"customer_id": "C1", "parties": [{"kind": "natural", "party_id": "p1", "names": ["A"]}]}
    data.update(patch)
    with pytest.raises(ValidationError, match=message):
        cdd.customer_from_mapping(data, PEPPER)
