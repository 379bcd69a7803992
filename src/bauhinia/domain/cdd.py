"""Customer due diligence: identity data, beneficial owners, explainable risk rating, reviews, retention.

Pure and synchronous (stdlib only, no clock: callers pass `today` / `now`). A customer is a natural person or a
legal person; a legal person lists its directors and the ownership links that lead to its ultimate beneficial
owners (natural persons holding 25% or more, directly or through chains of companies). The risk rating is a sum
of points from rules given as data (country lists, industries, PEP, expected volumes, ownership opacity), and
every point carries the reason it was given. Records are kept at least five years after the relationship ends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Any

from bauhinia.domain.compliance import ScreeningDecision
from bauhinia.domain.errors import RefusedError, ValidationError

# ---------------------------------------------------------------------------------------------------------------
# Limits and thresholds
# ---------------------------------------------------------------------------------------------------------------

# An occasional transaction of HK$8,000 or more (AMLO Schedule 2, s.3(1)(c) for virtual-asset transfers)
# needs verified identity.
occasional_transaction_threshold_hkd_minor: int = 800_000
ubo_threshold_bps: int = 2_500  # 25%
share_bps_max: int = 10_000
retention_years_min: int = 5
ownership_depth_max: int = 12
ownership_links_max: int = 10_000
parties_max: int = 1_000
names_per_party_max: int = 50
documents_per_party_max: int = 50
name_length_max: int = 300

_COUNTRY = re.compile(r"[A-Z]{2}")


def _country(text: str, what: str) -> str:
    code = text.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise ValidationError(f"{what} must be an ISO 3166 alpha-2 country code, got {text!r}")
    return code


def add_years(day: date, years: int) -> date:
    """Same month and day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# ---------------------------------------------------------------------------------------------------------------
# Identity documents (metadata only: the number is stored masked and hashed, never in clear)
# ---------------------------------------------------------------------------------------------------------------


