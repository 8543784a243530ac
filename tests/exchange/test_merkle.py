"""The RFC 9162 Merkle tree: known vectors, an independent implementation, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pymerkle_verify_consistency

from warnlink.exchange.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    mth,
    root_from_inclusion,
    split_point,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 test vectors shared by the Certificate Transparency implementations (the
# C++ log, then Go's transparency-dev/merkle proof/verify_test.go): eight leaves, the
# roots of every prefix, and some inclusion and consistency proofs. Indices 1-based.
LEAVES = [
    bytes.fromhex(h)
    for h in [
        *["", "00", "10", "2021", "3031", "40414243", "5051525354555657"],
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


INCLUSION = [  # (leaf, size, proof), leaf 1-based
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (3, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        2,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]


def _tree(leaves: list[bytes]) -> MerkleTree:
    t = MerkleTree()
    for d in leaves:
        t.append(d)
    return t


def test_hash_prefixes_and_empty_tree() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert mth([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert split_point(2) == 1 and split_point(5) == 4 and split_point(8) == 4
    assert split_point(9) == 8


def test_roots_of_every_prefix_match_the_vectors() -> None:
    tree = _tree(LEAVES)
    for size, want in enumerate(ROOTS, start=1):
        assert tree.root(size) == want, size


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_vectors(leaf: int, size: int, proof: list[bytes]) -> None:
    tree = _tree(LEAVES)
    assert tree.inclusion_proof(leaf - 1, size) == proof
    lh = leaf_hash(LEAVES[leaf - 1])
    assert verify_inclusion(leaf - 1, size, lh, proof, ROOTS[size - 1])
    # the corruptions the Go verifier's tests try
    root = ROOTS[size - 1]
    for index, sz in [(leaf - 2, size), (leaf, size), ((leaf - 1) ^ 2, size)]:
        assert not verify_inclusion(index, sz, lh, proof, root) or (index, sz) == (leaf - 1, size)
    assert not verify_inclusion(leaf - 1, size * 2, lh, proof, root)
    if size > 1:
        assert not verify_inclusion(leaf - 1, size // 2, lh, proof, root)
    assert not verify_inclusion(leaf - 1, size, leaf_hash(b"WrongLeaf"), proof, root)
    assert not verify_inclusion(leaf - 1, size, lh, proof, EMPTY_ROOT)
    assert not verify_inclusion(leaf - 1, size, lh, [*proof, root], root)
    assert not verify_inclusion(leaf - 1, size, lh, [root, *proof], root)
    if proof:
        assert not verify_inclusion(leaf - 1, size, lh, proof[:-1], root)


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_vectors(size1: int, size2: int, proof: list[bytes]) -> None:
    tree = _tree(LEAVES)
    assert tree.consistency_proof(size1, size2) == proof
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    assert verify_consistency(size1, size2, r1, r2, proof)
    if not proof:
        return
    for s1, s2, a, b, p in [
        (size1 - 1, size2, r1, r2, proof),
        (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof),
        (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof),
        (size1, size2, leaf_hash(b"WrongRoot"), r2, proof),
        (size1, size2, r1, leaf_hash(b"WrongRoot"), proof),
        (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []),
        (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [*proof, r2]),
        (size1, size2, r1, r2, [r1, *proof]),
        (size1, size2, r1, r2, [r2, *proof]),
        (size1, size2, r1, r2, [proof[0], *proof]),
        (size1, size2, r1, r2, proof[:-1]),
    ]:
        if (s1, s2) == (size1, size2) and (a, b, p) == (r1, r2, proof):
            continue
        assert not verify_consistency(s1, s2, a, b, p), (s1, s2)


def test_trivial_consistency_cases() -> None:
    r1, r2 = leaf_hash(b"1"), leaf_hash(b"2")
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 5, r1, r2, [])
    assert not verify_consistency(0, 5, r1, r2, [r1])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])


def test_proof_requests_out_of_range() -> None:
    tree = _tree(LEAVES[:3])
    with pytest.raises(ProofError):
        tree.inclusion_proof(3)
    with pytest.raises(ProofError):
        tree.root(4)
    with pytest.raises(ProofError):
        tree.consistency_proof(4, 3)
    assert root_from_inclusion(0, 0, leaf_hash(b""), []) is None


def test_against_pymerkle_for_every_size() -> None:
    """pymerkle (an independent RFC 9162 tree) agrees on every root and audit path."""
    data = [f"entry {i}".encode() for i in range(40)]
    ours = _tree(data)
    theirs = InmemoryTree(algorithm="sha256")
    for d in data:
        theirs.append_entry(d)
    for n in range(1, len(data) + 1):
        assert ours.root(n) == theirs.get_root(n), n
        for m in range(n):
            path = [bytes.fromhex(h) for h in theirs.prove_inclusion(m + 1, n).serialize()["path"]]
            # pymerkle's path starts with the leaf itself, then the RFC audit path
            assert path[0] == ours.leaf(m)
            assert path[1:] == ours.inclusion_proof(m, n), (m, n)
        for m in range(1, n + 1):
            # pymerkle's own consistency proof holds between our two roots
            proof = theirs.prove_consistency(m, n)
            pymerkle_verify_consistency(ours.root(m), ours.root(n), proof)


def _flip(b: bytes, bit: int) -> bytes:
    i = (bit // 8) % len(b)
    return b[:i] + bytes([b[i] ^ (1 << (bit % 8))]) + b[i + 1 :]


sizes = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
)


@settings(max_examples=150, deadline=None)
@given(sizes, st.integers(min_value=0, max_value=10_000), st.integers(min_value=0))
def test_every_inclusion_proof_verifies_and_any_bit_flip_fails(
    nm: tuple[int, int], bit: int, which: int
) -> None:
    n, m = nm
    tree = _tree([i.to_bytes(4, "big") for i in range(n)])
    root = tree.root()
    proof = tree.inclusion_proof(m)
    lh = tree.leaf(m)
    assert verify_inclusion(m, n, lh, proof, root)
    # flip one bit of the leaf's data, the leaf hash, the root or one proof element
    assert not verify_inclusion(m, n, leaf_hash(_flip(m.to_bytes(4, "big"), bit)), proof, root)
    assert not verify_inclusion(m, n, _flip(lh, bit), proof, root)
    assert not verify_inclusion(m, n, lh, proof, _flip(root, bit))
    if proof:
        k = which % len(proof)
        bad = [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]
        assert not verify_inclusion(m, n, lh, bad, root)


@settings(max_examples=150, deadline=None)
@given(sizes, st.integers(min_value=0, max_value=10_000), st.integers(min_value=0))
def test_every_consistency_proof_verifies_and_any_bit_flip_fails(
    nm: tuple[int, int], bit: int, which: int
) -> None:
    n, m = nm[0], nm[1] + 1  # 1 ≤ m ≤ n
    tree = _tree([i.to_bytes(4, "big") for i in range(n)])
    r1, r2 = tree.root(m), tree.root(n)
    proof = tree.consistency_proof(m, n)
    assert verify_consistency(m, n, r1, r2, proof)
    assert not verify_consistency(m, n, _flip(r1, bit), r2, proof)
    assert not verify_consistency(m, n, r1, _flip(r2, bit), proof)
    if proof:
        k = which % len(proof)
        bad = [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]
        assert not verify_consistency(m, n, r1, r2, bad)
    # a changed leaf inside the old tree changes its root: the proof no longer holds
    changed = _tree([i.to_bytes(4, "big") for i in range(n)][:0])
    for i in range(n):
        d = i.to_bytes(4, "big")
        changed.append(_flip(d, bit) if i == (which % m) else d)
    assert not verify_consistency(m, n, changed.root(m), r2, proof)
