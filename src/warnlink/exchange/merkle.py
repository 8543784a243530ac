"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0) §2.1, written out here.

A consultation's decision log is only tamper-evident if every party can check, with a
few hashes, that an entry is in the log (inclusion) and that today's log extends the one
it saw yesterday (consistency); and a batch of envelopes is signed once, over its root,
each carrying its inclusion proof (warnlink.exchange.envelope). These are the RFC's
algorithms, step for step, so any RFC 6962/9162 verifier in another language reaches the
same answers.

Hashes: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right); the hash of
the empty tree is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that cannot be made (bad index or sizes)."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the domain byte keeps a leaf from passing for a node."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly less than n (n ≥ 2): where MTH splits."""
    if n < 2:
        raise ValueError(f"no split for a tree of {n} leaves")
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Leaf hashes in log order, with the subtree hashes it has computed remembered.

    Every range the RFC recursion visits is either a perfect aligned subtree or one that
    ends at the tree size, so memoising MTH(D[lo:hi]) makes a proof cost O(log n)
    hashes once the tree has been hashed, and appending never invalidates a range.
    """

    __slots__ = ("_cache", "_leaves")

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        self._cache: dict[tuple[int, int], bytes] = {}
        for h in leaf_hashes:
            self.append_hash(h)

    def __len__(self) -> int:
        return len(self._leaves)

    def append(self, data: bytes) -> int:
        """Add a leaf by its data; its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, h: bytes) -> int:
        """Add a leaf by its (already computed) leaf hash; its index."""
        if len(h) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(h)}")
        self._leaves.append(h)
        return len(self._leaves) - 1

    def leaf(self, index: int) -> bytes:
        return self._leaves[index]

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) (RFC 9162 §2.1.1)."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self._leaves[lo]
        got = self._cache.get((lo, hi))
        if got is None:
            k = split_point(n)
            got = node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))
            self._cache[(lo, hi)] = got
        return got

    def _size(self, size: int | None) -> int:
        n = len(self._leaves) if size is None else size
        if not 0 <= n <= len(self._leaves):
            raise ProofError(f"tree size {n} outside 0..{len(self._leaves)}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """The Merkle tree hash of the first `size` leaves (all by default)."""
        return self._mth(0, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf `index`."""
        n = self._size(size)
        if not 0 <= index < n:
            raise ProofError(f"leaf {index} is not in a tree of {n}")
        return self._path(index, 0, n)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self._mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._mth(lo, lo + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): tree `first` is a prefix of tree `second`.

        Empty when first is 0 or first equals second (nothing to prove).
        """
        n = self._size(second)
        if not 0 <= first <= n:
            raise ProofError(f"cannot prove size {first} against size {n}")
        if first in (0, n):
            return []
        return self._subproof(first, 0, n, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self._mth(lo, hi)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes."""
    return MerkleTree(leaf_hashes).root()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof implies (RFC 9162 §2.1.3.2, steps 1-5), or None when
    the proof cannot be one for that index and size."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows the leaf hash `leaf` at `index` in the tree (`size`, `root`)."""
    got = root_from_inclusion(index, size, leaf, proof)
    return got is not None and got == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows tree (`first`, `first_root`) is a prefix of tree (`second`,
    `second_root`) (RFC 9162 §2.1.4.2)."""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: its root is a node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
