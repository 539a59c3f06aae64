"""Vectorized column generators: each maps an int64 array of row indexes to a typed Arrow array."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH_2015_MS = 1420070400000
DAY_MS = 86_400_000
# Salesforce's date range and the values real orgs use ("unknown", "never expires") or trip on.
EDGE_DAYS = (-98615, -25567, -1, 11016, 741807)  # 1700-01-01, 1900-01-01, 1969-12-31, 2000-02-29, 4000-12-31
EDGE_MS = (-8520336000000, -2208988800000, -1, 951825600001, 64092211199999)  # same days; .000 .000 .999 .001 .999
EDGE_PERIOD = 50  # in every 50 rows of a field with edges, one row per edge value takes it

AWKWARD = (
    "NULL", "N/A", "NaN", "null", "00123", "1E5", "   ", "\t", "line\u2028separator", "🚀",
    'She said "hello", then left',
    "comma, separated, value",
    "first line\nsecond line",
    "windows\r\nline ending",
    "  leading and trailing spaces  ",
    "Crème brûlée à la française é",
    "中文字符测试",
    "emoji 🚀🎉 party",
    '"quoted", and\nmultiline',
    "semi;colon|pipe\ttab",
)
AWKWARD_EVERY = 1000  # rows 0..len(AWKWARD)-1 of every 1000 take each awkward value in turn
LONG_TEXT = ("Lorem ipsum dolor sit amet, é 中文 🚀 \"q\", x\nCRLF\r\nCR\rend\u2028" * 640)[:32000]


class Source(Protocol):
    """What generators need from the data generator."""

    def hash(self, salt: str, idx: np.ndarray) -> np.ndarray: ...

    def column(self, obj: str, name: str, idx: np.ndarray) -> pa.Array: ...

    def ref_index(self, obj: str, name: str, idx: np.ndarray) -> np.ndarray: ...

    def ids(self, obj: str, idx: np.ndarray) -> pa.Array: ...

    def rows(self, obj: str) -> int: ...


Gen = Callable[[Source, str, np.ndarray], pa.Array]


def splitmix(key: int, idx: np.ndarray) -> np.ndarray:
    """Deterministic 64-bit hash of each index under ``key``."""
    with np.errstate(over="ignore"):
        x = idx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def salt_key(seed: int, salt: str) -> int:
    """64-bit key for one (seed, salt) pair."""
    return int.from_bytes(hashlib.blake2b(f"{seed}/{salt}".encode(), digest_size=8).digest(), "little")


def with_nulls(arr: pa.Array, null_mask: np.ndarray) -> pa.Array:
    """``arr`` with nulls where ``null_mask`` is true."""
    if not null_mask.any():
        return arr
    return pc.if_else(pa.array(null_mask), pa.scalar(None, arr.type), arr)


def _null_mask(src: Source, salt: str, idx: np.ndarray, null: float) -> np.ndarray:
    if null <= 0:
        return np.zeros(len(idx), dtype=bool)
    return src.hash(salt + "#null", idx) % np.uint64(10000) < np.uint64(int(null * 10000))


@dataclass(frozen=True)
class Text:
    """Strings from a pool, optionally numbered, with nulls and awkward values mixed in."""

    pool: Sequence[str]
    null: float = 0.0
    awkward: float = 0.0
    numbered: bool = False
    long_every: int = 0

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        h = src.hash(salt, idx)
        choice = (h % np.uint64(len(self.pool))).astype(np.int64)
        pool = list(self.pool) + list(AWKWARD) + [LONG_TEXT]
        roll = (h >> np.uint64(32)) % np.uint64(100000)
        awkward = np.where(idx % AWKWARD_EVERY < len(AWKWARD), idx % AWKWARD_EVERY,  # each one early on
                           (h >> np.uint64(20)).astype(np.int64) % len(AWKWARD))
        hit = (roll < np.uint64(int(self.awkward * 100000))) | (idx % AWKWARD_EVERY < len(AWKWARD))
        choice = np.where(hit if self.awkward else False, len(self.pool) + awkward, choice)
        if self.long_every:
            choice = np.where((h >> np.uint64(8)) % np.uint64(self.long_every) == 0, len(pool) - 1, choice)
        out = pa.array(pool).take(pa.array(choice))
        if self.numbered:
            out = pc.binary_join_element_wise(out, pc.cast(pa.array(idx), pa.string()), " ")
        return with_nulls(out, _null_mask(src, salt, idx, self.null))


@dataclass(frozen=True)
class Pattern:
    """Strings ``head + index + tail`` (emails, urls), with nulls."""

    head: str
    tail: str
    null: float = 0.0

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        num = pc.cast(pa.array(idx), pa.string())
        out = pc.binary_join_element_wise(self.head, num, self.tail, "")
        return with_nulls(out, _null_mask(src, salt, idx, self.null))


@dataclass(frozen=True)
class Flag:
    """Booleans true with probability ``p``."""

    p: float

    def mask(self, src: Source, salt: str, idx: np.ndarray) -> np.ndarray:
        h = src.hash(salt, idx)
        return h % np.uint64(10000) < np.uint64(int(self.p * 10000))

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        return pa.array(self.mask(src, salt, idx))


@dataclass(frozen=True)
class Integer:
    lo: int
    hi: int
    null: float = 0.0

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        v = self.lo + (src.hash(salt, idx) % np.uint64(self.hi - self.lo + 1)).astype(np.int64)
        return with_nulls(pa.array(v), _null_mask(src, salt, idx, self.null))


def unscaled(src: Source, salt: str, idx: np.ndarray, lo: int, hi: int, huge: int | None) -> np.ndarray:
    """Random unscaled integers in [lo, hi]; with ``huge``, one row in EDGE_PERIOD each gets ``huge``,
    ``-huge`` or zero (the widest values a currency holds, negative, and zero)."""
    h = src.hash(salt, idx)
    v = lo + (h % np.uint64(hi - lo + 1)).astype(np.int64)
    if huge is not None:
        v = _edges(src, salt, idx, v, (huge, -huge, 0))
    return v


def decimal_array(values: np.ndarray, scale: int, precision: int = 18) -> pa.Array:
    """decimal128 array from unscaled int64 values (zero-copy layout build)."""
    pairs = np.empty((len(values), 2), dtype=np.int64)
    pairs[:, 0] = values
    pairs[:, 1] = values >> 63
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(values), [None, pa.py_buffer(pairs.tobytes())])


@dataclass(frozen=True)
class Number:
    """Decimal (currency) or float (double, percent) values built from unscaled integers."""

    lo: int
    hi: int
    scale: int
    as_float: bool = False
    null: float = 0.0
    huge: int | None = None

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        v = unscaled(src, salt, idx, self.lo, self.hi, self.huge)
        arr = pa.array(v / 10.0**self.scale) if self.as_float else decimal_array(v, self.scale)
        return with_nulls(arr, _null_mask(src, salt, idx, self.null))


def _edges(src: Source, salt: str, idx: np.ndarray, values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """``values`` where each of ``edges`` takes one row in every EDGE_PERIOD (a per-field offset),
    so even a small org holds every edge value of every such field."""
    offset = int(src.hash(salt + "#edges", np.zeros(1, dtype=np.int64))[0] % np.uint64(EDGE_PERIOD))
    pick = (idx + offset) % EDGE_PERIOD
    chosen = np.asarray(edges, dtype=values.dtype)[np.minimum(pick, len(edges) - 1)]
    return np.where(pick < len(edges), chosen, values)


@dataclass(frozen=True)
class Moment:
    """Dates, datetimes (with milliseconds) or times; ``edges`` mixes in EDGE_DAYS / EDGE_MS."""

    kind: str  # "date" | "datetime" | "time"
    span_days: int = 3650
    null: float = 0.0
    edges: bool = False
    millis: bool = False

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        h = src.hash(salt, idx)
        ms_part = (h >> np.uint64(20)) % np.uint64(1000) if self.millis else np.zeros(len(h), np.uint64)
        if self.kind == "time":
            return pa.array(
                ((h % np.uint64(DAY_MS // 1000)) * np.uint64(1000) + ms_part).astype(np.int32), pa.time32("ms")
            )
        if self.kind == "date":
            days = 16436 + (h % np.uint64(self.span_days)).astype(np.int32)  # from 2015-01-01
            days = _edges(src, salt, idx, days, EDGE_DAYS) if self.edges else days
            return with_nulls(pa.array(days, pa.date32()), _null_mask(src, salt, idx, self.null))
        ms = EPOCH_2015_MS + (h % np.uint64(self.span_days * 86400)).astype(np.int64) * 1000 + ms_part.astype(np.int64)
        ms = _edges(src, salt, idx, ms, EDGE_MS) if self.edges else ms
        arr = pa.array(ms, pa.timestamp("ms", tz="UTC"))
        return with_nulls(arr, _null_mask(src, salt, idx, self.null))


EDGE_DOUBLES = (1e-15, 1.0e-4, 0.001, 2.5e7, 9.9e17, 0.0, -1e-15, -9.9e17)


@dataclass(frozen=True)
class WideDouble:
    """Doubles from 1e-15 to 9.9e17 in magnitude (up to 9 significant digits), both signs, plus
    EDGE_DOUBLES: Bulk renders them like Java (``1.0E-4``, ``2.5E7``)."""

    null: float = 0.0

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        h = src.hash(salt, idx)
        mantissa = (h % np.uint64(10**9)).astype(np.float64)
        exponent = ((h >> np.uint64(32)) % np.uint64(33)).astype(np.int64) - 24  # x 1e-24 .. 1e8
        sign = np.where((h >> np.uint64(40)) & np.uint64(1), -1.0, 1.0)
        values = _edges(src, salt, idx, sign * mantissa * np.power(10.0, exponent), EDGE_DOUBLES)
        values = np.clip(values, -9.9e17, 9.9e17)
        values = np.where((np.abs(values) < 1e-15) & (values != 0), 1e-15, values)
        return with_nulls(pa.array(values), _null_mask(src, salt, idx, self.null))


@dataclass(frozen=True)
class Joined:
    """Text fields of the same row joined by spaces, nulls skipped (a name compound's value)."""

    parts: tuple[str, ...]

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        obj = salt.split(".")[0]
        columns = [src.column(obj, p, idx) for p in self.parts]
        return pc.binary_join_element_wise(*columns, " ", null_handling="skip")


@dataclass(frozen=True)
class Later:
    """A datetime at or after another datetime field of the same row."""

    base: str
    span_days: int = 400

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        base = src.column(salt.split(".")[0], self.base, idx).cast(pa.int64()).to_numpy()
        delta = (src.hash(salt, idx) % np.uint64(self.span_days * 86400)).astype(np.int64) * 1000
        return pa.array(base + delta, pa.timestamp("ms", tz="UTC"))


@dataclass(frozen=True)
class Lookup:
    """A value derived from the choice index of a picklist field (e.g. Probability from StageName)."""

    base: str
    values: tuple
    type: pa.DataType

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        choice = src.hash(f"{salt.split('.')[0]}.{self.base}", idx) % np.uint64(len(self.values))
        return pa.array(list(self.values), self.type).take(pa.array(choice.astype(np.int64)))


def _unscaled_of(arr: pa.Array) -> np.ndarray:
    """Low 64 bits of each decimal128 value (our values fit in int64)."""
    raw = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    return raw[2 * arr.offset:2 * (arr.offset + len(arr)):2]


@dataclass(frozen=True)
class Ref:
    """Reference to a row of ``target`` chosen by hash; ``null`` fraction of rows have none."""

    target: str
    null: float = 0.0

    def indices(self, src: Source, salt: str, idx: np.ndarray) -> np.ndarray:
        """Parent row indexes, -1 where null."""
        rows = max(src.rows(self.target), 1)
        parent = (src.hash(salt, idx) % np.uint64(rows)).astype(np.int64)
        return np.where(_null_mask(src, salt, idx, self.null), -1, parent)

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        parent = self.indices(src, salt, idx)
        ids = src.ids(self.target, np.maximum(parent, 0))
        return with_nulls(ids, parent < 0)


@dataclass(frozen=True)
class Percentage:
    """Formula ``currency * percent / 100`` rounded to the currency's scale."""

    amount: str
    percent: str

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        obj = salt.split(".")[0]
        amount = src.column(obj, self.amount, idx)
        pct = src.column(obj, self.percent, idx)
        values = np.rint(_unscaled_of(amount) * pct.fill_null(0).to_numpy() / 100).astype(np.int64)
        nulls = bool_numpy(pc.or_(amount.is_null(), pct.is_null()))
        return with_nulls(decimal_array(values, amount.type.scale), nulls)


@dataclass(frozen=True)
class Blob:
    """Small binary payloads (base64 fields)."""

    def __call__(self, src: Source, salt: str, idx: np.ndarray) -> pa.Array:
        pool = pa.array([b"\x00\x01binary", b"%PDF-1.4 fake", b"\xff\xd8\xff\xe0jpeg"], pa.binary())
        return pool.take(pa.array((src.hash(salt, idx) % np.uint64(3)).astype(np.int64)))


def bool_numpy(arr: pa.Array) -> np.ndarray:
    """numpy bool array of a boolean Arrow array, nulls as False (fast bitmap unpacking)."""
    n, off = len(arr), arr.offset
    bits = np.unpackbits(np.frombuffer(arr.buffers()[1], dtype=np.uint8), bitorder="little")[off:off + n]
    if arr.null_count:
        valid = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")[off:off + n]
        bits &= valid
    return bits.astype(bool)
