"""Role keys in encrypted keystore files (eth-account's Web3 Secret Storage JSON).

Each coin has seven roles, each its own key: owner, master_minter, minter, pauser, blacklister, rescuer,
reserve_attestor. Files are `<dir>/<COIN>-<role>.json`, written with mode 0600. Keys never leave this module
in text form and are never logged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from bauhinia.domain.errors import NotFoundError, ValidationError

ROLES = ("owner", "master_minter", "minter", "pauser", "blacklister", "rescuer", "reserve_attestor")
# scrypt work factor for production keystores (eth-account's default); tests and the embedded demo pass less.
SCRYPT_N_DEFAULT = 262_144


@dataclass(frozen=True)
class RoleKeys:
    owner: LocalAccount
    master_minter: LocalAccount
    minter: LocalAccount
    pauser: LocalAccount
    blacklister: LocalAccount
    rescuer: LocalAccount
    reserve_attestor: LocalAccount

    def addresses(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name).address for f in fields(self)}

    def all(self) -> list[LocalAccount]:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def generate(cls) -> RoleKeys:
        return cls(**{role: Account.create() for role in ROLES})


class KeyStore:
    """A folder of encrypted keystore files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, coin: str, role: str) -> Path:
        return self.directory / f"{coin}-{role}.json"

    def has(self, coin: str) -> bool:
        return all(self._path(coin, role).exists() for role in ROLES)

    def save(self, coin: str, keys: RoleKeys, password: str, scrypt_n: int | None = None) -> None:
        if not password:
            raise ValidationError("a keystore password is required", code="keystore_password_missing")
        self.directory.mkdir(parents=True, exist_ok=True)
        for role in ROLES:
            account: LocalAccount = getattr(keys, role)
            encrypted = Account.encrypt(account.key, password, kdf="scrypt",
                                        iterations=scrypt_n or SCRYPT_N_DEFAULT)
            path = self._path(coin, role)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(encrypted, fh)

    def load(self, coin: str, password: str) -> RoleKeys:
        loaded: dict[str, LocalAccount] = {}
        for role in ROLES:
            path = self._path(coin, role)
            if not path.exists():
                raise NotFoundError(f"no keystore for {coin} {role} in {self.directory}", code="keystore_missing")
            try:
                key = Account.decrypt(json.loads(path.read_text(encoding="utf-8")), password)
            except ValueError:
                raise ValidationError(f"cannot decrypt the {coin} {role} keystore (wrong password?)",
                                      code="keystore_locked") from None
            loaded[role] = Account.from_key(key)
        return RoleKeys(**loaded)

    def load_or_create(self, coin: str, password: str, scrypt_n: int | None = None) -> RoleKeys:
        if self.has(coin):
            return self.load(coin, password)
        keys = RoleKeys.generate()
        self.save(coin, keys, password, scrypt_n)
        return keys
