"""Chain words: transaction states, operations, coin status, and holder-balance arithmetic for the indexer.

A chain transaction is `submitted` (signed, its hash journaled, broadcast or about to be), `mined` (in a
block), then `confirmed` (N blocks deep) or `dropped` (reorganised out, or its nonce taken by another
transaction). Ledger transfers use pending/posted/voided; never mix the two vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bauhinia.domain.errors import InvariantViolation, ValidationError

zero_address = "0x" + "00" * 20
# batchMint packs each credit as amount << 160 | receiver: amounts must fit 96 bits.
batch_credit_amount_max: int = 2**96 - 1
batch_mint_size_max: int = 512
freeze_batch_size_max: int = 256


class ChainTxState(StrEnum):
    SUBMITTED = "submitted"
    MINED = "mined"
    CONFIRMED = "confirmed"
    DROPPED = "dropped"

    @property
    def is_final(self) -> bool:
        return self in (ChainTxState.CONFIRMED, ChainTxState.DROPPED)


class ChainOp(StrEnum):
    DEPLOY = "deploy"
    CONFIGURE = "configure"
    MINT = "mint"
    BATCH_MINT = "batch_mint"
    BURN = "burn"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    WIPE = "wipe"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    ATTEST_RESERVE = "attest_reserve"
    TRANSFER = "transfer"
    FUND = "fund"
    CONFIGURE_MINTER = "configure_minter"
    REMOVE_MINTER = "remove_minter"
    RESCUE = "rescue"


@dataclass(frozen=True, slots=True)
class ChainTx:
    """One journaled transaction, as the services see it."""

    idempotency_key: str
    op: ChainOp
    tx_hash: str
    state: ChainTxState
    block_number: int | None = None
    succeeded: bool | None = None  # None until mined; False if the transaction reverted
    depth: int = 0  # blocks deep in the canonical chain when last read (1 = in the head block); 0 = not mined

    def final(self, confirmations: int) -> bool:
        """Mined with `confirmations` blocks on top of its own (any mined transaction when that is 0): a
        reorganisation replacing up to `confirmations` blocks cannot remove it."""
        return self.succeeded is not None and self.depth > max(confirmations, 0)


@dataclass(frozen=True, slots=True)
class CoinStatus:
    """What `bauhinia chain status` shows for one coin."""

    currency: str
    address: str
    chain_id: int
    total_supply_base_units: int
    attested_reserve_base_units: int
    attested_at_s: int
    reserve_max_age_s: int
    paused: bool
    licence_number: str
    approval_reference: str
    roles: Mapping[str, str] = field(default_factory=dict)
    head_block: int = 0
    head_time_s: int = 0  # the latest block's timestamp: the chain's own clock (0 = not known)


def normalise_address(text: str) -> str:
    """'0xAbC...' -> '0xabc...' (the holder key used by the indexer and reconciliation)."""
    s = text.strip().lower()
    if len(s) != 42 or not s.startswith("0x"):
        raise ValidationError(f"not an address: {text!r}", code="bad_address")
    try:
        int(s[2:], 16)
    except ValueError:
        raise ValidationError(f"not an address: {text!r}", code="bad_address") from None
    return s


def pack_credit(receiver: str, amount_base_units: int) -> int:
    """One batchMint word: amount << 160 | receiver."""
    address = normalise_address(receiver)
    if address == zero_address:
        raise ValidationError("cannot mint to the zero address", code="bad_address")
    if not 0 < amount_base_units <= batch_credit_amount_max:
        raise ValidationError(f"credit amount out of range: {amount_base_units}", code="bad_amount")
    return (amount_base_units << 160) | int(address, 16)


def apply_transfer(balances: dict[str, int], sender: str, receiver: str, value_base_units: int) -> None:
    """Apply one Transfer event to holder balances (mint: sender is zero; burn/wipe: receiver is zero)."""
    if sender != zero_address:
        left = balances.get(sender, 0) - value_base_units
        if left < 0:
            raise InvariantViolation(f"indexed balance of {sender} would go negative", code="negative_balance")
        if left:
            balances[sender] = left
        else:
            balances.pop(sender, None)
    if receiver != zero_address:
        balances[receiver] = balances.get(receiver, 0) + value_base_units


def supply_delta(transfers: Iterable[tuple[str, str, int]]) -> int:
    """Net change of total supply implied by transfers: mints add, burns remove."""
    delta = 0
    for sender, receiver, value in transfers:
        if sender == zero_address:
            delta += value
        if receiver == zero_address:
            delta -= value
    return delta
