"""Web3Chain: the Chain port over web3.py, for one coin's contract. Works on the in-process EVM
(EthereumTesterProvider) and on any JSON-RPC node alike.

Use:
    chain = Web3Chain(Currency.BHKD, w3, address, keys, sender)
    chain.attest_reserve(1_000_000_000, now_s, report_hash, idempotency_key="attest-2025-06-30")
    tx = chain.mint("0xabc...", 250_000_000, idempotency_key="sub-42")   # 250.000000 BHKD
    chain.wait_confirmed("sub-42", timeout_s=60)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from bauhinia.adapters.chain.artifacts import stablecoin_abi
from bauhinia.adapters.chain.keys import RoleKeys
from bauhinia.adapters.chain.sender import TxSender
from bauhinia.domain import chain as ch
from bauhinia.domain.errors import RefusedError, ValidationError
from bauhinia.domain.money import Currency

# Explicit gas limits (estimation on the in-process EVM replays a transaction many times).
GAS = {
    "mint": 180_000,
    "burn": 120_000,
    "pause": 80_000,
    "attest": 150_000,
    "wipe": 120_000,
    "role": 100_000,
    "transfer": 120_000,
}
GAS_BATCH_BASE = 90_000
GAS_PER_CREDIT = 45_000
GAS_FREEZE_BASE = 50_000
GAS_PER_FREEZE = 30_000
_BATCH_SELECTOR = function_signature_to_4byte_selector("batchMint(uint256[])")
_ARRAY_HEAD = (32).to_bytes(32, "big")
_VIEW_SELECTORS = {sig: function_signature_to_4byte_selector(sig) for sig in (
    "paused()", "isMinter(address)", "isFrozen(address)", "minterAllowance(address)", "reserveIsFresh()",
    "mintHeadroom()")}

_STATUS_SELECTORS = {sig: function_signature_to_4byte_selector(sig) for sig in (
    "owner()", "master_minter()", "pauser()", "blacklister()", "rescuer()", "reserve_attestor()", "totalSupply()",
    "attested_reserve()", "attested_at()", "reserve_max_age_s()", "paused()", "licence_number()",
    "approval_reference()")}


def _checked_amount(amount_base_units: int) -> int:
    if isinstance(amount_base_units, bool) or not isinstance(amount_base_units, int) or amount_base_units <= 0:
        raise ValidationError(f"amount must be a positive integer of base units, got {amount_base_units!r}",
                              code="bad_amount")
    return amount_base_units


class Web3Chain:
    """One coin's contract. Role keys sign their own calls (the minter mints, the pauser pauses...)."""

    def __init__(self, coin: Currency, w3: Web3, address: str, keys: RoleKeys, sender: TxSender,
                 *, confirmations: int = 0) -> None:
        if not coin.is_token:
            raise ValidationError(f"{coin} is not a coin", code="not_a_coin")
        self.coin = coin
        self.w3 = w3
        self._address = Web3.to_checksum_address(address)
        self.keys = keys
        self.sender = sender
        self.confirmations = confirmations
        self.contract = w3.eth.contract(address=self._address, abi=stablecoin_abi())

    @property
    def address(self) -> str:
        return self._address

    @property
    def redemption_address(self) -> str:
        return str(self.keys.minter.address)

    # --- writes --------------------------------------------------------------------------------------------

    def _call(self, account: LocalAccount, op: ch.ChainOp, key: str, fn: str, args: list[Any],
              gas: int) -> ch.ChainTx:
        data = self.contract.encode_abi(fn, args=args)
        return self.sender.send(account=account, op=op, idempotency_key=key, to=self._address, data=data,
                                gas=gas)

    def mint(self, to: str, amount_base_units: int, *, idempotency_key: str) -> ch.ChainTx:
        receiver = Web3.to_checksum_address(ch.normalise_address(to))
        return self._call(self.keys.minter, ch.ChainOp.MINT, idempotency_key, "mint",
                          [receiver, _checked_amount(amount_base_units)], GAS["mint"])

    def batch_mint(self, credits: Sequence[tuple[str, int]], *, idempotency_key: str) -> ch.ChainTx:
        if not 0 < len(credits) <= ch.batch_mint_size_max:
            raise ValidationError(f"a batch mint has 1..{ch.batch_mint_size_max} credits", code="bad_batch")
        words = [ch.pack_credit(receiver, amount) for receiver, amount in credits]
        # ABI of (uint256[]): offset, length, the words (hand-encoded: eth_abi costs more than mining it).
        data = "0x" + (_BATCH_SELECTOR + _ARRAY_HEAD + len(words).to_bytes(32, "big")
                       + b"".join(w.to_bytes(32, "big") for w in words)).hex()
        if self.sender.journal.get(idempotency_key) is None:  # a retry resumes the journaled transaction
            self.check_batch_mint(sum(amount for _, amount in credits))
        return self.sender.send(account=self.keys.minter, op=ch.ChainOp.BATCH_MINT,
                                idempotency_key=idempotency_key, to=self._address, data=data,
                                gas=GAS_BATCH_BASE + GAS_PER_CREDIT * len(words), preflight=False)

    def check_batch_mint(self, total_base_units: int) -> None:
        """Validate a batch mint off-chain from the contract's readable state, instead of a dry run (which
        executes the whole batch once more): pause, minter role and allowance, the minter not frozen, the
        reserve attestation's age and the headroom under it. Frozen receivers are left to the contract (the
        batch then reverts as one, and the sender explains why); the issuance service screens them before.
        Raises RefusedError with the reason the contract would give."""
        minter = bytes(12) + bytes.fromhex(self.keys.minter.address[2:])

        def read(name: str, arg: bytes = b"") -> int:
            return int.from_bytes(self.sender.read(self._address, _VIEW_SELECTORS[name] + arg)[:32], "big")

        reason = ""
        if read("paused()"):
            reason = "paused"
        elif not read("isMinter(address)", minter):
            reason = "not minter"
        elif read("isFrozen(address)", minter):
            reason = "frozen"
        elif total_base_units > read("minterAllowance(address)", minter):
            reason = "minter allowance exceeded"
        elif not read("reserveIsFresh()"):
            reason = "reserve attestation stale"
        elif total_base_units > read("mintHeadroom()"):
            reason = "reserve exceeded"
        if reason:
            raise RefusedError(f"{ch.ChainOp.BATCH_MINT.value} refused by the contract: {reason}",
                               code="chain_refused")

    def burn(self, amount_base_units: int, *, idempotency_key: str) -> ch.ChainTx:
        return self._call(self.keys.minter, ch.ChainOp.BURN, idempotency_key, "burn",
                          [_checked_amount(amount_base_units)], GAS["burn"])

    def _addresses(self, addresses: Sequence[str]) -> list[str]:
        if not 0 < len(addresses) <= ch.freeze_batch_size_max:
            raise ValidationError(f"1..{ch.freeze_batch_size_max} addresses at a time", code="bad_batch")
        return [Web3.to_checksum_address(ch.normalise_address(a)) for a in addresses]

    def freeze(self, addresses: Sequence[str], *, idempotency_key: str) -> ch.ChainTx:
        accounts = self._addresses(addresses)
        return self._call(self.keys.blacklister, ch.ChainOp.FREEZE, idempotency_key, "freezeMany", [accounts],
                          GAS_FREEZE_BASE + GAS_PER_FREEZE * len(accounts))

    def unfreeze(self, addresses: Sequence[str], *, idempotency_key: str) -> ch.ChainTx:
        accounts = self._addresses(addresses)
        return self._call(self.keys.blacklister, ch.ChainOp.UNFREEZE, idempotency_key, "unfreezeMany",
                          [accounts], GAS_FREEZE_BASE + GAS_PER_FREEZE * len(accounts))

    def wipe_frozen(self, address: str, order_reference: bytes, *, idempotency_key: str) -> ch.ChainTx:
        if len(order_reference) != 32:
            raise ValidationError("the order reference is 32 bytes (e.g. a SHA-256 of the order)",
                                  code="bad_order_reference")
        account = Web3.to_checksum_address(ch.normalise_address(address))
        return self._call(self.keys.blacklister, ch.ChainOp.WIPE, idempotency_key, "wipeFrozenBalance",
                          [account, order_reference], GAS["wipe"])

    def configure_minter(self, minter: str, allowance_base_units: int, *, idempotency_key: str) -> ch.ChainTx:
        """Make `minter` a minter with this allowance (the master minter's key)."""
        if not 0 <= allowance_base_units < 2**256:
            raise ValidationError("a minter allowance is 0..2^256-1 base units", code="bad_allowance")
        account = Web3.to_checksum_address(ch.normalise_address(minter))
        return self._call(self.keys.master_minter, ch.ChainOp.CONFIGURE_MINTER, idempotency_key, "configureMinter",
                          [account, allowance_base_units], GAS["role"])

    def remove_minter(self, minter: str, *, idempotency_key: str) -> ch.ChainTx:
        account = Web3.to_checksum_address(ch.normalise_address(minter))
        return self._call(self.keys.master_minter, ch.ChainOp.REMOVE_MINTER, idempotency_key, "removeMinter",
                          [account], GAS["role"])

    def minter_allowance(self, minter: str) -> tuple[bool, int]:
        """(is a minter, its allowance in base units)."""
        account = Web3.to_checksum_address(ch.normalise_address(minter))
        f = self.contract.functions
        return bool(f.isMinter(account).call()), int(f.minterAllowance(account).call())

    def rescue_erc20(self, token: str, receiver: str, amount_base_units: int, *, idempotency_key: str) -> ch.ChainTx:
        """Return another ERC-20 token sent to this contract by mistake (the rescuer's key)."""
        return self._call(self.keys.rescuer, ch.ChainOp.RESCUE, idempotency_key, "rescueERC20",
                          [Web3.to_checksum_address(ch.normalise_address(token)),
                           Web3.to_checksum_address(ch.normalise_address(receiver)), amount_base_units],
                          GAS["transfer"])

    def pause(self, *, idempotency_key: str) -> ch.ChainTx:
        return self._call(self.keys.pauser, ch.ChainOp.PAUSE, idempotency_key, "pause", [], GAS["pause"])

    def unpause(self, *, idempotency_key: str) -> ch.ChainTx:
        return self._call(self.keys.pauser, ch.ChainOp.UNPAUSE, idempotency_key, "unpause", [], GAS["pause"])

    def attest_reserve(self, reserve_base_units: int, attested_at_s: int, report_hash: bytes, *,
                       idempotency_key: str) -> ch.ChainTx:
        if reserve_base_units < 0 or attested_at_s <= 0 or len(report_hash) != 32:
            raise ValidationError("reserve >= 0, attested_at_s > 0 and a 32-byte report hash are required",
                                  code="bad_attestation")
        return self._call(self.keys.reserve_attestor, ch.ChainOp.ATTEST_RESERVE, idempotency_key,
                          "attestReserve", [reserve_base_units, attested_at_s, report_hash], GAS["attest"])

    def transfer_as(self, holder: LocalAccount, to: str, amount_base_units: int, *,
                    idempotency_key: str) -> ch.ChainTx:
        """A holder's own transfer (demo and tests: e.g. paying coins in to the redemption address)."""
        receiver = Web3.to_checksum_address(ch.normalise_address(to))
        return self._call(holder, ch.ChainOp.TRANSFER, idempotency_key, "transfer",
                          [receiver, _checked_amount(amount_base_units)], GAS["transfer"])

    # --- transaction state ---------------------------------------------------------------------------------

    def tx(self, idempotency_key: str) -> ch.ChainTx | None:
        row = self.sender.journal.get(idempotency_key)
        return row.to_chain_tx() if row else None

    def refresh(self, idempotency_key: str) -> ch.ChainTx | None:
        """The journaled transaction re-read from the canonical chain, with its depth (None: never journaled).
        `final(self.confirmations)` on the answer says whether money may move on it."""
        if self.sender.journal.get(idempotency_key) is None:
            return None
        return self.sender.refresh(idempotency_key, self.confirmations)

    def wait_confirmed(self, idempotency_key: str, timeout_s: float) -> ch.ChainTx:
        return self.sender.wait_confirmed(idempotency_key, self.confirmations, timeout_s)

    # --- reads ---------------------------------------------------------------------------------------------

    def total_supply(self) -> int:
        return int(self.contract.functions.totalSupply().call())

    def balance_of(self, address: str) -> int:
        account = Web3.to_checksum_address(ch.normalise_address(address))
        return int(self.contract.functions.balanceOf(account).call())

    def is_frozen(self, address: str) -> bool:
        account = Web3.to_checksum_address(ch.normalise_address(address))
        return bool(self.contract.functions.isFrozen(account).call())

    def status(self) -> ch.CoinStatus:
        """The coin's readable state, one raw eth_call per field (no ABI formatting or per-call validation: the
        mint path reads this before every batch)."""

        def word(sig: str) -> bytes:
            return self.sender.read(self._address, _STATUS_SELECTORS[sig])

        def uint(sig: str) -> int:
            return int.from_bytes(word(sig)[:32], "big")

        def address(sig: str) -> str:
            return Web3.to_checksum_address(word(sig)[12:32])

        def text(sig: str) -> str:
            return str(abi_decode(["string"], word(sig))[0])

        head_block, head_time_s = self.sender.head()
        roles = {
            "owner": address("owner()"),
            "master_minter": address("master_minter()"),
            "minter": self.keys.minter.address,
            "pauser": address("pauser()"),
            "blacklister": address("blacklister()"),
            "rescuer": address("rescuer()"),
            "reserve_attestor": address("reserve_attestor()"),
        }
        return ch.CoinStatus(
            currency=self.coin.value,
            address=self._address,
            chain_id=self.sender.chain_id,
            total_supply_base_units=uint("totalSupply()"),
            attested_reserve_base_units=uint("attested_reserve()"),
            attested_at_s=uint("attested_at()"),
            reserve_max_age_s=uint("reserve_max_age_s()"),
            paused=bool(uint("paused()")),
            licence_number=text("licence_number()"),
            approval_reference=text("approval_reference()"),
            roles=roles,
            head_block=head_block,
            head_time_s=head_time_s,
        )
