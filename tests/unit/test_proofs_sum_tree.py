"""Proof of liabilities: Merkle sum tree build, inclusion proofs, tampering, JSON format."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bauhinia.domain.errors import ValidationError
from bauhinia.domain.proofs import (
    ProofInvalid,
    build_sum_tree,
    hash_holder_id,
    holder_leaves,
    leaf_hash,
    node_hash,
    proof_from_json,
    proof_to_dict,
    proof_to_json,
    verify_holder,
    verify_inclusion,
)

SALT = bytes(range(32))


def _tree(balances: list[int]):  # type: ignore[no-untyped-def]
    return build_sum_tree(
        holder_leaves([(f"holder-{i}", SALT, b) for i, b in enumerate(balances)]),
        snapshot_id="s1",
        coin="BHKD",
    )


def test_root_of_two_leaves_follows_the_published_formula() -> None:
    a, b = hash_holder_id("alice", SALT), hash_holder_id("bob", SALT)
    tree = build_sum_tree([(a, 5), (b, 7)])
    (lh, ls), (rh, rs) = sorted([(a, 5), (b, 7)])
    expected = node_hash(leaf_hash(lh, ls), ls, leaf_hash(rh, rs), rs)
    assert tree.root.hash == expected and tree.root.total == 12


def test_every_leaf_verifies_with_odd_counts() -> None:
    tree = _tree([3, 0, 9, 4, 1, 100, 7])
    root = tree.root
    assert root.total == 124
    for i in range(tree.leaf_count):
        verify_inclusion(tree.proof(i), root.hash, root.total)


def test_negative_leaf_refused() -> None:
    with pytest.raises(ValidationError) as err:
        _tree([5, -1, 3])
    assert err.value.code == "negative_leaf"


def test_duplicate_holder_and_empty_snapshot_refused() -> None:
    h = hash_holder_id("alice", SALT)
    with pytest.raises(ValidationError, match="duplicate"):
        build_sum_tree([(h, 1), (h, 2)])
    with pytest.raises(ValidationError):
        build_sum_tree([])


def test_tampered_leaf_balance_rejected() -> None:
    tree = _tree([10, 20, 30, 40, 50])
    proof = tree.proof(2)
    with pytest.raises(ProofInvalid, match="does not hash"):
        verify_inclusion(replace(proof, balance=proof.balance + 1), tree.root.hash, tree.root.total)


def test_tampered_leaf_holder_rejected() -> None:
    tree = _tree([10, 20, 30])
    proof = tree.proof(0)
    other = hash_holder_id("mallory", SALT)
    with pytest.raises(ProofInvalid):
        verify_inclusion(replace(proof, holder_hash=other), tree.root.hash, tree.root.total)


def test_tampered_path_sum_rejected_even_if_sum_is_shifted() -> None:
    tree = _tree([10, 20, 30, 40])
    proof = tree.proof(1)
    (h0, s0), *rest = proof.siblings
    shifted = replace(proof, siblings=((h0, s0 - 5), *rest), balance=proof.balance + 5)
    with pytest.raises(ProofInvalid):
        verify_inclusion(shifted, tree.root.hash, tree.root.total)


def test_tampered_path_hash_and_index_rejected() -> None:
    tree = _tree([10, 20, 30, 40, 50, 60])
    proof = tree.proof(3)
    _, s0 = proof.siblings[0]
    bad = replace(proof, siblings=((bytes(32), s0), *proof.siblings[1:]))
    with pytest.raises(ProofInvalid):
        verify_inclusion(bad, tree.root.hash, tree.root.total)
    with pytest.raises(ProofInvalid):
        verify_inclusion(replace(proof, leaf_index=2), tree.root.hash, tree.root.total)
    with pytest.raises(ProofInvalid, match="path length"):
        verify_inclusion(replace(proof, siblings=proof.siblings[:-1]), tree.root.hash, tree.root.total)


def test_wrong_root_and_wrong_total_rejected() -> None:
    tree = _tree([1, 2, 3])
    proof = tree.proof(1)
    with pytest.raises(ProofInvalid, match="not the published"):
        verify_inclusion(proof, bytes(32), tree.root.total)
    with pytest.raises(ProofInvalid, match="total"):
        verify_inclusion(proof, tree.root.hash, tree.root.total + 1)


def test_json_round_trip_and_version_check() -> None:
    tree = _tree([5, 6, 7])
    proof = tree.proof(2, salt=SALT)
    text = proof_to_json(proof)
    again = proof_from_json(text)
    assert again == proof
    verify_inclusion(again, tree.root.hash, tree.root.total)
    data = json.loads(text)
    data["version"] = 99
    with pytest.raises(ProofInvalid, match="version"):
        proof_from_json(json.dumps(data))
    data = proof_to_dict(proof)
    data["leaf"]["balance_base_units"] = "-3"
    with pytest.raises(ProofInvalid):
        proof_from_json(json.dumps(data))
    with pytest.raises(ProofInvalid, match="not JSON"):
        proof_from_json("{nope")


def test_holder_can_check_their_id() -> None:
    leaves = [("alice", SALT, 5), ("bob", SALT, 9)]
    tree = build_sum_tree(holder_leaves(leaves))
    i = tree.index_of(hash_holder_id("bob", SALT))
    proof = tree.proof(i, salt=SALT)
    assert proof.balance == 9
    verify_holder(proof, "bob")
    with pytest.raises(ProofInvalid):
        verify_holder(proof, "alice")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=70))
def test_every_proof_verifies_and_sums_to_the_total(balances: list[int]) -> None:
    tree = _tree(balances)
    root = tree.root
    assert root.total == sum(balances)
    for i in range(tree.leaf_count):
        proof = tree.proof(i)
        verify_inclusion(proof, root.hash, root.total)
        assert proof.balance + sum(s for _, s in proof.siblings) == root.total
