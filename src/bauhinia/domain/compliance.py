"""Compliance rules: screening decisions, reviewed false positives, wallet exposure, travel-rule threshold.

Pure and synchronous. The matcher (adapters/screening) turns names into scored hits; this module decides what a
set of hits means for one customer, which wallet exposure blocks or alerts, and when a transfer needs a complete
travel-rule payload. Due diligence, monitoring rules and cases are added here by their own capability.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bauhinia.domain.errors import ValidationError
from bauhinia.domain.money import Currency, base_units_per_minor

# ---------------------------------------------------------------------------------------------------------------
# Listed parties (what a sanctions / PEP list says about one entity)
# ---------------------------------------------------------------------------------------------------------------


class PartySchema(StrEnum):
    """The FollowTheMoney schema words we use for listed parties and screened names."""

    PERSON = "Person"
    COMPANY = "Company"
    VESSEL = "Vessel"
    AIRCRAFT = "Aircraft"
    OTHER = "LegalEntity"


def parse_party_schema(text: str) -> PartySchema:
    """Person / Company (and the FollowTheMoney synonyms Organization, LegalEntity...), case-insensitive."""
    key = text.strip().lower()
    aliases = {
        "person": PartySchema.PERSON,
        "individual": PartySchema.PERSON,
        "company": PartySchema.COMPANY,
        "organization": PartySchema.COMPANY,
        "organisation": PartySchema.COMPANY,
        "entity": PartySchema.COMPANY,
        "legalentity": PartySchema.OTHER,
        "vessel": PartySchema.VESSEL,
        "aircraft": PartySchema.AIRCRAFT,
    }
    if key not in aliases:
        raise ValidationError(f"unknown schema {text!r}: expected Person or Company")
    return aliases[key]


@dataclass(frozen=True, slots=True)
class ListedParty:
    """One entity of a sanctions or PEP list. `entity_id` is unique across lists ("ofac-36", "un-6907993")."""

    entity_id: str
    source: str
    schema: PartySchema
    names: tuple[str, ...]
    dates_of_birth: tuple[str, ...] = ()  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    nationalities: tuple[str, ...] = ()  # country names or ISO codes as the list gives them
    programs: tuple[str, ...] = ()
    wallet_addresses: tuple[tuple[str, str], ...] = ()  # (currency ticker, address)

    def check_invariants(self) -> None:
        if not self.entity_id:
            raise ValidationError("a listed party needs an entity_id")
        if not self.names or any(not n.strip() for n in self.names):
            raise ValidationError(f"listed party {self.entity_id} has no usable name")


# ---------------------------------------------------------------------------------------------------------------
# Screening decisions
# ---------------------------------------------------------------------------------------------------------------


class ScreeningDecision(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"
    HIT = "hit"


@dataclass(frozen=True, slots=True)
class ScreeningThresholds:
    """Scores are in [0, 1]. At or above `hit` a name is a hit; at or above `review` a person looks at it."""

    hit: float = 0.85
    review: float = 0.70

    def __post_init__(self) -> None:
        if not 0.0 < self.review <= self.hit <= 1.0:
            raise ValidationError(f"thresholds need 0 < review <= hit <= 1, got review={self.review} hit={self.hit}")

    def decide(self, score: float) -> ScreeningDecision:
        if score >= self.hit:
            return ScreeningDecision.HIT
        if score >= self.review:
            return ScreeningDecision.REVIEW
        return ScreeningDecision.CLEAR


DEFAULT_THRESHOLDS = ScreeningThresholds()

# A hit this strong (or an exact name with the same date of birth) is dismissed only by two compliance officers.
strong_hit_score: float = 0.95


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """A scored candidate: which list entity, which of its names, the score and why."""

    entity_id: str
    matched_name: str
    score: float
    explanation: tuple[str, ...]
    entity_fingerprint: str = ""  # changes when the listed record changes; set by the list loader


@dataclass(frozen=True, slots=True)
class ReviewedFalsePositive:
    """A person reviewed (customer, entity) and found they are different people.

    It holds only while the listed record is the one reviewed: a changed fingerprint (new alias, new date of birth)
    brings the hit back.
    """

    customer_id: str
    entity_id: str
    entity_fingerprint: str
    reviewed_by: str
    reason: str
    reviewed_at_ns: int

    def __post_init__(self) -> None:
        if not self.customer_id or not self.entity_id:
            raise ValidationError("a reviewed false positive needs customer_id and entity_id")
        if not self.reviewed_by.strip():
            raise ValidationError("a reviewed false positive needs the reviewer")
        if not self.reason.strip():
            raise ValidationError("a reviewed false positive needs a reason")


@dataclass(frozen=True, slots=True)
class ScreeningOutcome:
    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]  # hits that count (at or above review), best first
    suppressed: tuple[ScreeningHit, ...] = field(default=())  # hits hidden by a reviewed false positive


def decide_screening(
    customer_id: str,
    hits: Iterable[ScreeningHit],
    reviewed: Iterable[ReviewedFalsePositive] = (),
    thresholds: ScreeningThresholds = DEFAULT_THRESHOLDS,
) -> ScreeningOutcome:
    """The decision for one customer: the worst of its hits that no reviewed false positive covers."""
    covered = {
        (r.entity_id, r.entity_fingerprint) for r in reviewed if r.customer_id == customer_id
    }
    counting: list[ScreeningHit] = []
    suppressed: list[ScreeningHit] = []
    for hit in hits:
        if thresholds.decide(hit.score) is ScreeningDecision.CLEAR:
            continue
        if (hit.entity_id, hit.entity_fingerprint) in covered:
            suppressed.append(hit)
        else:
            counting.append(hit)
    counting.sort(key=lambda h: (-h.score, h.entity_id))
    decision = ScreeningDecision.CLEAR
    if counting:
        decision = thresholds.decide(counting[0].score)
    return ScreeningOutcome(decision=decision, hits=tuple(counting), suppressed=tuple(suppressed))


def is_strong_hit(hit: ScreeningHit, strong: float = strong_hit_score) -> bool:
    """A hit a single officer may not dismiss: a score at or above `strong`, or a name the matcher found exact
    (score 1.00 on the name alone) together with the same date of birth."""
    if hit.score >= strong:
        return True
    exact_name = any(note.startswith("name ") and note.endswith("(1.00)") for note in hit.explanation)
    same_dob = any(note.startswith("date of birth ") and note.endswith(" matches") for note in hit.explanation)
    return exact_name and same_dob


# ---------------------------------------------------------------------------------------------------------------
# Wallet screening
# ---------------------------------------------------------------------------------------------------------------


class WalletDecision(StrEnum):
    CLEAR = "clear"
    ALERT = "alert"  # indirect exposure: a counterparty one hop away is listed
    BLOCK = "block"  # direct exposure: the address itself is listed


@dataclass(frozen=True, slots=True)
class Transfer:
    """An indexed token transfer between two addresses."""

    from_address: str
    to_address: str
    amount_base_units: int

    def __post_init__(self) -> None:
        if self.amount_base_units < 0:
            raise ValidationError(f"transfer amount must be >= 0, got {self.amount_base_units}")


@dataclass(frozen=True, slots=True)
class WalletAssessment:
    address: str
    decision: WalletDecision
    reasons: tuple[str, ...]
    exposed_amount_base_units: int = 0  # sum of transfers with listed counterparties


def normalise_address(address: str) -> str:
    """EVM addresses compare case-insensitively (EIP-55 checksums are only a casing); others keep their case."""
    text = address.strip()
    if text.lower().startswith("0x"):
        return text.lower()
    return text


def assess_wallet(
    address: str,
    listed: Mapping[str, str],
    transfers: Iterable[Transfer] = (),
    transfers_max: int = 1_000_000,
) -> WalletAssessment:
    """Direct exposure (the address is listed) blocks; a transfer to or from a listed address raises an alert.

    `listed` maps normalised addresses to why they are listed ("OFAC SDN ofac-12345", "issuer blacklist").
    """
    target = normalise_address(address)
    if not target:
        raise ValidationError("empty wallet address")
    if target in listed:
        return WalletAssessment(target, WalletDecision.BLOCK, (f"address is listed: {listed[target]}",))
    reasons: list[str] = []
    exposed = 0
    for count, transfer in enumerate(transfers):
        if count >= transfers_max:
            raise ValidationError(f"too many transfers to assess (more than {transfers_max})")
        src = normalise_address(transfer.from_address)
        dst = normalise_address(transfer.to_address)
        if src == target and dst in listed:
            reasons.append(f"sent {transfer.amount_base_units} base units to {dst} ({listed[dst]})")
            exposed += transfer.amount_base_units
        elif dst == target and src in listed:
            reasons.append(f"received {transfer.amount_base_units} base units from {src} ({listed[src]})")
            exposed += transfer.amount_base_units
    if reasons:
        return WalletAssessment(target, WalletDecision.ALERT, tuple(reasons), exposed)
    return WalletAssessment(target, WalletDecision.CLEAR, ())


# ---------------------------------------------------------------------------------------------------------------
# Travel rule
# ---------------------------------------------------------------------------------------------------------------

# Hong Kong applies the travel rule's full information from HK$8,000 (AMLO Schedule 2, section 13A).
travel_rule_threshold_hkd_minor: int = 800_000


def travel_rule_amount_hkd_minor(amount: int, currency: Currency, hkd_per_unit_ppm: int | None = None) -> int:
    """The transfer's value in HKD minor units.

    HKD and BHKD are converted exactly. Other currencies need the rate as HKD per one unit of the currency in
    parts per million (e.g. CNH at 1.08 HKD -> 1_080_000); rounding goes up, so the threshold is never dodged.
    """
    if amount < 0:
        raise ValidationError(f"amount must be >= 0, got {amount}")
    if currency is Currency.HKD:
        return amount
    if currency is Currency.BHKD:
        return -(-amount // base_units_per_minor)
    if hkd_per_unit_ppm is None or hkd_per_unit_ppm <= 0:
        raise ValidationError(f"a {currency.value} amount needs an HKD rate for the travel-rule threshold")
    minor = -(-amount // base_units_per_minor) if currency.is_token else amount
    return -(-minor * hkd_per_unit_ppm // 1_000_000)


def travel_rule_needs_full_information(amount_hkd_minor: int) -> bool:
    """At or above HK$8,000 the originator and beneficiary information must be complete."""
    return amount_hkd_minor >= travel_rule_threshold_hkd_minor


@dataclass(frozen=True, slots=True)
class PartyInformation:
    """What a travel-rule payload tells about one party (originator or beneficiary), reduced to presence."""

    has_name: bool
    has_account: bool  # account number or wallet address
    has_address: bool = False
    has_national_id: bool = False
    has_birth_date_and_place: bool = False
    has_customer_id: bool = False


def travel_rule_missing(
    originator: PartyInformation, beneficiary: PartyInformation, amount_hkd_minor: int
) -> tuple[str, ...]:
    """What the payload still lacks for this amount; empty when complete."""
    missing: list[str] = []
    if not originator.has_name:
        missing.append("originator name")
    if not beneficiary.has_name:
        missing.append("beneficiary name")
    if not originator.has_account:
        missing.append("originator account number or wallet address")
    if not beneficiary.has_account:
        missing.append("beneficiary account number or wallet address")
    if travel_rule_needs_full_information(amount_hkd_minor) and not (
        originator.has_address
        or originator.has_national_id
        or originator.has_birth_date_and_place
        or originator.has_customer_id
    ):
        missing.append(
            "originator address, national identity number, customer identification number, "
            "or date and place of birth (required from HK$8,000)"
        )
    return tuple(missing)


def best_hits(hits: Sequence[ScreeningHit], limit: int) -> tuple[ScreeningHit, ...]:
    """Best hit per entity, best first, at most `limit`."""
    if limit <= 0:
        raise ValidationError(f"limit must be positive, got {limit}")
    best: dict[str, ScreeningHit] = {}
    for hit in hits:
        kept = best.get(hit.entity_id)
        if kept is None or hit.score > kept.score:
            best[hit.entity_id] = hit
    ranked = sorted(best.values(), key=lambda h: (-h.score, h.entity_id))
    return tuple(ranked[:limit])
