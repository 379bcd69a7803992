"""Travel rule: build an IVMS101 identity payload (camelCase JSON) and validate it.

Validation is two steps: the structure against `ivms101.schema.json` (jsonschema, Draft 2020-12), then the
completeness the amount requires (`domain.compliance.travel_rule_missing`: from HK$8,000 the originator needs an
address, national identity number, customer number or date and place of birth).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from bauhinia.domain.compliance import PartyInformation, travel_rule_missing
from bauhinia.domain.errors import ValidationError

SCHEMA_PATH = Path(__file__).with_name("ivms101.schema.json")
schema_errors_reported_max: int = 20


@dataclass(frozen=True, slots=True)
class Address:
    country: str  # ISO 3166 alpha-2
    town: str = ""
    lines: tuple[str, ...] = ()
    address_type: str = "HOME"  # HOME, BIZZ or GEOG


@dataclass(frozen=True, slots=True)
class Party:
    """A person or company as the issuer knows it, reduced to what IVMS101 carries."""

    name: str  # natural person: family name (primaryIdentifier); legal person: registered name
    given_names: str = ""  # natural person only (secondaryIdentifier)
    local_name: str = ""  # the name in its own script, e.g. 陳大文
    legal_person: bool = False
    account: str = ""  # account number or wallet address
    address: Address | None = None
    national_id: str = ""
    national_id_type: str = "IDCD"  # CCPT passport, IDCD identity card, LEIX LEI, RAID registration...
    national_id_country: str = ""
    customer_id: str = ""
    date_of_birth: str = ""  # YYYY-MM-DD
    place_of_birth: str = ""


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _address(a: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"addressType": a.address_type, "country": a.country}
    if a.town:
        out["townName"] = a.town
    if a.lines:
        out["addressLine"] = list(a.lines)
    return out


def _person(p: Party) -> dict[str, Any]:
    ident: dict[str, Any] = {}
    if p.national_id:
        ident = {"nationalIdentifier": p.national_id, "nationalIdentifierType": p.national_id_type}
        if p.national_id_country:
            ident["countryOfIssue"] = p.national_id_country
    if p.legal_person:
        name: dict[str, Any] = {
            "nameIdentifier": [{"legalPersonName": p.name, "legalPersonNameIdentifierType": "LEGL"}]
        }
        if p.local_name:
            name["localNameIdentifier"] = [
                {"legalPersonName": p.local_name, "legalPersonNameIdentifierType": "LEGL"}
            ]
        legal: dict[str, Any] = {"name": name}
        if p.address:
            legal["geographicAddress"] = [_address(p.address)]
        if p.customer_id:
            legal["customerNumber"] = p.customer_id
        if ident:
            legal["nationalIdentification"] = ident
        return {"legalPerson": legal}
    name_id: dict[str, Any] = {"primaryIdentifier": p.name, "nameIdentifierType": "LEGL"}
    if p.given_names:
        name_id["secondaryIdentifier"] = p.given_names
    natural_name: dict[str, Any] = {"nameIdentifier": [name_id]}
    if p.local_name:
        natural_name["localNameIdentifier"] = [{"primaryIdentifier": p.local_name, "nameIdentifierType": "LEGL"}]
    natural: dict[str, Any] = {"name": natural_name}
    if p.address:
        natural["geographicAddress"] = [_address(p.address)]
    if ident:
        natural["nationalIdentification"] = ident
    if p.customer_id:
        natural["customerIdentification"] = p.customer_id
    if p.date_of_birth and p.place_of_birth:
        natural["dateAndPlaceOfBirth"] = {"dateOfBirth": p.date_of_birth, "placeOfBirth": p.place_of_birth}
    return {"naturalPerson": natural}


def build_ivms101(
    originator: Party,
    beneficiary: Party,
    originating_vasp: Party | None = None,
    beneficiary_vasp: Party | None = None,
) -> dict[str, Any]:
    """The IVMS101 IdentityPayload for one transfer (not yet validated: call `validate_ivms101`)."""
    payload: dict[str, Any] = {
        "originator": {"originatorPersons": [_person(originator)]},
        "beneficiary": {"beneficiaryPersons": [_person(beneficiary)]},
    }
    if originator.account:
        payload["originator"]["accountNumber"] = [originator.account]
    if beneficiary.account:
        payload["beneficiary"]["accountNumber"] = [beneficiary.account]
    if originating_vasp is not None:
        payload["originatingVASP"] = {"originatingVASP": _person(originating_vasp)}
    if beneficiary_vasp is not None:
        payload["beneficiaryVASP"] = {"beneficiaryVASP": _person(beneficiary_vasp)}
    if any(_is_han(p.local_name) for p in (originator, beneficiary)):
        payload["payloadMetadata"] = {"transliterationMethod": ["hant"]}
    return payload


def _is_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _presence(block: dict[str, Any], persons_key: str) -> PartyInformation:
    person = block[persons_key][0]
    body = person.get("naturalPerson") or person.get("legalPerson") or {}
    dob = body.get("dateAndPlaceOfBirth", {})
    return PartyInformation(
        has_name=bool(body.get("name", {}).get("nameIdentifier")),
        has_account=bool(block.get("accountNumber")),
        has_address=bool(body.get("geographicAddress")),
        has_national_id=bool(body.get("nationalIdentification")),
        has_birth_date_and_place=bool(dob.get("dateOfBirth") and dob.get("placeOfBirth")),
        has_customer_id=bool(body.get("customerIdentification") or body.get("customerNumber")),
    )


def validate_ivms101(payload: dict[str, Any], amount_hkd_minor: int) -> None:
    """Raise ValidationError naming every schema error and every missing item the amount requires."""
    errors = sorted(_validator().iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        shown = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in errors[:schema_errors_reported_max]
        ]
        raise ValidationError("IVMS101 payload does not match the schema: " + "; ".join(shown),
                              code="ivms101_invalid")
    missing = travel_rule_missing(
        _presence(payload["originator"], "originatorPersons"),
        _presence(payload["beneficiary"], "beneficiaryPersons"),
        amount_hkd_minor,
    )
    if missing:
        raise ValidationError(
            f"IVMS101 payload incomplete for HK${amount_hkd_minor // 100:,}.{amount_hkd_minor % 100:02d}: missing "
            + ", ".join(missing),
            code="travel_rule_incomplete",
        )
