"""The settlement contracts (contracts/Escrow.vy, one per coin; contracts/Swap.vy, one for the pair) over
web3.py, on the embedded EVM or any JSON-RPC node.

Every state change goes through the chain adapter's TxSender: dry-run (a revert raises RefusedError and nothing
is signed), sign, journal the raw transaction, THEN broadcast, bounded wait. The same idempotency key never
sends a second transaction.

Keys: `keyring` holds the local keys this process may act for (the issuer's relayer and treasury; on the
embedded chain also the demo customers). A customer whose key is not here signs elsewhere; the service then
refuses the step that needs their signature with a clear error.

    sc = SettlementChain.deploy(sender, relayer, {Currency.BCNH: bcnh_chain, Currency.BHKD: bhkd_chain})
    sc.fund_escrow_by_authorization(Currency.BCNH, escrow_id, importer, exporter, agent, amount, docs, expiry,
                                    idempotency_key="inv-42:fund")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from bauhinia.adapters.chain.sender import TxSender
from bauhinia.adapters.chain.web3_chain import Web3Chain
from bauhinia.domain import chain as ch
from bauhinia.domain.errors import ConflictError, NotFoundError, RefusedError, ValidationError
from bauhinia.domain.money import Currency

BUILD_DIR = Path(__file__).resolve().parents[4] / "contracts" / "build"

GAS_DEPLOY = 3_000_000
GAS_LOCK = 420_000
GAS_PAY_OUT = 160_000
GAS_DISPUTE = 80_000
GAS_APPROVE = 80_000
GAS_SETTLE = 300_000
GAS_CANCEL = 80_000
AUTHORIZATION_VALID_S = 3600
GAS_MONEY_WEI = 10**19

ESCROW_STATES = {0: "none", 1: "locked", 2: "released", 3: "refunded", 4: "disputed"}


def _op(name: str, fallback: ch.ChainOp) -> ch.ChainOp:
    """The chain domain's op for a settlement call when it has one (else a generic op)."""
    return getattr(ch.ChainOp, name, fallback)


OP_DEPLOY = ch.ChainOp.DEPLOY
OP_APPROVE = _op("APPROVE", ch.ChainOp.CONFIGURE)
OP_LOCK = _op("ESCROW_LOCK", ch.ChainOp.TRANSFER)
OP_RELEASE = _op("ESCROW_RELEASE", ch.ChainOp.TRANSFER)
OP_REFUND = _op("ESCROW_REFUND", ch.ChainOp.TRANSFER)
OP_DISPUTE = _op("ESCROW_DISPUTE", ch.ChainOp.CONFIGURE)
OP_SWAP = _op("SWAP_SETTLE", ch.ChainOp.TRANSFER)
OP_CANCEL = _op("SWAP_CANCEL", ch.ChainOp.CONFIGURE)

