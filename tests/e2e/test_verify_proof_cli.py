"""`bauhinia verify-proof FILE --root HEX --total N`: exit 0 when valid, one line and non-zero otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bauhinia.domain.proofs import build_sum_tree, hash_holder_id, proof_to_json

SALT = b"\x07" * 32


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bauhinia.entrypoints.cli.main", "verify-proof", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    leaves = [(hash_holder_id(f"chain:0x{i:040x}", SALT), (i + 1) * 1_000_000) for i in range(11)]
    leaves.append((hash_holder_id("customer:42", SALT), 7_500_000))
    tree = build_sum_tree(leaves, snapshot_id="2026-11-26-BHKD", coin="BHKD")
    proof = tree.proof(tree.index_of(hash_holder_id("customer:42", SALT)), salt=SALT)
    path = tmp_path_factory.mktemp("pol") / "proof.json"
    path.write_text(proof_to_json(proof))
    return path, tree.root.hash.hex(), tree.root.total


def test_valid_proof_exits_zero(published: tuple[Path, str, int]) -> None:
    path, root, total = published
    done = _run(str(path), "--root", root, "--total", str(total), "--holder-id", "customer:42")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid: balance 7500000")


def test_wrong_root_fails_with_one_line(published: tuple[Path, str, int]) -> None:
    path, _, total = published
    done = _run(str(path), "--root", "ab" * 32, "--total", str(total))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "proof_invalid" in lines[0] and "published" in lines[0]


def test_wrong_total_fails(published: tuple[Path, str, int]) -> None:
    path, root, total = published
    done = _run(str(path), "--root", root, "--total", str(total + 1))
    assert done.returncode != 0 and "total" in done.stderr


def test_tampered_balance_fails(published: tuple[Path, str, int], tmp_path: Path) -> None:
    path, root, total = published
    data = json.loads(path.read_text())
    data["leaf"]["balance_base_units"] = "7500001"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    done = _run(str(bad), "--root", root, "--total", str(total))
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1


def test_wrong_holder_and_garbage_file_fail(published: tuple[Path, str, int], tmp_path: Path) -> None:
    path, root, total = published
    assert _run(str(path), "--root", root, "--total", str(total), "--holder-id", "customer:43").returncode != 0
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    done = _run(str(junk))
    assert done.returncode != 0 and "not JSON" in done.stderr
    assert _run(str(tmp_path / "missing.json")).returncode != 0


def test_without_published_root_checks_the_embedded_root(published: tuple[Path, str, int]) -> None:
    path, _, _ = published
    done = _run(str(path))
    assert done.returncode == 0 and "inside the file" in done.stdout
