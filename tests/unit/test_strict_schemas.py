"""Strict request schemas: amounts are JSON integers only, names and texts refuse control and bidirectional
characters, dates are ISO calendar dates from 2000 on."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, Field, ValidationError

from bauhinia.entrypoints.api.routes.issuance import BankAccountCreate, CustomerCreate, RedemptionCreate
from bauhinia.entrypoints.api.routes.trade import InvoiceCreate, LineItemBody, QuoteCreate
from bauhinia.entrypoints.api.schemas import ApiDate, Minor, Name, Text


class _Model(BaseModel):
    amount_minor: Minor = Field(gt=0)
    name: Name = "x"
    text: Text = ""
    day: ApiDate | None = None


@pytest.mark.parametrize("raw", ['"100"', "100.0", "1e3", "true", '"1e3"', "100.5"])
def test_amounts_are_integers_only(raw: str) -> None:
    with pytest.raises(ValidationError):
        _Model.model_validate_json(f'{{"amount_minor": {raw}}}')
    with pytest.raises(ValidationError):
        RedemptionCreate.model_validate_json(
            f'{{"customer_id": "c1", "currency": "HKD", "amount_minor": {raw}, '
            f'"wallet": "0x{"1" * 40}", "bank_account": "024-1"}}')


def test_an_integer_amount_passes() -> None:
    assert _Model.model_validate_json('{"amount_minor": 100}').amount_minor == 100
    assert _Model.model_validate({"amount_minor": 100}).amount_minor == 100


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\n", "\x1b", "\x7f", "\x85", "\u202e", "\u202a", "\u2066",
                                 "\u2069", "\u200e", "\u200f", "\u061c"])
def test_names_refuse_control_and_bidi_characters(bad: str) -> None:
    with pytest.raises(ValidationError):
        _Model(amount_minor=1, name=f"Kowloon{bad}Importers")
    with pytest.raises(ValidationError):
        CustomerCreate(customer_id="c1", name=f"Kowloon{bad}Importers")
    with pytest.raises(ValidationError):
        BankAccountCreate(account="024-1", holder_name=f"A{bad}B", currency="HKD")


def test_names_keep_chinese_and_punctuation() -> None:
    assert CustomerCreate(customer_id="c1", name="九龍進口有限公司 (Kowloon) Ltd.").name.startswith("九龍")
    with pytest.raises(ValidationError):
        CustomerCreate(customer_id="c1", name="   ")


def test_texts_allow_line_breaks_but_not_other_controls() -> None:
    assert _Model(amount_minor=1, text="line one\nline two\ttab").text
    for bad in ("\x00", "\x1b[31m", "\u202e"):
        with pytest.raises(ValidationError):
            _Model(amount_minor=1, text=f"note {bad}")


@pytest.mark.parametrize("raw", ["0", "1970-01-01", "1999-12-31", "2100-01-01", "1700000000", "20260101",
                                 "2026-1-2"])
def test_dates_are_iso_and_sane(raw: str) -> None:
    with pytest.raises(ValidationError):
        _Model(amount_minor=1, day=raw)


def test_good_dates_pass() -> None:
    assert _Model(amount_minor=1, day="2026-11-30").day == date(2026, 11, 30)
    assert _Model(amount_minor=1, day=date(2026, 11, 30)).day == date(2026, 11, 30)


def test_trade_amounts_and_quantities_are_strict() -> None:
    with pytest.raises(ValidationError):
        LineItemBody.model_validate_json('{"description": "bolts", "quantity": 2.0, "amount_minor": 100}')
    with pytest.raises(ValidationError):
        LineItemBody.model_validate_json('{"description": "bolts", "quantity": 2, "amount_minor": "100"}')
    with pytest.raises(ValidationError):
        LineItemBody.model_validate_json('{"description": "bolts\\u202e", "quantity": 2, "amount_minor": 100}')
    with pytest.raises(ValidationError):
        QuoteCreate.model_validate_json('{"taker_currency": "HKD", "taker_amount_base_units": 1e3, "rate": "1"}')
    body = {"invoice_id": "INV-1", "exporter_id": "e", "importer_id": "i", "currency": "HKD", "due_date": 0,
            "line_items": [{"description": "d", "quantity": 1, "amount_minor": 1}],
            "bill_of_lading_hash": "0" * 64, "packing_list_hash": "0" * 64}
    with pytest.raises(ValidationError):
        InvoiceCreate.model_validate(body)
