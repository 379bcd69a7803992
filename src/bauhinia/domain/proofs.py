"""Proof of liabilities: a Merkle sum tree over every holder's balance at a snapshot.

Each leaf is a holder (an on-chain address or an off-chain customer) with a balance in token base units.
Holder ids are never published: a leaf carries `holder_hash = SHA-256(len(salt) || salt || holder_id)` with
a per-holder salt the caller derives (HMAC of a snapshot secret, outside the domain) and hands to the holder
with their proof.

    leaf = SHA-256(holder_hash || balance)
    node = SHA-256(left.hash || left.sum || right.hash || right.sum),   node.sum = left.sum + right.sum

Sums are unsigned 16-byte big-endian integers. Leaves and nodes hash inputs of different lengths (48 and 96
bytes), so one can never pass for the other. A node commits to both children's sums separately, so a prover
cannot shift value between siblings. Leaves are sorted by holder_hash; an odd node at the end of a level is
promoted unchanged. The published root is (root hash, total); a proof carries the leaf index and count, from
which the verifier derives each sibling's side itself.

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bauhinia.domain.errors import ValidationError

proof_format: str = "bauhinia-liabilities-proof"
proof_version: int = 1
sum_bytes: int = 16
sum_max: int = 2 ** (8 * sum_bytes) - 1
hash_bytes: int = 32
salt_bytes_min: int = 16
salt_bytes_max: int = 64
leaves_max: int = 100_000_000
tree_depth_max: int = 64
holder_id_length_max: int = 256

_sha256 = hashlib.sha256


class ProofInvalid(ValidationError):
    """The proof does not check out; the detail says why in one line."""

    code = "proof_invalid"
    title = "Proof does not verify"


def hash_holder_id(holder_id: str, salt: bytes) -> bytes:
    """The published stand-in for a holder id. The salt is length-prefixed so (salt, id) splits one way."""
    if not holder_id or len(holder_id) > holder_id_length_max:
        raise ValidationError("holder_id must be 1..256 characters", code="bad_holder_id")
    if not salt_bytes_min <= len(salt) <= salt_bytes_max:
        raise ValidationError(f"salt must be {salt_bytes_min}..{salt_bytes_max} bytes", code="bad_salt")
    return _sha256(len(salt).to_bytes(1, "big") + salt + holder_id.encode("utf-8")).digest()


def leaf_hash(holder_hash: bytes, balance: int) -> bytes:
    return _sha256(holder_hash + balance.to_bytes(sum_bytes, "big")).digest()


def node_hash(left_hash: bytes, left_sum: int, right_hash: bytes, right_sum: int) -> bytes:
    return _sha256(
        left_hash + left_sum.to_bytes(sum_bytes, "big") + right_hash + right_sum.to_bytes(sum_bytes, "big")
    ).digest()


@dataclass(frozen=True, slots=True)
class Root:
    hash: bytes
    total: int
    leaf_count: int

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()


@dataclass(frozen=True, slots=True)
class InclusionProof:
    snapshot_id: str
    coin: str
    holder_hash: bytes
    balance: int
    leaf_index: int
    leaf_count: int
    siblings: tuple[tuple[bytes, int], ...]  # bottom-up (hash, sum); promoted levels have no entry
    root_hash: bytes
    root_total: int
    salt: bytes = b""  # the holder's own salt, so they can check holder_hash against their id


class SumTree:
    """A built tree: every level's hashes and sums, leaves first. Treat as immutable."""

    __slots__ = ("_holder_hashes", "_index", "coin", "level_hashes", "level_sums", "snapshot_id")

    def __init__(
        self,
        snapshot_id: str,
        coin: str,
        holder_hashes: list[bytes],
        level_hashes: list[list[bytes]],
        level_sums: list[list[int]],
    ) -> None:
        self._holder_hashes = holder_hashes
        self.snapshot_id = snapshot_id
        self.coin = coin
        self.level_hashes = level_hashes
        self.level_sums = level_sums
        self._index: dict[bytes, int] | None = None

    @property
    def leaf_count(self) -> int:
        return len(self.level_sums[0])

    @property
    def root(self) -> Root:
        return Root(self.level_hashes[-1][0], self.level_sums[-1][0], self.leaf_count)

    def index_of(self, holder_hash: bytes) -> int:
        if self._index is None:
            self._index = {h: i for i, h in enumerate(self._holder_hashes)}
        try:
            return self._index[holder_hash]
        except KeyError:
            raise ValidationError("holder not in this snapshot", code="holder_not_found") from None

    def proof(self, leaf_index: int, salt: bytes = b"") -> InclusionProof:
        n = self.leaf_count
        if not 0 <= leaf_index < n:
            raise ValidationError(f"leaf index {leaf_index} out of range 0..{n - 1}", code="bad_leaf_index")
        siblings: list[tuple[bytes, int]] = []
        i = leaf_index
        for level in range(len(self.level_hashes) - 1):
            hashes = self.level_hashes[level]
            sums = self.level_sums[level]
            sibling = i ^ 1
            if sibling < len(hashes):
                siblings.append((hashes[sibling], sums[sibling]))
            i >>= 1
        root = self.root
        return InclusionProof(
            snapshot_id=self.snapshot_id,
            coin=self.coin,
            holder_hash=self._holder_hashes[leaf_index],
            balance=self.level_sums[0][leaf_index],
            leaf_index=leaf_index,
            leaf_count=n,
            siblings=tuple(siblings),
            root_hash=root.hash,
            root_total=root.total,
            salt=salt,
        )


