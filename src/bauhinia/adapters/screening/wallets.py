"""Wallet screening inputs: OFAC digital-currency addresses, the issuer's own blacklist, indexed transfers.

The decision itself (direct exposure blocks, one hop away alerts) is `domain.compliance.assess_wallet`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from bauhinia.adapters.screening.lists import ListedAddress, current_lists_dir, load_ofac_addresses
from bauhinia.domain.compliance import Transfer, WalletAssessment, assess_wallet, normalise_address
from bauhinia.domain.errors import ValidationError

blacklist_entries_max: int = 1_000_000
transfers_file_rows_max: int = 1_000_000


def load_blacklist(path: Path) -> dict[str, str]:
    """The issuer's own blacklist: one address per line, optionally `address,reason`; # starts a comment."""
    if not path.is_file():
        raise ValidationError(f"{path}: blacklist file not found", code="list_file_missing")
    listed: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        address, _, reason = text.partition(",")
        address = address.strip()
        if address.lower().startswith("0x") and (len(address) != 42 or not _is_hex(address[2:])):
            raise ValidationError(f"{path}: line {lineno}: {address!r} is not a 20-byte 0x address",
                                  code="list_malformed")
        listed[normalise_address(address)] = f"issuer blacklist: {reason.strip() or 'no reason given'}"
        if len(listed) > blacklist_entries_max:
            raise ValidationError(f"{path}: more than {blacklist_entries_max} addresses")
    return listed


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def load_transfers(path: Path) -> list[Transfer]:
    """Indexed transfers as CSV with columns from,to,amount (amount in token base units)."""
    if not path.is_file():
        raise ValidationError(f"{path}: transfers file not found")
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    needed = {"from", "to", "amount"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise ValidationError(f"{path}: needs columns from,to,amount (got {reader.fieldnames})")
    transfers: list[Transfer] = []
    for lineno, row in enumerate(reader, start=2):
        amount = (row["amount"] or "").strip()
        if not amount.isdigit():
            raise ValidationError(f"{path}: line {lineno}: amount {amount!r} must be whole base units")
        transfers.append(Transfer(row["from"].strip(), row["to"].strip(), int(amount)))
        if len(transfers) > transfers_file_rows_max:
            raise ValidationError(f"{path}: more than {transfers_file_rows_max} transfers")
    return transfers


class WalletScreener:
    """Listed addresses from OFAC and the issuer's blacklist, screened with one-hop exposure."""

    def __init__(self, ofac: Iterable[ListedAddress] = (), blacklist: dict[str, str] | None = None):
        self.listed: dict[str, str] = {}
        for item in ofac:
            self.listed[normalise_address(item.address)] = f"OFAC SDN {item.entity_id} ({item.currency})"
        for address, reason in (blacklist or {}).items():
            self.listed.setdefault(normalise_address(address), reason)

    @classmethod
    def from_files(cls, lists_dir: Path | None = None, blacklist: Path | None = None) -> WalletScreener:
        ofac = load_ofac_addresses(lists_dir if lists_dir is not None else current_lists_dir())
        return cls(ofac, load_blacklist(blacklist) if blacklist is not None else None)

    def screen(self, address: str, transfers: Iterable[Transfer] = ()) -> WalletAssessment:
        return assess_wallet(address, self.listed, transfers)
