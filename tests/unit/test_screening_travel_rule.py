"""IVMS101 payloads: built payloads validate against the schema; invalid or incomplete ones are refused."""

from __future__ import annotations

import copy

import pytest

from bauhinia.adapters.screening.travel_rule import Address, Party, build_ivms101, validate_ivms101
from bauhinia.domain.errors import ValidationError

ORIGINATOR = Party(
    name="CHAN", given_names="Tai Man", local_name="陳大文", account="0x1111111111111111111111111111111111111111",
    address=Address(country="HK", town="Hong Kong", lines=("1 Queen's Road Central",)),
    national_id="A1234563", national_id_type="IDCD", national_id_country="HK",
    date_of_birth="1980-02-02", place_of_birth="Hong Kong",
)
BENEFICIARY = Party(name="Shenzhen Example Trading Co., Ltd.", local_name="深圳示例贸易有限公司", legal_person=True,
                    account="0x2222222222222222222222222222222222222222")
VASP = Party(name="Bauhinia Stablecoin Issuer Limited", legal_person=True, national_id="5493001KJTIIGC8Y1R12",
             national_id_type="LEIX")


def test_full_payload_is_valid_and_camel_case() -> None:
    payload = build_ivms101(ORIGINATOR, BENEFICIARY, VASP, VASP)
    validate_ivms101(payload, 1_000_000)
    person = payload["originator"]["originatorPersons"][0]["naturalPerson"]
    assert person["name"]["nameIdentifier"][0] == {
        "primaryIdentifier": "CHAN", "secondaryIdentifier": "Tai Man", "nameIdentifierType": "LEGL"}
    assert person["dateAndPlaceOfBirth"]["placeOfBirth"] == "Hong Kong"
    assert payload["originator"]["accountNumber"] == [ORIGINATOR.account]


def test_below_threshold_needs_only_names_and_accounts() -> None:
    minimal = Party(name="CHAN", given_names="Tai Man", account=ORIGINATOR.account)
    payload = build_ivms101(minimal, BENEFICIARY)
    validate_ivms101(payload, 799_999)
    with pytest.raises(ValidationError, match="required from HK\\$8,000") as info:
        validate_ivms101(payload, 800_000)
    assert info.value.code == "travel_rule_incomplete"


def test_any_one_identifying_item_completes_the_originator() -> None:
    for extra in ({"address": ORIGINATOR.address}, {"national_id": "A1234563"}, {"customer_id": "cust-1"},
                  {"date_of_birth": "1980-02-02", "place_of_birth": "Hong Kong"}):
        party = Party(name="CHAN", given_names="Tai Man", account=ORIGINATOR.account, **extra)  # type: ignore[arg-type]
        validate_ivms101(build_ivms101(party, BENEFICIARY), 800_000)


def test_missing_accounts_refused() -> None:
    payload = build_ivms101(Party(name="CHAN"), Party(name="LEE"))
    with pytest.raises(ValidationError, match="originator account number or wallet address"):
        validate_ivms101(payload, 100)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda p: p["originator"]["originatorPersons"][0]["naturalPerson"]["name"]["nameIdentifier"][0].update(
            nameIdentifierType="XXXX"), "nameIdentifierType"),
        (lambda p: p["originator"]["originatorPersons"][0]["naturalPerson"]["geographicAddress"][0].update(
            country="HKG"), "country"),
        (lambda p: p["originator"]["originatorPersons"][0]["naturalPerson"]["dateAndPlaceOfBirth"].update(
            dateOfBirth="02/02/1980"), "dateOfBirth"),
        (lambda p: p.pop("beneficiary"), "beneficiary"),
        (lambda p: p["originator"]["originatorPersons"][0]["naturalPerson"].update(first_name="Tai Man"),
         "first_name"),
    ],
)
def test_schema_violations_refused(mutate, where: str) -> None:  # type: ignore[no-untyped-def]
    payload = copy.deepcopy(build_ivms101(ORIGINATOR, BENEFICIARY))
    mutate(payload)
    with pytest.raises(ValidationError, match=where) as info:
        validate_ivms101(payload, 1_000_000)
    assert info.value.code == "ivms101_invalid"