def build_sum_tree(
    leaves: Iterable[tuple[bytes, int]], *, snapshot_id: str = "", coin: str = ""
) -> SumTree:
    """Build the tree over (holder_hash, balance) pairs. Refuses negative or oversized balances, duplicate
    holders and an empty snapshot. Leaves are sorted by holder_hash, so input order does not matter."""
    pairs = sorted(leaves)
    n = len(pairs)
    if n == 0:
        raise ValidationError("a snapshot needs at least one holder", code="empty_snapshot")
    if n > leaves_max:
        raise ValidationError(f"more than {leaves_max} leaves", code="snapshot_too_large")
    holder_hashes = [p[0] for p in pairs]
    sums = [p[1] for p in pairs]
    prev = b""
    for h in holder_hashes:
        if len(h) != hash_bytes:
            raise ValidationError("holder_hash must be 32 bytes", code="bad_holder_hash")
        if h == prev:
            raise ValidationError(f"duplicate holder {h.hex()} in snapshot", code="duplicate_holder")
        prev = h
    if min(sums) < 0:
        bad = next(i for i, s in enumerate(sums) if s < 0)
        raise ValidationError(
            f"negative balance {sums[bad]} for holder {holder_hashes[bad].hex()}: "
            "liabilities cannot be negative",
            code="negative_leaf",
        )
    if sum(sums) > sum_max:
        raise ValidationError("total liabilities exceed the 16-byte sum width", code="sum_overflow")
    sha = _sha256
    width = sum_bytes
    sum_bytes_list = [s.to_bytes(width, "big") for s in sums]
    hashes = [sha(h + s).digest() for h, s in zip(holder_hashes, sum_bytes_list, strict=True)]
    level_hashes = [hashes]
    level_sums = [sums]
    while len(hashes) > 1:
        odd = len(hashes) & 1
        new_hashes = [
            sha(lh + ls + rh + rs).digest()
            for lh, ls, rh, rs in zip(
                hashes[0::2], sum_bytes_list[0::2], hashes[1::2], sum_bytes_list[1::2], strict=False
            )
        ]
        new_sums = [a + b for a, b in zip(sums[0::2], sums[1::2], strict=False)]
        if odd:
            new_hashes.append(hashes[-1])
            new_sums.append(sums[-1])
        hashes, sums = new_hashes, new_sums
        sum_bytes_list = [s.to_bytes(width, "big") for s in sums]
        level_hashes.append(hashes)
        level_sums.append(sums)
    return SumTree(snapshot_id, coin, holder_hashes, level_hashes, level_sums)


def _path_length(leaf_index: int, leaf_count: int) -> int:
    """How many siblings the path of `leaf_index` has (promoted levels have none)."""
    steps = 0
    i, count = leaf_index, leaf_count
    while count > 1:
        if (i ^ 1) < count:
            steps += 1
        i >>= 1
        count = (count + 1) >> 1
    return steps


def compute_root(proof: InclusionProof) -> tuple[bytes, int]:
    """Fold the path from the leaf up; raises ProofInvalid on a malformed path."""
    if proof.balance < 0:
        raise ProofInvalid("negative leaf balance")
    if proof.balance > sum_max:
        raise ProofInvalid("leaf balance exceeds the sum width")
    if len(proof.holder_hash) != hash_bytes:
        raise ProofInvalid("holder hash is not 32 bytes")
    if not 0 <= proof.leaf_index < proof.leaf_count <= leaves_max:
        raise ProofInvalid("leaf index outside the tree")
    if len(proof.siblings) != _path_length(proof.leaf_index, proof.leaf_count):
        raise ProofInvalid("path length does not match the leaf position")
    sha = _sha256
    h = sha(proof.holder_hash + proof.balance.to_bytes(sum_bytes, "big")).digest()
    s = proof.balance
    i, count = proof.leaf_index, proof.leaf_count
    k = 0
    while count > 1:
        if (i ^ 1) < count:
            sib_hash, sib_sum = proof.siblings[k]
            k += 1
            if len(sib_hash) != hash_bytes or not 0 <= sib_sum <= sum_max:
                raise ProofInvalid(f"sibling {k} is malformed (hash length or sum out of range)")
            if s + sib_sum > sum_max:
                raise ProofInvalid("sum overflow on the path")
            sb = s.to_bytes(sum_bytes, "big")
            ob = sib_sum.to_bytes(sum_bytes, "big")
            h = sha(sib_hash + ob + h + sb).digest() if i & 1 else sha(h + sb + sib_hash + ob).digest()
            s += sib_sum
        i >>= 1
        count = (count + 1) >> 1
    return h, s


