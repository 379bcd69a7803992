"""Role keys in encrypted keystore files (eth-account's Web3 Secret Storage JSON), one secret per role.

Each coin has seven roles, each its own key: owner, master_minter, minter, pauser, blacklister, rescuer,
reserve_attestor. Files are `<dir>/<COIN>-<role>.json`, written with mode 0600. Each role's keystore is sealed
with that role's own password, from its own source (`RoleSecrets`: a file per role in a secrets folder, as a
secrets manager mounts them; a per-role setting; the shared password only as the demo's fallback). A key is
decrypted only when it first signs (`LockedKey`), so a process that only mints never holds the pauser's or the
owner's key. Keys never leave this module in text form and are never logged. An HSM or KMS plugs in as another
`ports.Signer`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from bauhinia.domain.errors import NotFoundError, ValidationError

ROLES = ("owner", "master_minter", "minter", "pauser", "blacklister", "rescuer", "reserve_attestor")
# scrypt work factor for production keystores (eth-account's default); tests and the embedded demo pass less.
SCRYPT_N_DEFAULT = 262_144
SECRET_FILE_BYTES_MAX = 4_096


@dataclass(frozen=True)
class RoleSecrets:
    """Where each role's keystore password comes from, first match wins: `<directory>/<COIN>-<role>` or
    `<directory>/<role>` (one file per secret), then `by_role[role]`, then `shared` (one password for every role:
    accepted in a demo only, see config.Settings.unsafe_defaults)."""

    directory: Path | None = None
    by_role: Mapping[str, str] | None = None
    shared: str = ""

    def password(self, coin: str, role: str) -> str:
        if self.directory is not None:
            for name in (f"{coin}-{role}", role):
                path = self.directory / name
                if path.is_file():
                    data = path.read_bytes()[:SECRET_FILE_BYTES_MAX]
                    return data.decode("utf-8").strip()
        if self.by_role and self.by_role.get(role):
            return str(self.by_role[role])
        if self.shared:
            return self.shared
        raise ValidationError(f"no keystore password for the {coin} {role} key (a file {role} in the key secrets "
                              "folder, or BAUHINIA_CHAIN_KEY_PASSWORDS)", code="keystore_password_missing")

    def shared_by(self, coin: str) -> list[str]:
        """The roles whose password would come from the shared fallback (none should, outside a demo)."""
        out = []
        for role in ROLES:
            own = self.directory is not None and any((self.directory / n).is_file() for n in (f"{coin}-{role}", role))
            if not own and not (self.by_role and self.by_role.get(role)):
                out.append(role)
        return out


class LockedKey:
    """A role key that stays encrypted until it first signs (then kept in this process). Knows its address from
    the keystore file without decrypting it."""

    def __init__(self, path: Path, password: Callable[[], str], label: str) -> None:
        self._path = path
        self._password = password
        self._label = label
        self._account: LocalAccount | None = None
        self._lock = threading.Lock()
        document = json.loads(path.read_text(encoding="utf-8"))
        address = str(document.get("address") or "")
        if len(address.removeprefix("0x")) != 40:
            raise ValidationError(f"the {label} keystore has no address", code="keystore_bad")
        self._address = to_checksum_address("0x" + address.removeprefix("0x"))

    @property
    def address(self) -> str:
        return self._address

    @property
    def unlocked(self) -> bool:
        return self._account is not None

    def _unlock(self) -> LocalAccount:
        with self._lock:
            if self._account is None:
                try:
                    key = Account.decrypt(json.loads(self._path.read_text(encoding="utf-8")), self._password())
                except ValueError:
                    raise ValidationError(f"cannot decrypt the {self._label} keystore (wrong password?)",
                                          code="keystore_locked") from None
                account: LocalAccount = Account.from_key(key)
                if account.address != self._address:
                    raise ValidationError(f"the {self._label} keystore's key does not match its address",
                                          code="keystore_bad")
                self._account = account
            return self._account

    def sign_transaction(self, transaction_dict: dict[str, Any]) -> Any:
        return self._unlock().sign_transaction(transaction_dict)  # type: ignore[arg-type]

    def sign_message(self, message: Any) -> Any:
        return self._unlock().sign_message(message)

    def __repr__(self) -> str:
        return f"LockedKey({self._label}, {self._address}, {'unlocked' if self.unlocked else 'locked'})"


@dataclass(frozen=True)
class RoleKeys:
    owner: Any  # each a ports.Signer: LocalAccount, LockedKey, or an HSM/KMS signer
    master_minter: Any
    minter: Any
    pauser: Any
    blacklister: Any
    rescuer: Any
    reserve_attestor: Any

    def addresses(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name).address for f in fields(self)}

    def all(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def generate(cls) -> RoleKeys:
        return cls(**{role: Account.create() for role in ROLES})


class KeyStore:
    """A folder of encrypted keystore files, one per coin and role."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, coin: str, role: str) -> Path:
        return self.directory / f"{coin}-{role}.json"

    def has(self, coin: str) -> bool:
        return all(self._path(coin, role).exists() for role in ROLES)

    def save(self, coin: str, keys: RoleKeys, secrets: RoleSecrets | str, scrypt_n: int | None = None) -> None:
        secrets = _secrets(secrets)
        self.directory.mkdir(parents=True, exist_ok=True)
        for role in ROLES:
            account: LocalAccount = getattr(keys, role)
            encrypted = Account.encrypt(account.key, secrets.password(coin, role), kdf="scrypt",
                                        iterations=scrypt_n or SCRYPT_N_DEFAULT)
            path = self._path(coin, role)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(encrypted, fh)

    def load(self, coin: str, secrets: RoleSecrets | str) -> RoleKeys:
        """Every role's key, locked: each is decrypted (with its own password) only when it first signs."""
        secrets = _secrets(secrets)
        loaded: dict[str, LockedKey] = {}
        for role in ROLES:
            path = self._path(coin, role)
            if not path.exists():
                raise NotFoundError(f"no keystore for {coin} {role} in {self.directory}", code="keystore_missing")
            loaded[role] = LockedKey(path, lambda role=role: secrets.password(coin, role), f"{coin} {role}")
        return RoleKeys(**loaded)

    def load_or_create(self, coin: str, secrets: RoleSecrets | str, scrypt_n: int | None = None) -> RoleKeys:
        secrets = _secrets(secrets)
        if not self.has(coin):
            self.save(coin, RoleKeys.generate(), secrets, scrypt_n)
        return self.load(coin, secrets)


def _secrets(value: RoleSecrets | str) -> RoleSecrets:
    if isinstance(value, RoleSecrets):
        return value
    if not value:
        raise ValidationError("a keystore password is required", code="keystore_password_missing")
    return RoleSecrets(shared=value)


def role_secrets(settings: Any) -> RoleSecrets:
    """The role secrets out of config.Settings (the only reader of the environment)."""
    return RoleSecrets(directory=settings.chain_key_secrets_dir, by_role=dict(settings.chain_key_passwords or {}),
                       shared=settings.chain_keystore_password)