class DocumentType(StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"  # e.g. mainland Resident Identity Card
    HKID = "hkid"
    HOME_RETURN_PERMIT = "home_return_permit"  # Mainland Travel Permit for HK/Macao residents
    EXIT_ENTRY_PERMIT = "exit_entry_permit"  # Exit-Entry Permit for Travelling to and from HK and Macao
    BUSINESS_REGISTRATION = "business_registration"
    CERTIFICATE_OF_INCORPORATION = "certificate_of_incorporation"
    UNIFIED_SOCIAL_CREDIT_CODE = "unified_social_credit_code"  # mainland company registration
    OTHER = "other"


def normalise_document_number(number: str) -> str:
    return re.sub(r"[\s\-()/.]", "", number).upper()


def mask_document_number(number: str) -> str:
    """All but the last four characters hidden: "A1234567" -> "****4567" (short numbers: all hidden)."""
    clean = normalise_document_number(number)
    if len(clean) <= 4:
        return "*" * len(clean)
    return "*" * (len(clean) - 4) + clean[-4:]


def hash_document_number(number: str, doc_type: DocumentType, issuing_country: str, pepper: str) -> str:
    """A keyed SHA-256 of the normalised number, so the same document is recognised without being stored."""
    if not pepper:
        raise ValidationError("a document hash needs a non-empty pepper")
    payload = f"{pepper}\x1f{doc_type.value}\x1f{issuing_country}\x1f{normalise_document_number(number)}"
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    doc_type: DocumentType
    number_masked: str
    number_sha256: str
    issuing_country: str
    expires_on: date | None = None
    verified: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuing_country", _country(self.issuing_country, "issuing_country"))
        if not self.number_masked or not re.fullmatch(r"[0-9a-f]{64}", self.number_sha256):
            raise ValidationError("a document needs its masked number and a SHA-256 hex digest")

    @classmethod
    def from_number(
        cls,
        doc_type: DocumentType,
        number: str,
        issuing_country: str,
        pepper: str,
        expires_on: date | None = None,
        verified: bool = False,
    ) -> IdentityDocument:
        if not normalise_document_number(number):
            raise ValidationError(f"{doc_type.value}: empty document number")
        country = _country(issuing_country, "issuing_country")
        return cls(
            doc_type=doc_type,
            number_masked=mask_document_number(number),
            number_sha256=hash_document_number(number, doc_type, country, pepper),
            issuing_country=country,
            expires_on=expires_on,
            verified=verified,
        )

    def is_expired(self, today: date) -> bool:
        return self.expires_on is not None and self.expires_on < today


# ---------------------------------------------------------------------------------------------------------------
# Parties
# ---------------------------------------------------------------------------------------------------------------


class PartyKind(StrEnum):
    NATURAL = "natural"
    LEGAL = "legal"


class LegalForm(StrEnum):
    COMPANY = "company"
    PARTNERSHIP = "partnership"
    TRUST = "trust"
    FOUNDATION = "foundation"
    OTHER = "other"


def _names(names: Sequence[str], party_id: str) -> tuple[str, ...]:
    cleaned = tuple(n.strip() for n in names if n.strip())
    if not cleaned:
        raise ValidationError(f"party {party_id} needs at least one name")
    if len(cleaned) > names_per_party_max:
        raise ValidationError(f"party {party_id} has more than {names_per_party_max} names")
    for n in cleaned:
        if len(n) > name_length_max:
            raise ValidationError(f"party {party_id}: name longer than {name_length_max} characters")
    return cleaned


@dataclass(frozen=True, slots=True)
class NaturalPerson:
    """A person. `names` in any script and romanisation (陳大文, CHAN Tai Man, Chen Dawen)."""

    party_id: str
    names: tuple[str, ...]
    date_of_birth: date | None = None
    nationality: str = ""
    residence_country: str = ""
    documents: tuple[IdentityDocument, ...] = ()
    pep: bool = False
    pep_role: str = ""
    occupation: str = ""

    kind = PartyKind.NATURAL

    def __post_init__(self) -> None:
        if not self.party_id:
            raise ValidationError("a party needs a party_id")
        object.__setattr__(self, "names", _names(self.names, self.party_id))
        if self.nationality:
            object.__setattr__(self, "nationality", _country(self.nationality, "nationality"))
        if self.residence_country:
            object.__setattr__(self, "residence_country", _country(self.residence_country, "residence_country"))
        if len(self.documents) > documents_per_party_max:
            raise ValidationError(f"party {self.party_id} has more than {documents_per_party_max} documents")

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(c for c in (self.nationality, self.residence_country) if c)


@dataclass(frozen=True, slots=True)
class LegalPerson:
    """A company, partnership, trust or foundation."""

    party_id: str
    names: tuple[str, ...]
    incorporation_country: str
    legal_form: LegalForm = LegalForm.COMPANY
    registration_number: str = ""
    industry: str = ""
    documents: tuple[IdentityDocument, ...] = ()
    bearer_shares: bool = False
    nominee_shareholders: bool = False
    listed_on_exchange: bool = False

    kind = PartyKind.LEGAL

    def __post_init__(self) -> None:
        if not self.party_id:
            raise ValidationError("a party needs a party_id")
        object.__setattr__(self, "names", _names(self.names, self.party_id))
        object.__setattr__(
            self, "incorporation_country", _country(self.incorporation_country, "incorporation_country")
        )
        if len(self.documents) > documents_per_party_max:
            raise ValidationError(f"party {self.party_id} has more than {documents_per_party_max} documents")

    @property
    def countries(self) -> tuple[str, ...]:
        return (self.incorporation_country,)


Party = NaturalPerson | LegalPerson


@dataclass(frozen=True, slots=True)
class OwnershipLink:
    """`owner_id` holds `share_bps` (1..10000) of `owned_id`'s shares or voting rights."""

    owner_id: str
    owned_id: str
    share_bps: int

    def __post_init__(self) -> None:
        if not 0 < self.share_bps <= share_bps_max:
            raise ValidationError(
                f"ownership {self.owner_id} -> {self.owned_id}: share_bps must be in 1..{share_bps_max}, "
                f"got {self.share_bps}"
            )
        if self.owner_id == self.owned_id:
            raise ValidationError(f"{self.owner_id} cannot own itself")


class RelationshipState(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Customer:
    """The customer (subject party) with every related party: directors, owners up the chains, UBOs."""

    customer_id: str
    subject_id: str
    parties: tuple[Party, ...]
    ownership: tuple[OwnershipLink, ...] = ()
    directors: tuple[str, ...] = ()  # party ids of natural persons
    expected_monthly_volume_hkd_minor: int = 0
    expected_monthly_transactions: int = 0
    relationship_started_on: date | None = None
    relationship_ended_on: date | None = None
    identity_verified: bool = False

    def __post_init__(self) -> None:
        self.check_invariants()

    def check_invariants(self) -> None:
        if not self.customer_id:
            raise ValidationError("a customer needs a customer_id")
        if len(self.parties) > parties_max or len(self.ownership) > ownership_links_max:
            raise ValidationError(f"customer {self.customer_id}: too many parties or ownership links")
        ids = [p.party_id for p in self.parties]
        if len(set(ids)) != len(ids):
            raise ValidationError(f"customer {self.customer_id}: duplicated party ids")
        by_id = {p.party_id: p for p in self.parties}
        if self.subject_id not in by_id:
            raise ValidationError(f"customer {self.customer_id}: subject {self.subject_id} is not among its parties")
        for d in self.directors:
            if not isinstance(by_id.get(d), NaturalPerson):
                raise ValidationError(f"customer {self.customer_id}: director {d} must be a listed natural person")
        owned_total: dict[str, int] = {}
        for link in self.ownership:
            for pid in (link.owner_id, link.owned_id):
                if pid not in by_id:
                    raise ValidationError(f"customer {self.customer_id}: ownership names unknown party {pid}")
            if isinstance(by_id[link.owned_id], NaturalPerson):
                raise ValidationError(f"customer {self.customer_id}: {link.owned_id} is a person and has no owners")
            owned_total[link.owned_id] = owned_total.get(link.owned_id, 0) + link.share_bps
        for owned, total in owned_total.items():
            if total > share_bps_max:
                raise ValidationError(
                    f"customer {self.customer_id}: owners of {owned} hold {total} bps, more than 100%"
                )
        if self.expected_monthly_volume_hkd_minor < 0 or self.expected_monthly_transactions < 0:
            raise ValidationError(f"customer {self.customer_id}: expected volumes must be >= 0")
        if (
            self.relationship_ended_on is not None
            and self.relationship_started_on is not None
            and self.relationship_ended_on < self.relationship_started_on
        ):
            raise ValidationError(f"customer {self.customer_id}: relationship ends before it starts")

    @property
    def subject(self) -> Party:
        return self.party(self.subject_id)

    @property
    def kind(self) -> PartyKind:
        return self.subject.kind

    @property
    def display_name(self) -> str:
        return self.subject.names[0]

    @property
    def state(self) -> RelationshipState:
        return RelationshipState.ACTIVE if self.relationship_ended_on is None else RelationshipState.ENDED

    def party(self, party_id: str) -> Party:
        for p in self.parties:
            if p.party_id == party_id:
                return p
        raise ValidationError(f"customer {self.customer_id}: unknown party {party_id}")

    def ended(self, on: date) -> Customer:
        if self.relationship_ended_on is not None:
            raise ValidationError(f"customer {self.customer_id}: relationship already ended on "
                                  f"{self.relationship_ended_on}")
        return replace(self, relationship_ended_on=on)


# ---------------------------------------------------------------------------------------------------------------
# Ultimate beneficial owners
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeneficialOwner:
    party_id: str
    effective_share_bps: int  # rounded down
    paths: tuple[tuple[str, ...], ...]  # each path from the customer up to this owner
    basis: str  # "ownership" or "senior managing official (no natural person reaches 25%)"


def _owners_of(ownership: Iterable[OwnershipLink]) -> dict[str, list[OwnershipLink]]:
    owners: dict[str, list[OwnershipLink]] = {}
    for link in ownership:
        owners.setdefault(link.owned_id, []).append(link)
    return owners


def _walk(
    customer: Customer,
) -> tuple[dict[str, Fraction], dict[str, list[tuple[str, ...]]], list[str]]:
    """Effective shares of every party above the subject (sum over paths of the product of shares)."""
    owners = _owners_of(customer.ownership)
    effective: dict[str, Fraction] = {}
    paths: dict[str, list[tuple[str, ...]]] = {}
    problems: list[str] = []
    stack: list[tuple[str, Fraction, tuple[str, ...]]] = [(customer.subject_id, Fraction(1), (customer.subject_id,))]
    steps = 0
    while stack:
        steps += 1
        if steps > ownership_links_max * 4:
            raise ValidationError(f"customer {customer.customer_id}: ownership graph too large to walk")
        pid, share, path = stack.pop()
        for link in owners.get(pid, ()):
            if link.owner_id in path:
                problems.append(f"circular ownership {' -> '.join((*path, link.owner_id))}")
                continue
            if len(path) > ownership_depth_max:
                problems.append(f"ownership chain deeper than {ownership_depth_max} levels at {pid}")
                continue
            total = share * Fraction(link.share_bps, share_bps_max)
            new_path = (*path, link.owner_id)
            effective[link.owner_id] = effective.get(link.owner_id, Fraction(0)) + total
            paths.setdefault(link.owner_id, []).append(new_path)
            stack.append((link.owner_id, total, new_path))
    return effective, paths, problems


def beneficial_owners(customer: Customer, threshold_bps: int = ubo_threshold_bps) -> tuple[BeneficialOwner, ...]:
    """Natural persons owning `threshold_bps` or more through any chain; for a natural-person customer, itself.

    When no natural person reaches the threshold, the directors are recorded as senior managing officials.
    """
    subject = customer.subject
    if isinstance(subject, NaturalPerson):
        return (BeneficialOwner(subject.party_id, share_bps_max, ((subject.party_id,),), "the customer itself"),)
    effective, paths, _ = _walk(customer)
    found: list[BeneficialOwner] = []
    for pid, share in effective.items():
        if not isinstance(customer.party(pid), NaturalPerson):
            continue
        if share >= Fraction(threshold_bps, share_bps_max):
            found.append(
                BeneficialOwner(pid, int(share * share_bps_max), tuple(sorted(paths[pid])), "ownership")
            )
    found.sort(key=lambda b: (-b.effective_share_bps, b.party_id))
    if not found:
        found = [
            BeneficialOwner(d, 0, (), "senior managing official (no natural person reaches the threshold)")
            for d in customer.directors
        ]
    return tuple(found)


def ownership_opacity(customer: Customer, layers_max: int = 2) -> tuple[str, ...]:
    """Why the ownership is hard to see through: untraced shares, layers, bearer shares, nominees, trusts, loops."""
    subject = customer.subject
    if isinstance(subject, NaturalPerson):
        return ()
    effective, paths, problems = _walk(customer)
    reasons: list[str] = list(dict.fromkeys(problems))
    owners = _owners_of(customer.ownership)
    involved = [subject.party_id, *effective]
    for pid in dict.fromkeys(involved):
        party = customer.party(pid)
        if not isinstance(party, LegalPerson):
            continue
        known = sum(link.share_bps for link in owners.get(pid, ()))
        if party.listed_on_exchange:
            continue
        if known < share_bps_max:
            reasons.append(
                f"{share_bps_max - known} bps of {pid} ({party.names[0]}) held by owners not identified"
            )
        if party.bearer_shares:
            reasons.append(f"{pid} ({party.names[0]}) has issued bearer shares")
        if party.nominee_shareholders:
            reasons.append(f"{pid} ({party.names[0]}) has nominee shareholders")
        if party.legal_form in (LegalForm.TRUST, LegalForm.FOUNDATION) and pid != subject.party_id:
            reasons.append(f"{pid} ({party.names[0]}) is a {party.legal_form.value} in the ownership chain")
    deepest = max((len(p) - 1 for ps in paths.values() for p in ps), default=0)
    if deepest > layers_max:
        reasons.append(f"ownership runs through {deepest} layers (more than {layers_max})")
    return tuple(reasons)


# ---------------------------------------------------------------------------------------------------------------
# Risk rating
# ---------------------------------------------------------------------------------------------------------------


class RiskRating(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class EddFlag(StrEnum):
    """Why a customer needs enhanced due diligence (senior approval, source of wealth, closer monitoring)."""

    PEP = "pep"
    HIGH_RISK_COUNTRY = "high_risk_country"
    COMPLEX_OWNERSHIP = "complex_ownership"
    HIGH_RISK_RATING = "high_risk_rating"
    HIGH_RISK_INDUSTRY = "high_risk_industry"


@dataclass(frozen=True, slots=True)
class CountryList:
    name: str  # "FATF call for action", "FATF increased monitoring"
    countries: frozenset[str]
    points: int
    forces_high: bool = False


@dataclass(frozen=True, slots=True)
class VolumeBand:
    monthly_at_least_hkd_minor: int
    points: int


@dataclass(frozen=True, slots=True)
class RiskRules:
    """Explainable risk rules, all data. Points add up; the total picks the rating."""

    version: str
    country_lists: tuple[CountryList, ...]
    industry_points: Mapping[str, int]
    pep_points: int = 40
    pep_forces_high: bool = True
    volume_bands: tuple[VolumeBand, ...] = ()
    opacity_points_each: int = 15
    opacity_points_max: int = 45
    opacity_edd_at_points: int = 30
    expired_document_points: int = 10
    unverified_identity_points: int = 10
    medium_at_points: int = 25
    high_at_points: int = 50
    review_years: Mapping[RiskRating, int] = field(
        default_factory=lambda: {RiskRating.HIGH: 1, RiskRating.MEDIUM: 2, RiskRating.LOW: 3}
    )

    def __post_init__(self) -> None:
        if not 0 < self.medium_at_points <= self.high_at_points:
            raise ValidationError("risk rules need 0 < medium_at_points <= high_at_points")
        for rating in RiskRating:
            years = self.review_years.get(rating)
            if years is None or not 0 < years <= 10:
                raise ValidationError(f"risk rules need review_years for {rating.value} in 1..10")
        for band in self.volume_bands:
            if band.monthly_at_least_hkd_minor < 0 or band.points < 0:
                raise ValidationError("volume bands need non-negative amounts and points")

    def rating_for(self, points: int) -> RiskRating:
        if points >= self.high_at_points:
            return RiskRating.HIGH
        if points >= self.medium_at_points:
            return RiskRating.MEDIUM
        return RiskRating.LOW


# FATF public statements (as of the June 2025 plenary). Lists are data: load newer ones with
# `risk_rules_from_mapping` rather than editing code.
FATF_CALL_FOR_ACTION = frozenset({"KP", "IR", "MM"})
FATF_INCREASED_MONITORING = frozenset({
    "DZ", "AO", "BO", "BG", "CM", "CI", "CD", "HT", "KE", "LA", "LB", "MC", "MZ", "NA", "NP", "NG", "ZA",
    "SS", "SY", "VE", "VN", "VG", "YE",
})
HIGH_RISK_INDUSTRIES: Mapping[str, int] = {
    "virtual_asset_service_provider": 25,
    "money_service_operator": 25,
    "casino_gaming": 30,
    "precious_metals_and_stones": 20,
    "arms_and_defence": 30,
    "shell_or_holding_company": 20,
    "real_estate": 10,
    "trading_company": 10,
    "charity_non_profit": 15,
}

DEFAULT_RISK_RULES = RiskRules(
    version="default-2025-06",
    country_lists=(
        CountryList("FATF call for action", FATF_CALL_FOR_ACTION, 60, forces_high=True),
        CountryList("FATF increased monitoring", FATF_INCREASED_MONITORING, 25),
    ),
    industry_points=HIGH_RISK_INDUSTRIES,
    volume_bands=(
        VolumeBand(100_000_000_00, 25),  # HK$100m a month
        VolumeBand(10_000_000_00, 15),  # HK$10m a month
        VolumeBand(1_000_000_00, 5),  # HK$1m a month
    ),
)


@dataclass(frozen=True, slots=True)
class RiskReason:
    rule: str  # "country", "industry", "pep", "volume", "opacity", "documents", "identity"
    points: int
    detail: str


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    customer_id: str
    rating: RiskRating
    points: int
    reasons: tuple[RiskReason, ...]
    edd_flags: tuple[EddFlag, ...]
    assessed_on: date
    next_review_on: date
    rules_version: str

    @property
    def edd_required(self) -> bool:
        return bool(self.edd_flags)


def review_due(rating: RiskRating, assessed_on: date, rules: RiskRules = DEFAULT_RISK_RULES) -> date:
    """Periodic review date: by default high 1 year, medium 2, low 3 after the assessment."""
    return add_years(assessed_on, rules.review_years[rating])


def _related(customer: Customer) -> list[Party]:
    """Subject, directors and every owner in its chains."""
    ids = [customer.subject_id, *customer.directors]
    ids.extend(link.owner_id for link in customer.ownership)
    return [customer.party(pid) for pid in dict.fromkeys(ids)]


def assess_risk(customer: Customer, today: date, rules: RiskRules = DEFAULT_RISK_RULES) -> RiskAssessment:
    """Rating, points and the reason for every point."""
    reasons: list[RiskReason] = []
    flags: list[EddFlag] = []
    forced_high: list[str] = []
    related = _related(customer)

    for country_list in rules.country_lists:
        exposed = sorted(
            {(c, p.party_id) for p in related for c in p.countries if c in country_list.countries}
        )
        if exposed:
            listed = ", ".join(f"{c} ({pid})" for c, pid in exposed)
            reasons.append(RiskReason("country", country_list.points, f"{country_list.name}: {listed}"))
            flags.append(EddFlag.HIGH_RISK_COUNTRY)
            if country_list.forces_high:
                forced_high.append(f"{country_list.name} exposure")

    industries = {p.industry for p in related if isinstance(p, LegalPerson) and p.industry}
    subject = customer.subject
    if isinstance(subject, NaturalPerson) and subject.occupation:
        industries.add(subject.occupation)
    scored = sorted((rules.industry_points[i], i) for i in industries if i in rules.industry_points)
    if scored:
        points, industry = scored[-1]
        reasons.append(RiskReason("industry", points, f"industry {industry}"))
        if points >= 20:
            flags.append(EddFlag.HIGH_RISK_INDUSTRY)

    peps = [p for p in related if isinstance(p, NaturalPerson) and p.pep]
    if peps:
        who = ", ".join(f"{p.party_id} ({p.names[0]}{': ' + p.pep_role if p.pep_role else ''})" for p in peps)
        reasons.append(RiskReason("pep", rules.pep_points, f"politically exposed person: {who}"))
        flags.append(EddFlag.PEP)
        if rules.pep_forces_high:
            forced_high.append("politically exposed person")

    for band in sorted(rules.volume_bands, key=lambda b: -b.monthly_at_least_hkd_minor):
        if customer.expected_monthly_volume_hkd_minor >= band.monthly_at_least_hkd_minor:
            reasons.append(
                RiskReason(
                    "volume",
                    band.points,
                    f"expected monthly volume {customer.expected_monthly_volume_hkd_minor} HKD minor units "
                    f">= {band.monthly_at_least_hkd_minor}",
                )
            )
            break

    opacity = ownership_opacity(customer)
    if opacity:
        points = min(rules.opacity_points_max, rules.opacity_points_each * len(opacity))
        reasons.append(RiskReason("opacity", points, "ownership opacity: " + "; ".join(opacity)))
        if points >= rules.opacity_edd_at_points:
            flags.append(EddFlag.COMPLEX_OWNERSHIP)

    expired = [
        f"{p.party_id} {d.doc_type.value} {d.number_masked} expired {d.expires_on}"
        for p in related
        for d in p.documents
        if d.is_expired(today)
    ]
    if expired:
        detail = "expired documents: " + "; ".join(expired)
        reasons.append(RiskReason("documents", rules.expired_document_points, detail))

    if not customer.identity_verified:
        reasons.append(RiskReason("identity", rules.unverified_identity_points, "identity not yet verified"))

    total = sum(r.points for r in reasons)
    rating = rules.rating_for(total)
    if forced_high and rating is not RiskRating.HIGH:
        rating = RiskRating.HIGH
        reasons.append(RiskReason("override", 0, "rated high regardless of points: " + ", ".join(forced_high)))
    if rating is RiskRating.HIGH:
        flags.append(EddFlag.HIGH_RISK_RATING)
    return RiskAssessment(
        customer_id=customer.customer_id,
        rating=rating,
        points=total,
        reasons=tuple(reasons),
        edd_flags=tuple(dict.fromkeys(flags)),
        assessed_on=today,
        next_review_on=review_due(rating, today, rules),
        rules_version=rules.version,
    )


def reviews_due(assessments: Iterable[RiskAssessment], today: date) -> tuple[RiskAssessment, ...]:
    """Assessments whose periodic review date has come, earliest first."""
    return tuple(sorted((a for a in assessments if a.next_review_on <= today), key=lambda a: a.next_review_on))


def risk_rules_from_mapping(data: Mapping[str, Any]) -> RiskRules:
    """Rules from JSON-like data: {"version", "country_lists": [{"name","countries","points","forces_high"}],
    "industry_points": {...}, "volume_bands": [{"monthly_at_least_hkd_minor","points"}], thresholds...}."""
    try:
        lists = tuple(
            CountryList(
                str(c["name"]),
                frozenset(_country(x, "country") for x in c["countries"]),
                int(c["points"]),
                bool(c.get("forces_high", False)),
            )
            for c in data.get("country_lists", ())
        )
        bands = tuple(
            VolumeBand(int(b["monthly_at_least_hkd_minor"]), int(b["points"])) for b in data.get("volume_bands", ())
        )
        years = data.get("review_years", {"high": 1, "medium": 2, "low": 3})
        review = {RiskRating(k): int(v) for k, v in years.items()}
        ints = {
            k: int(data[k])
            for k in (
                "pep_points", "opacity_points_each", "opacity_points_max", "opacity_edd_at_points",
                "expired_document_points", "unverified_identity_points", "medium_at_points", "high_at_points",
            )
            if k in data
        }
        return RiskRules(
            version=str(data["version"]),
            country_lists=lists,
            industry_points={str(k): int(v) for k, v in data.get("industry_points", {}).items()},
            volume_bands=bands,
            review_years=review,
            pep_forces_high=bool(data.get("pep_forces_high", True)),
            **ints,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"risk rules: {exc!r}", code="bad_risk_rules") from None


# ---------------------------------------------------------------------------------------------------------------
# Onboarding decision, occasional transactions, retention
# ---------------------------------------------------------------------------------------------------------------


class OnboardingDecision(StrEnum):
    ACCEPTED = "accepted"
    HELD = "held"  # a compliance officer must review a possible match first
    REFUSED = "refused"


def needs_senior_approval(rating: RiskRating | str, edd_flags: Iterable[EddFlag | str]) -> bool:
    """A high-risk or PEP customer is accepted only with a senior officer's sign-off (a second person)."""
    flags = {str(f) for f in edd_flags}
    return str(rating) == RiskRating.HIGH.value or EddFlag.PEP.value in flags or (
        EddFlag.HIGH_RISK_RATING.value in flags)


def decide_onboarding(screening: Iterable[ScreeningDecision]) -> tuple[OnboardingDecision, str]:
    """A sanctioned party (hit) is refused; a possible match (review) is held for a compliance officer."""
    decisions = list(screening)
    if ScreeningDecision.HIT in decisions:
        return OnboardingDecision.REFUSED, "a party matches a sanctions list entry"
    if ScreeningDecision.REVIEW in decisions:
        return OnboardingDecision.HELD, "a possible sanctions match awaits a compliance officer's review"
    return OnboardingDecision.ACCEPTED, "no party matches a sanctions list entry"


def check_occasional_transaction(
    amount_hkd_minor: int, identity_verified: bool, linked_amounts_hkd_minor: Sequence[int] = ()
) -> None:
    """An occasional transaction of HK$8,000 or more (alone or with linked ones) needs verified identity."""
    if amount_hkd_minor < 0 or any(a < 0 for a in linked_amounts_hkd_minor):
        raise ValidationError("transaction amounts must be >= 0")
    total = amount_hkd_minor + sum(linked_amounts_hkd_minor)
    if total >= occasional_transaction_threshold_hkd_minor and not identity_verified:
        raise RefusedError(
            f"occasional transaction of {total} HKD minor units (HK${total // 100:,}) is at or above "
            f"HK${occasional_transaction_threshold_hkd_minor // 100:,}: identity must be verified first",
            code="identity_verification_required",
        )


def retention_until(relationship_ended_on: date, years: int = retention_years_min) -> date:
    if years < retention_years_min:
        raise ValidationError(f"records are kept at least {retention_years_min} years, got {years}")
    return add_years(relationship_ended_on, years)


def check_deletion_allowed(
    customer_id: str, relationship_ended_on: date | None, today: date, years: int = retention_years_min
) -> None:
    """Refuse deleting a customer's records before the retention period (5 years after the end) has passed."""
    if relationship_ended_on is None:
        raise RefusedError(
            f"customer {customer_id}: the relationship has not ended; records cannot be deleted",
            code="retention_period",
        )
    until = retention_until(relationship_ended_on, years)
    if today < until:
        raise RefusedError(
            f"customer {customer_id}: records must be kept until {until.isoformat()} "
            f"({years} years after the relationship ended on {relationship_ended_on.isoformat()}); "
            f"{(until - today).days} days remain",
            code="retention_period",
        )


# ---------------------------------------------------------------------------------------------------------------
# Reading a customer from JSON-like data (the onboarding file)
# ---------------------------------------------------------------------------------------------------------------


def _date_or_none(value: Any, what: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{what}: not an ISO date: {value!r}") from None


def _document(data: Mapping[str, Any], pepper: str, where: str) -> IdentityDocument:
    try:
        doc_type = DocumentType(str(data["type"]))
    except (KeyError, ValueError):
        known = ", ".join(d.value for d in DocumentType)
        raise ValidationError(f"{where}: document type must be one of {known}") from None
    number = str(data.get("number", ""))
    if number:
        return IdentityDocument.from_number(
            doc_type, number, str(data.get("issuing_country", "")), pepper,
            _date_or_none(data.get("expires_on"), f"{where} expires_on"), bool(data.get("verified", False)),
        )
    return IdentityDocument(
        doc_type, str(data.get("number_masked", "")), str(data.get("number_sha256", "")),
        str(data.get("issuing_country", "")), _date_or_none(data.get("expires_on"), f"{where} expires_on"),
        bool(data.get("verified", False)),
    )


def party_from_mapping(data: Mapping[str, Any], pepper: str) -> Party:
    pid = str(data.get("party_id") or data.get("id") or "")
    where = f"party {pid or '?'}"
    names = data.get("names")
    if not isinstance(names, list) or not names:
        raise ValidationError(f"{where}: names must be a non-empty list")
    docs = tuple(_document(d, pepper, where) for d in data.get("documents", ()))
    kind = str(data.get("kind", "natural"))
    if kind == PartyKind.NATURAL:
        return NaturalPerson(
            party_id=pid,
            names=tuple(str(n) for n in names),
            date_of_birth=_date_or_none(data.get("date_of_birth"), f"{where} date_of_birth"),
            nationality=str(data.get("nationality", "")),
            residence_country=str(data.get("residence_country", "")),
            documents=docs,
            pep=bool(data.get("pep", False)),
            pep_role=str(data.get("pep_role", "")),
            occupation=str(data.get("occupation", "")),
        )
    if kind == PartyKind.LEGAL:
        try:
            form = LegalForm(str(data.get("legal_form", "company")))
        except ValueError:
            raise ValidationError(f"{where}: unknown legal_form {data.get('legal_form')!r}") from None
        return LegalPerson(
            party_id=pid,
            names=tuple(str(n) for n in names),
            incorporation_country=str(data.get("incorporation_country", "")),
            legal_form=form,
            registration_number=str(data.get("registration_number", "")),
            industry=str(data.get("industry", "")),
            documents=docs,
            bearer_shares=bool(data.get("bearer_shares", False)),
            nominee_shareholders=bool(data.get("nominee_shareholders", False)),
            listed_on_exchange=bool(data.get("listed_on_exchange", False)),
        )
    raise ValidationError(f"{where}: kind must be natural or legal, got {kind!r}")


def customer_from_mapping(data: Mapping[str, Any], pepper: str) -> Customer:
    """A customer from its onboarding file; document numbers are masked and hashed here and never kept."""
    if not isinstance(data, Mapping):
        raise ValidationError("a customer must be a JSON object")
    customer_id = str(data.get("customer_id", ""))
    parties_data = data.get("parties")
    if not isinstance(parties_data, list) or not parties_data:
        raise ValidationError(f"customer {customer_id}: parties must be a non-empty list")
    parties = tuple(party_from_mapping(p, pepper) for p in parties_data)
    try:
        links = tuple(
            OwnershipLink(str(o["owner"]), str(o["owned"]), int(o["share_bps"])) for o in data.get("ownership", ())
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"customer {customer_id}: ownership needs owner, owned, share_bps ({exc!r})") from None
    volume = data.get("expected_monthly_volume_hkd_minor", 0)
    if not isinstance(volume, int) or isinstance(volume, bool):
        raise ValidationError(f"customer {customer_id}: expected_monthly_volume_hkd_minor must be an integer")
    return Customer(
        customer_id=customer_id,
        subject_id=str(data.get("subject", parties[0].party_id)),
        parties=parties,
        ownership=links,
        directors=tuple(str(d) for d in data.get("directors", ())),
        expected_monthly_volume_hkd_minor=volume,
        expected_monthly_transactions=int(data.get("expected_monthly_transactions", 0)),
        relationship_started_on=_date_or_none(data.get("relationship_started_on"), "relationship_started_on"),
        relationship_ended_on=_date_or_none(data.get("relationship_ended_on"), "relationship_ended_on"),
        identity_verified=bool(data.get("identity_verified", False)),
    )


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def customer_to_mapping(customer: Customer) -> dict[str, Any]:
    """The stored form (document numbers only masked and hashed); `customer_from_mapping` reads it back."""

    def doc(d: IdentityDocument) -> dict[str, Any]:
        return {
            "type": d.doc_type.value, "number_masked": d.number_masked, "number_sha256": d.number_sha256,
            "issuing_country": d.issuing_country, "expires_on": _iso(d.expires_on), "verified": d.verified,
        }

    def party(p: Party) -> dict[str, Any]:
        if isinstance(p, NaturalPerson):
            return {
                "kind": "natural", "party_id": p.party_id, "names": list(p.names),
                "date_of_birth": _iso(p.date_of_birth), "nationality": p.nationality,
                "residence_country": p.residence_country, "documents": [doc(d) for d in p.documents],
                "pep": p.pep, "pep_role": p.pep_role, "occupation": p.occupation,
            }
        return {
            "kind": "legal", "party_id": p.party_id, "names": list(p.names),
            "incorporation_country": p.incorporation_country, "legal_form": p.legal_form.value,
            "registration_number": p.registration_number, "industry": p.industry,
            "documents": [doc(d) for d in p.documents], "bearer_shares": p.bearer_shares,
            "nominee_shareholders": p.nominee_shareholders, "listed_on_exchange": p.listed_on_exchange,
        }

    return {
        "customer_id": customer.customer_id,
        "subject": customer.subject_id,
        "parties": [party(p) for p in customer.parties],
        "ownership": [
            {"owner": o.owner_id, "owned": o.owned_id, "share_bps": o.share_bps} for o in customer.ownership
        ],
        "directors": list(customer.directors),
        "expected_monthly_volume_hkd_minor": customer.expected_monthly_volume_hkd_minor,
        "expected_monthly_transactions": customer.expected_monthly_transactions,
        "relationship_started_on": _iso(customer.relationship_started_on),
        "relationship_ended_on": _iso(customer.relationship_ended_on),
        "identity_verified": customer.identity_verified,
    }