def verify_inclusion(proof: InclusionProof, root_hash: bytes, root_total: int) -> None:
    """Check `proof` against the published root (hash and total). Raises ProofInvalid saying why."""
    h, s = compute_root(proof)
    if h != root_hash:
        if proof.root_hash != root_hash:
            raise ProofInvalid(
                f"proof was issued for root {proof.root_hash.hex()}, not the published {root_hash.hex()}"
            )
        raise ProofInvalid("path does not hash to the published root (tampered leaf or path)")
    if s != root_total:
        raise ProofInvalid(f"path sums to {s}, not the published total {root_total}")


def verify_holder(proof: InclusionProof, holder_id: str) -> None:
    """Check that the proof's leaf is this holder's (needs the salt carried in the proof)."""
    if not proof.salt:
        raise ProofInvalid("proof carries no salt; cannot check the holder id")
    if hash_holder_id(holder_id, proof.salt) != proof.holder_hash:
        raise ProofInvalid("holder id does not match the proof's holder hash")


# --- JSON format --------------------------------------------------------------------------------------


def proof_to_dict(proof: InclusionProof) -> dict[str, Any]:
    """Versioned JSON-ready form. Integers as decimal strings (safe in every JSON reader), bytes as hex."""
    return {
        "format": proof_format,
        "version": proof_version,
        "hash": "sha256",
        "sum_bytes": sum_bytes,
        "snapshot_id": proof.snapshot_id,
        "coin": proof.coin,
        "leaf": {
            "holder_hash": proof.holder_hash.hex(),
            "balance_base_units": str(proof.balance),
            "index": proof.leaf_index,
            "salt": proof.salt.hex(),
        },
        "leaf_count": proof.leaf_count,
        "path": [{"hash": h.hex(), "sum_base_units": str(s)} for h, s in proof.siblings],
        "root": {"hash": proof.root_hash.hex(), "total_base_units": str(proof.root_total)},
    }


def proof_to_json(proof: InclusionProof) -> str:
    return json.dumps(proof_to_dict(proof), indent=2) + "\n"


def _hex(value: object, what: str, length: int | None = hash_bytes) -> bytes:
    if not isinstance(value, str):
        raise ProofInvalid(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ProofInvalid(f"{what} is not valid hex") from None
    if length is not None and len(raw) != length:
        raise ProofInvalid(f"{what} must be {length} bytes")
    return raw


def _uint(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ProofInvalid(f"{what} must be an unsigned integer")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.isdigit() and len(value) <= 40:
        n = int(value)
    else:
        raise ProofInvalid(f"{what} must be an unsigned integer")
    if not 0 <= n <= sum_max:
        raise ProofInvalid(f"{what} out of range")
    return n


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProofInvalid(f"{what} must be an object")
    return value


def proof_from_dict(data: object) -> InclusionProof:
    d = _obj(data, "proof")
    if d.get("format") != proof_format:
        raise ProofInvalid(f"not a {proof_format} file")
    if d.get("version") != proof_version:
        raise ProofInvalid(
            f"unsupported proof version {d.get('version')!r} (this verifier reads {proof_version})"
        )
    if d.get("hash") != "sha256" or d.get("sum_bytes") != sum_bytes:
        raise ProofInvalid("unsupported hash or sum width")
    leaf = _obj(d.get("leaf"), "leaf")
    root = _obj(d.get("root"), "root")
    path = d.get("path")
    if not isinstance(path, list) or len(path) > tree_depth_max:
        raise ProofInvalid("path must be a list of at most 64 steps")
    siblings: list[tuple[bytes, int]] = []
    for k, step in enumerate(path, start=1):
        st = _obj(step, f"path step {k}")
        siblings.append((_hex(st.get("hash"), f"path step {k} hash"), _uint(st.get("sum_base_units"), "sum")))
    snapshot_id = d.get("snapshot_id", "")
    coin = d.get("coin", "")
    if not isinstance(snapshot_id, str) or not isinstance(coin, str):
        raise ProofInvalid("snapshot_id and coin must be strings")
    return InclusionProof(
        snapshot_id=snapshot_id,
        coin=coin,
        holder_hash=_hex(leaf.get("holder_hash"), "leaf holder_hash"),
        balance=_uint(leaf.get("balance_base_units"), "leaf balance"),
        leaf_index=_uint(leaf.get("index"), "leaf index"),
        leaf_count=_uint(d.get("leaf_count"), "leaf_count"),
        siblings=tuple(siblings),
        root_hash=_hex(root.get("hash"), "root hash"),
        root_total=_uint(root.get("total_base_units"), "root total"),
        salt=_hex(leaf.get("salt", ""), "leaf salt", None),
    )


def proof_from_json(text: str) -> InclusionProof:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProofInvalid(f"not JSON: {exc}") from None
    return proof_from_dict(data)


def holder_leaves(balances: Sequence[tuple[str, bytes, int]]) -> list[tuple[bytes, int]]:
    """(holder_id, salt, balance) -> (holder_hash, balance) leaves."""
    return [(hash_holder_id(holder_id, salt), balance) for holder_id, salt, balance in balances]