_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_AUTH_TYPES = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]
_PERMIT_TYPES = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
QUOTE_TYPES = [
    {"name": "maker", "type": "address"},
    {"name": "taker", "type": "address"},
    {"name": "makerToken", "type": "address"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerToken", "type": "address"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


@cache
def artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BUILD_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _b32(hex_text: str) -> bytes:
    raw = bytes.fromhex(hex_text.lower().removeprefix("0x"))
    if len(raw) != 32:
        raise ValidationError(f"expected 32 bytes of hex, got {hex_text!r}", code="bad_hash")
    return raw


def _cs(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(ch.normalise_address(address))


def _sign_typed(key: LocalAccount, domain: dict[str, Any], primary: str, types: list[dict[str, str]],
                message: dict[str, Any]) -> tuple[int, bytes, bytes]:
    typed = {"types": {"EIP712Domain": _DOMAIN_TYPES, primary: types}, "primaryType": primary, "domain": domain,
             "message": message}
    signed = key.sign_message(encode_typed_data(full_message=typed))
    return int(signed.v), int(signed.r).to_bytes(32, "big"), int(signed.s).to_bytes(32, "big")


def signature_hex(v: int, r: bytes, s: bytes) -> str:
    return "0x" + (r + s + bytes([v])).hex()


def split_signature(sig: str) -> tuple[int, bytes, bytes]:
    raw = bytes.fromhex(sig.lower().removeprefix("0x"))
    if len(raw) != 65:
        raise ValidationError("a signature is 65 bytes (r, s, v)", code="bad_signature")
    return raw[64], raw[:32], raw[32:64]


class SettlementChain:
    """The escrow contract of each coin and the swap contract, with the keys this process acts for."""

    def __init__(self, sender: TxSender, relayer: LocalAccount, coins: Mapping[Currency, Web3Chain],
                 escrows: Mapping[Currency, str], swap: str) -> None:
        self.sender = sender
        self.w3: Web3 = sender.w3
        self.relayer = relayer
        self.coins = {c.coin: chain for c, chain in coins.items()}
        self.escrow_addresses = {c.coin: _cs(a) for c, a in escrows.items()}
        self.swap_address = _cs(swap)
        self.escrows = {c: self.w3.eth.contract(address=a, abi=artifact("Escrow")["abi"])
                        for c, a in self.escrow_addresses.items()}
        self.swap = self.w3.eth.contract(address=self.swap_address, abi=artifact("Swap")["abi"])
        self.keyring: dict[str, LocalAccount] = {}
        self.add_key(relayer)
        self.treasury: LocalAccount | None = None  # the issuer's treasury: the maker of the issuer's quotes
        self.agent: LocalAccount | None = None  # the issuer's documents agent (releases or decides disputes)

    # --- set-up --------------------------------------------------------------------------------------------

    @classmethod
    def deploy(cls, sender: TxSender, relayer: LocalAccount, coins: Mapping[Currency, Web3Chain], *,
               key_prefix: str | None = None) -> SettlementChain:
        """Deploy one escrow per coin and the swap (idempotently under `key_prefix`)."""
        if set(c.coin for c in coins) != {Currency.BCNH, Currency.BHKD}:
            raise ValidationError("settlement needs both coins", code="coins_missing")
        prefix = key_prefix or f"settlement:{sender.chain_id}"

        def deploy_one(name: str, key: str, types: list[str], args: list[Any]) -> str:
            data = artifact(name)["bytecode"] + abi_encode(types, args).hex()
            tx = sender.send(account=relayer, op=OP_DEPLOY, idempotency_key=f"{prefix}:{key}", to=None, data=data,
                             gas=GAS_DEPLOY)
            receipt = sender.w3.eth.get_transaction_receipt(tx.tx_hash)  # type: ignore[arg-type]
            if not receipt["contractAddress"]:
                raise ConflictError(f"deployment {tx.tx_hash} created no contract", code="deploy_failed")
            return str(receipt["contractAddress"])

        escrows = {c.coin: deploy_one("Escrow", f"escrow:{c.coin.value}", ["address"], [chain.address])
                   for c, chain in coins.items()}
        bcnh, bhkd = coins[Currency.BCNH].address, coins[Currency.BHKD].address
        swap = deploy_one("Swap", "swap", ["address", "address"], [bcnh, bhkd])
        return cls(sender, relayer, coins, escrows, swap)

    def add_key(self, account: LocalAccount) -> None:
        self.keyring[ch.normalise_address(account.address)] = account

    def key_for(self, address: str) -> LocalAccount:
        key = self.keyring.get(ch.normalise_address(address))
        if key is None:
            raise RefusedError(f"no key for {address} here: that party signs and submits this step itself",
                               code="no_key")
        return key

    def addresses(self) -> dict[str, str]:
        out: dict[str, str] = {f"escrow_{c.value}": str(a) for c, a in self.escrow_addresses.items()}
        out["swap"] = str(self.swap_address)
        return out

    # --- helpers -------------------------------------------------------------------------------------------

    def _coin(self, coin: Currency) -> Web3Chain:
        chain = self.coins.get(coin.coin)
        if chain is None:
            raise NotFoundError(f"no contract for {coin}", code="coin_missing")
        return chain

    def _send(self, account: LocalAccount, op: ch.ChainOp, key: str, to: str, data: str, gas: int) -> ch.ChainTx:
        return self.sender.send(account=account, op=op, idempotency_key=key, to=to, data=data, gas=gas)

    def _token_domain(self, coin: Currency) -> dict[str, Any]:
        token = self._coin(coin)
        return {"name": token.contract.functions.name().call(), "version": "1", "chainId": self.sender.chain_id,
                "verifyingContract": token.address}

    def chain_time_s(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # --- reads ---------------------------------------------------------------------------------------------

    def balance_of(self, coin: Currency, address: str) -> int:
        return self._coin(coin).balance_of(address)

    def journaled(self, idempotency_key: str) -> bool:
        """Whether a transaction was signed and journaled under the key (it may be on chain)."""
        return self.sender.journal.get(idempotency_key) is not None

    def total_supply(self, coin: Currency) -> int:
        return self._coin(coin).total_supply()

    def escrow_state(self, coin: Currency, escrow_id: str) -> str:
        value = int(self.escrows[coin.coin].functions.stateOf(_b32(escrow_id)).call())
        return ESCROW_STATES.get(value, str(value))

    def escrow_balance(self, coin: Currency) -> int:
        return self.balance_of(coin, self.escrow_addresses[coin.coin])

    def escrow_locked_total(self, coin: Currency) -> int:
        return int(self.escrows[coin.coin].functions.locked_total().call())

    def quote_used(self, maker: str, nonce: str) -> bool:
        return bool(self.swap.functions.quoteUsed(_cs(maker), _b32(nonce)).call())

    # --- escrow --------------------------------------------------------------------------------------------

    def fund_escrow_by_authorization(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None, amount_base_units: int,
        documents_hash: str, expiry_s: int, *, idempotency_key: str, valid_for_s: int = AUTHORIZATION_VALID_S,
    ) -> ch.ChainTx:
        """The importer signs an EIP-3009 ReceiveWithAuthorization whose nonce fixes the escrow's terms; the
        relayer submits it (the importer needs no gas)."""
        escrow = self.escrows[coin.coin]
        agent_cs = _cs(agent) if agent else "0x" + "00" * 20
        args = [_b32(escrow_id), _cs(exporter), agent_cs, _b32(documents_hash), expiry_s]
        nonce = bytes(escrow.functions.termsHash(*args).call())
        now_s = self.chain_time_s()
        valid_after, valid_before = now_s - 60, now_s + valid_for_s
        v, r, s = _sign_typed(self.key_for(importer), self._token_domain(coin), "ReceiveWithAuthorization",
                              _AUTH_TYPES, {"from": _cs(importer), "to": escrow.address, "value": amount_base_units,
                                            "validAfter": valid_after, "validBefore": valid_before,
                                            "nonce": nonce})
        data = escrow.encode_abi("lockWithAuthorization", args=[
            _b32(escrow_id), _cs(importer), _cs(exporter), agent_cs, amount_base_units, _b32(documents_hash),
            expiry_s, valid_after, valid_before, v, r, s])
        return self._send(self.relayer, OP_LOCK, idempotency_key, escrow.address, data, GAS_LOCK)

    def fund_escrow_by_permit(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None, amount_base_units: int,
        documents_hash: str, expiry_s: int, *, idempotency_key: str, valid_for_s: int = AUTHORIZATION_VALID_S,
    ) -> ch.ChainTx:
        """The importer signs an EIP-2612 permit for the escrow and submits the lock itself."""
        escrow = self.escrows[coin.coin]
        key = self.key_for(importer)
        token = self._coin(coin)
        deadline = self.chain_time_s() + valid_for_s
        nonce = int(token.contract.functions.nonces(key.address).call())
        v, r, s = _sign_typed(key, self._token_domain(coin), "Permit", _PERMIT_TYPES,
                              {"owner": key.address, "spender": escrow.address, "value": amount_base_units,
                               "nonce": nonce, "deadline": deadline})
        agent_cs = _cs(agent) if agent else "0x" + "00" * 20
        data = escrow.encode_abi("lockWithPermit", args=[
            _b32(escrow_id), _cs(exporter), agent_cs, amount_base_units, _b32(documents_hash), expiry_s, deadline,
            v, r, s])
        return self._send(key, OP_LOCK, idempotency_key, escrow.address, data, GAS_LOCK)

    def authorization_to_sign(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int, *, valid_for_s: int = AUTHORIZATION_VALID_S,
    ) -> dict[str, Any]:
        """The EIP-712 typed data (EIP-3009 ReceiveWithAuthorization) an importer signs with its own wallet to
        fund an escrow; its nonce is the escrow's terms hash, so the signature also fixes the exporter, the
        agent, the document hash and the expiry. JSON-ready (bytes as 0x hex)."""
        escrow = self.escrows[coin.coin]
        agent_cs = _cs(agent) if agent else "0x" + "00" * 20
        nonce = bytes(escrow.functions.termsHash(_b32(escrow_id), _cs(exporter), agent_cs, _b32(documents_hash),
                                                 expiry_s).call())
        now_s = self.chain_time_s()
        message = {"from": _cs(importer), "to": escrow.address, "value": amount_base_units,
                   "validAfter": now_s - 60, "validBefore": now_s + valid_for_s, "nonce": "0x" + nonce.hex()}
        return {"types": {"EIP712Domain": _DOMAIN_TYPES, "ReceiveWithAuthorization": _AUTH_TYPES},
                "primaryType": "ReceiveWithAuthorization", "domain": self._token_domain(coin), "message": message}

    def fund_escrow_with_signed_authorization(
        self, coin: Currency, escrow_id: str, importer: str, exporter: str, agent: str | None,
        amount_base_units: int, documents_hash: str, expiry_s: int, *, valid_after: int, valid_before: int,
        signature: str, idempotency_key: str,
    ) -> ch.ChainTx:
        """The relayer submits an authorisation the importer signed elsewhere (`authorization_to_sign`). A wrong
        signature, amount or term is refused by the dry run: nothing is signed or sent."""
        escrow = self.escrows[coin.coin]
        v, r, s = split_signature(signature)
        if v < 27:
            v += 27
        agent_cs = _cs(agent) if agent else "0x" + "00" * 20
        data = escrow.encode_abi("lockWithAuthorization", args=[
            _b32(escrow_id), _cs(importer), _cs(exporter), agent_cs, amount_base_units, _b32(documents_hash),
            expiry_s, valid_after, valid_before, v, r, s])
        return self._send(self.relayer, OP_LOCK, idempotency_key, escrow.address, data, GAS_LOCK)

    def release_escrow(self, coin: Currency, escrow_id: str, documents_hash: str, actor: str, *,
                       idempotency_key: str) -> ch.ChainTx:
        escrow = self.escrows[coin.coin]
        data = escrow.encode_abi("release", args=[_b32(escrow_id), _b32(documents_hash)])
        return self._send(self.key_for(actor), OP_RELEASE, idempotency_key, escrow.address, data, GAS_PAY_OUT)

    def refund_escrow(self, coin: Currency, escrow_id: str, actor: str | None = None, *,
                      idempotency_key: str) -> ch.ChainTx:
        escrow = self.escrows[coin.coin]
        account = self.key_for(actor) if actor else self.relayer
        data = escrow.encode_abi("refund", args=[_b32(escrow_id)])
        return self._send(account, OP_REFUND, idempotency_key, escrow.address, data, GAS_PAY_OUT)

    def dispute_escrow(self, coin: Currency, escrow_id: str, actor: str, *, idempotency_key: str) -> ch.ChainTx:
        escrow = self.escrows[coin.coin]
        data = escrow.encode_abi("dispute", args=[_b32(escrow_id)])
        return self._send(self.key_for(actor), OP_DISPUTE, idempotency_key, escrow.address, data, GAS_DISPUTE)

    # --- swap ----------------------------------------------------------------------------------------------

    def _quote_message(self, maker: str, taker: str, maker_coin: Currency, maker_amount: int, taker_coin: Currency,
                       taker_amount: int, expiry_s: int, nonce: str) -> dict[str, Any]:
        return {"maker": _cs(maker), "taker": _cs(taker), "makerToken": self._coin(maker_coin).address,
                "makerAmount": maker_amount, "takerToken": self._coin(taker_coin).address,
                "takerAmount": taker_amount, "expiry": expiry_s, "nonce": _b32(nonce)}

    def sign_quote(self, maker: str, taker: str, maker_coin: Currency, maker_amount: int, taker_coin: Currency,
                   taker_amount: int, expiry_s: int, nonce: str) -> str:
        """The maker's EIP-712 signature of a firm quote (0x r s v)."""
        domain = {"name": "Bauhinia Swap", "version": "1", "chainId": self.sender.chain_id,
                  "verifyingContract": self.swap_address}
        message = self._quote_message(maker, taker, maker_coin, maker_amount, taker_coin, taker_amount, expiry_s,
                                      nonce)
        return signature_hex(*_sign_typed(self.key_for(maker), domain, "Quote", QUOTE_TYPES, message))

    def approve_swap(self, coin: Currency, owner: str, amount_base_units: int, *, idempotency_key: str
                     ) -> ch.ChainTx:
        token = self._coin(coin)
        data = token.contract.encode_abi("approve", args=[self.swap_address, amount_base_units])
        return self._send(self.key_for(owner), OP_APPROVE, idempotency_key, token.address, data, GAS_APPROVE)

    def swap_allowance(self, coin: Currency, owner: str) -> int:
        return int(self._coin(coin).contract.functions.allowance(_cs(owner), self.swap_address).call())

    def settle_swap(self, maker: str, taker: str, maker_coin: Currency, maker_amount: int, taker_coin: Currency,
                    taker_amount: int, expiry_s: int, nonce: str, signature: str, *, idempotency_key: str
                    ) -> ch.ChainTx:
        """The taker submits the maker's signed quote: both legs in one transaction, or a refusal."""
        v, r, s = split_signature(signature)
        data = self.swap.encode_abi("settle", args=[
            _cs(maker), _cs(taker), self._coin(maker_coin).address, maker_amount, self._coin(taker_coin).address,
            taker_amount, expiry_s, _b32(nonce), v, r, s])
        return self._send(self.key_for(taker), OP_SWAP, idempotency_key, self.swap_address, data, GAS_SETTLE)

    def cancel_quote(self, maker: str, nonce: str, *, idempotency_key: str) -> ch.ChainTx:
        data = self.swap.encode_abi("cancelQuote", args=[_b32(nonce)])
        return self._send(self.key_for(maker), OP_CANCEL, idempotency_key, self.swap_address, data, GAS_CANCEL)

    # --- dev chains ----------------------------------------------------------------------------------------

    def fund_gas(self, addresses: list[str]) -> None:
        """Dev nodes only: gas money for keys that submit their own transactions."""
        self.sender.fund([_cs(a) for a in addresses], GAS_MONEY_WEI)


# --- wiring: keys and the contracts' addresses per chain -------------------------------------------------------

SETTLEMENT_ROLES = ("relayer", "treasury", "agent")


def load_or_create_role_key(directory: Path, role: str, password: str, scrypt_n: int | None = None
                            ) -> LocalAccount:
    """A settlement role's key from its encrypted keystore file `<dir>/SETTLEMENT-<role>.json` (created, mode
    0600, on first use). The key is never logged or returned in text form."""
    import os

    from eth_account import Account

    from bauhinia.adapters.chain.keys import SCRYPT_N_DEFAULT

    if not password:
        raise ValidationError("a keystore password is required", code="keystore_password_missing")
    path = directory / f"SETTLEMENT-{role}.json"
    if path.exists():
        try:
            loaded: LocalAccount = Account.from_key(Account.decrypt(json.loads(path.read_text(encoding="utf-8")),
                                                                    password))
            return loaded
        except ValueError:
            raise ValidationError(f"cannot decrypt the settlement {role} keystore (wrong password?)",
                                  code="keystore_locked") from None
    directory.mkdir(parents=True, exist_ok=True)
    account: LocalAccount = Account.create()
    encrypted = Account.encrypt(account.key, password, kdf="scrypt", iterations=scrypt_n or SCRYPT_N_DEFAULT)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(encrypted, fh)
    return account


def _digest(values: Mapping[str, str]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(sorted(v.lower() for v in values.values())).encode()).hexdigest()[:16]


def open_settlement_chain(sender: TxSender, coins: Mapping[Currency, Web3Chain], roles: Mapping[str, LocalAccount],
                          contracts: Any, now_ns: int, *, fund_gas: bool) -> SettlementChain:
    """The escrow and swap contracts on this chain: the addresses recorded for its chain id (`contracts` is the
    settlement store: get_contracts/put_contracts; None for the in-process EVM, whose contracts live only as long
    as the process), else deployed once (idempotent under the chain id: a crash
    mid-deployment resumes the journaled transactions) and recorded. `fund_gas`: dev chains only."""
    relayer, treasury, agent = roles["relayer"], roles["treasury"], roles["agent"]
    if fund_gas:
        sender.fund([relayer.address, treasury.address, agent.address], GAS_MONEY_WEI)
    chain_id = int(sender.chain_id)
    found = contracts.get_contracts(chain_id) if contracts is not None else {}
    names = {f"escrow_{Currency.BCNH.value}", f"escrow_{Currency.BHKD.value}", "swap"}
    tokens = {f"token_{c.coin.value}": str(chain.address) for c, chain in coins.items()}
    if names <= found.keys() and all(found.get(k, "").lower() == v.lower() for k, v in tokens.items()):
        sc = SettlementChain(sender, relayer, coins,
                             {c: found[f"escrow_{c.value}"] for c in (Currency.BCNH, Currency.BHKD)}, found["swap"])
    else:  # first use on this chain (or the coins were redeployed): deploy and record
        sc = SettlementChain.deploy(sender, relayer, coins,
                                    key_prefix=f"settlement:{chain_id}:{_digest(tokens)}")
        if contracts is not None:
            contracts.put_contracts(chain_id, {**sc.addresses(), **tokens}, now_ns)
    sc.treasury, sc.agent = treasury, agent
    sc.add_key(treasury)
    sc.add_key(agent)
    return sc
