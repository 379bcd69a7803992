"""Money as integers with units: fiat in minor units (cents / fen), coins in token base units (6 decimals).

Never floats. Conversions are explicit and exact; a conversion that would lose value raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bauhinia.domain.errors import ValidationError
from bauhinia.domain.limits import fiat_decimals, int64_max, token_decimals


class Currency(StrEnum):
    """Units the ledger books. Fiat currencies, and each coin's token units."""

    CNH = "CNH"  # offshore renminbi, minor unit fen (2 decimals)
    HKD = "HKD"  # Hong Kong dollar, minor unit cent (2 decimals)
    BCNH = "BCNH"  # the CNH coin, token base units (6 decimals)
    BHKD = "BHKD"  # the HKD coin, token base units (6 decimals)

    @property
    def decimals(self) -> int:
        return token_decimals if self in (Currency.BCNH, Currency.BHKD) else fiat_decimals

    @property
    def is_token(self) -> bool:
        return self in (Currency.BCNH, Currency.BHKD)

    @property
    def fiat(self) -> Currency:
        """The fiat currency a coin is referenced to (or the currency itself)."""
        return {Currency.BCNH: Currency.CNH, Currency.BHKD: Currency.HKD}.get(self, self)

    @property
    def coin(self) -> Currency:
        """The coin referenced to this fiat currency (or the coin itself)."""
        return {Currency.CNH: Currency.BCNH, Currency.HKD: Currency.BHKD}.get(self, self)


def parse_currency(code: str) -> Currency:
    try:
        return Currency(code.strip().upper())
    except ValueError:
        known = ", ".join(c.value for c in Currency)
        raise ValidationError(f"unknown currency {code!r}; known: {known}", code="unknown_currency") from None


# One fiat minor unit (0.01) expressed in token base units (0.000001).
base_units_per_minor: int = 10 ** (token_decimals - fiat_decimals)


def minor_to_base_units(amount_minor: int) -> int:
    """Fiat minor units -> token base units at par (1 cent = 10,000 base units)."""
    return amount_minor * base_units_per_minor


def base_units_to_minor(amount_base_units: int) -> int:
    """Token base units -> fiat minor units at par. Refuses amounts finer than one minor unit."""
    minor, rest = divmod(amount_base_units, base_units_per_minor)
    if rest:
        raise ValidationError(
            f"{amount_base_units} base units is not a whole number of minor units "
            f"(multiples of {base_units_per_minor} required)",
            code="sub_minor_amount",
        )
    return minor


@dataclass(frozen=True, slots=True)
class Amount:
    """An integer amount in a currency's smallest unit."""

    units: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.units, bool) or not isinstance(self.units, int):
            raise ValidationError(f"amount must be an integer, got {type(self.units).__name__}")
        if abs(self.units) > int64_max:
            raise ValidationError("amount out of range", code="amount_too_large")

    def __add__(self, other: Amount) -> Amount:
        self._same(other)
        return Amount(self.units + other.units, self.currency)

    def __sub__(self, other: Amount) -> Amount:
        self._same(other)
        return Amount(self.units - other.units, self.currency)

    def _same(self, other: Amount) -> None:
        if other.currency != self.currency:
            raise ValidationError(f"currency mismatch: {self.currency} vs {other.currency}")

    def format(self) -> str:
        """Human text, e.g. 'HKD 1,234.56'; exact, from integer arithmetic."""
        d = self.currency.decimals
        sign = "-" if self.units < 0 else ""
        whole, frac = divmod(abs(self.units), 10**d)
        return f"{self.currency.value} {sign}{whole:,}.{frac:0{d}d}"


def parse_decimal_amount(text: str, currency: Currency) -> int:
    """'1234.56' -> 123456 minor units, exactly (no float). Refuses excess precision."""
    s = text.strip().replace(",", "")
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValidationError(f"not a decimal amount: {text!r}", code="bad_amount")
    d = currency.decimals
    if len(frac) > d and frac[d:].strip("0"):
        raise ValidationError(f"{text!r} has more than {d} decimals for {currency}", code="bad_amount")
    frac = (frac + "0" * d)[:d]
    value: int = int(whole) * 10**d + (int(frac) if d else 0)
    return -value if neg else value
