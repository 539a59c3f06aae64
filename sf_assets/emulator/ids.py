"""Salesforce 18-character Ids: strictly increasing with row index, unevenly spaced."""
from __future__ import annotations

import bisect
import functools

import numpy as np
import pyarrow as pa

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
POD = "5g0"  # fixed characters 4-6, like the instance part of real Ids
DIGITS = 9  # base-62 digits encoding the per-object record number
SEGMENT = 1024  # rows sharing one stride; strides and gaps vary between segments
GROW = 64  # segments added at a time for inserted rows
_ALPHA = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_CHECK = np.frombuffer(CHECKSUM_CHARS.encode(), dtype=np.uint8)


@functools.lru_cache(maxsize=1)
def _triples() -> tuple[np.ndarray, np.ndarray]:
    """Characters of every 3-digit base-62 number, and the bit mask of its upper-case characters."""
    n = np.arange(62**3)
    digits = np.stack([n // 3844, n // 62 % 62, n % 62], axis=1)
    chars = _ALPHA[digits]
    is_upper = (chars >= ord("A")) & (chars <= ord("Z"))
    return chars, (
        is_upper[:, 0] | (is_upper[:, 1].astype(np.uint8) << 1) | (is_upper[:, 2].astype(np.uint8) << 2)
    ).astype(np.uint8)


def checksum(id15: str) -> str:
    """The 3-character case-checksum suffix of a 15-character Id."""
    out = ""
    for group in range(3):
        bits = sum(1 << j for j, c in enumerate(id15[group * 5:group * 5 + 5]) if "A" <= c <= "Z")
        out += CHECKSUM_CHARS[bits]
    return out


def _segments(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Strides (mostly 1, some 2-9, a few 997) and gaps before (10% of segments) of ``n`` segments."""
    kind = rng.random(n)
    stride = np.where(kind < 0.6, 1, np.where(kind < 0.9, rng.integers(2, 10, n), 997))
    gap = np.where(rng.random(n) < 0.1, rng.integers(10**6, 10**8, n), 0)
    return stride.astype(np.int64), gap.astype(np.int64)


class IdSpace:
    """Maps row indexes of one object to Ids and back (binary search over segments)."""

    def __init__(self, prefix: str, rows: int, seed: int) -> None:
        self.prefix = prefix
        self.rows = rows
        self._key = [seed, int.from_bytes(prefix.encode(), "little")]
        self._generated = nseg = rows // SEGMENT + 2
        stride, gap = _segments(np.random.default_rng(self._key), nseg)
        self.stride = stride
        starts = np.concatenate([[62**4], SEGMENT * self.stride[:-1] + gap[1:]])
        self.start = np.cumsum(starts).astype(np.int64)

    def grow(self, rows: int) -> None:
        """Room for ``rows`` rows (inserted ones follow the generated ones, with greater Ids); the segments
        added depend only on the seed, not on how the rows were added."""
        while len(self.stride) * SEGMENT < rows + SEGMENT:
            block = (len(self.stride) - self._generated) // GROW
            stride, gap = _segments(np.random.default_rng([*self._key, 1 + block]), GROW)
            steps = SEGMENT * np.concatenate([self.stride[-1:], stride[:-1]]) + gap
            self.start = np.concatenate([self.start, self.start[-1] + np.cumsum(steps)])
            self.stride = np.concatenate([self.stride, stride])
        self.rows = max(self.rows, rows)

    def numbers(self, idx: np.ndarray) -> np.ndarray:
        """Record numbers (the base-62 part) for row indexes."""
        seg = idx // SEGMENT
        return self.start[seg] + (idx - seg * SEGMENT) * self.stride[seg]

    def ids(self, idx: np.ndarray) -> pa.StringArray:
        """Vectorized 18-character Ids for an int64 array of row indexes (3-character lookup tables)."""
        n = len(idx)
        nums = self.numbers(np.asarray(idx, dtype=np.int64))
        chars, upper = _triples()
        head = (self.prefix + POD).encode()
        mat = np.empty((n, 18), dtype=np.uint8)
        mat[:, :6] = np.frombuffer(head, dtype=np.uint8)
        lo, mid, hi = nums % 238328, nums // 238328 % 238328, nums // 238328**2
        mat[:, 6:9], mat[:, 9:12], mat[:, 12:15] = chars[hi], chars[mid], chars[lo]
        fixed = [sum(1 << j for j, c in enumerate(head[g * 5:g * 5 + 5].decode()) if c.isupper()) for g in range(2)]
        ua, ub, uc = upper[hi], upper[mid], upper[lo]
        mat[:, 15] = _CHECK[fixed[0]]
        mat[:, 16] = _CHECK[fixed[1] | (ua << 1) | ((ub & 1) << 4)]
        mat[:, 17] = _CHECK[(ub >> 1) | (uc << 2)]
        offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32)
        return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(mat)])

    def id_for(self, index: int) -> str:
        """The 18-character Id of row ``index``."""
        return self.ids(np.array([index], dtype=np.int64))[0].as_py()

    def _number_of(self, literal: str) -> int:
        """Record number at or just above where ``literal`` sorts among this object's Ids."""
        head = self.prefix + POD
        key = literal[:15]
        if key[:6] < head:
            return -1
        if key[:6] > head:
            return 62**DIGITS
        num = 0
        for c in key[6:15].ljust(DIGITS, "0"):
            num = num * 62 + min(bisect.bisect_left(ALPHABET, c), 61)
        return num

    def first_index_at_or_above(self, literal: str, inclusive: bool = True) -> int:
        """Smallest row index whose Id is >= literal (> literal when not inclusive)."""
        num = self._number_of(literal)
        if not inclusive and len(literal) >= 15 and literal[:15] == self.id_for_number(num)[:15]:
            num += 1
        seg = int(np.searchsorted(self.start, num, side="right")) - 1
        if seg < 0:
            return 0
        off = -(-(num - int(self.start[seg])) // int(self.stride[seg]))
        idx = seg * SEGMENT + min(off, SEGMENT)
        return max(0, min(idx, self.rows))

    def id_for_number(self, num: int) -> str:
        """Id text for a record number (helper for exclusive bounds)."""
        chars = []
        for _ in range(DIGITS):
            num, r = divmod(max(num, 0), 62)
            chars.append(ALPHABET[r])
        id15 = self.prefix + POD + "".join(reversed(chars))
        return id15 + checksum(id15)

    def index_range_for(self, lo_id: str | None, hi_id: str | None) -> tuple[int, int]:
        """Row index range [start, stop) of Ids with lo_id <= Id < hi_id (None = unbounded)."""
        start = 0 if lo_id is None else self.first_index_at_or_above(lo_id)
        stop = self.rows if hi_id is None else self.first_index_at_or_above(hi_id)
        return start, max(start, stop)
