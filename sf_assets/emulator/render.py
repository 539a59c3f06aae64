"""Render typed Arrow columns as Bulk API 2.0 CSV text, vectorized (no per-row Python)."""
from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .java_double import render_double
from .values import bool_numpy

_ZERO = ord("0")
TABLE_START_DAY = -25567  # 1900-01-01
TABLE_DAYS = 73049  # through 2099-12-31


def _fixed_width(mat: np.ndarray, valid: pa.Array | None) -> pa.Array:
    """String array from an (n, width) uint8 matrix, null where ``valid`` is false."""
    n, width = mat.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    out = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(mat))])
    if valid is not None:
        out = pc.if_else(valid, out, pa.scalar(None, pa.string()))
    return out


def _digits(mat: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    for pos in range(col + width - 1, col - 1, -1):
        mat[:, pos] = _ZERO + values % 10
        values = values // 10


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) from days since 1970-01-01 (proleptic Gregorian)."""
    z = days.astype(np.int64) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _fill_date(mat: np.ndarray, days: np.ndarray) -> None:
    year, month, day = _civil(days)
    _digits(mat, 0, year, 4)
    _digits(mat, 5, month, 2)
    _digits(mat, 8, day, 2)
    mat[:, 4] = mat[:, 7] = ord("-")


def _fill_time(mat: np.ndarray, col: int, ms: np.ndarray) -> None:
    _digits(mat, col, ms // 3_600_000, 2)
    _digits(mat, col + 3, ms // 60_000 % 60, 2)
    _digits(mat, col + 6, ms // 1000 % 60, 2)
    _digits(mat, col + 9, ms % 1000, 3)
    mat[:, col + 2] = mat[:, col + 5] = ord(":")
    mat[:, col + 8] = ord(".")
    mat[:, col + 12] = ord("Z")


def _valid(arr: pa.Array) -> pa.Array | None:
    return arr.is_valid() if arr.null_count else None


def render_date(arr: pa.Array) -> pa.Array:
    """``2024-09-24``."""
    days = arr.cast(pa.int32()).fill_null(0).to_numpy()
    slot = days.astype(np.int64) - TABLE_START_DAY
    outside = np.flatnonzero((slot < 0) | (slot >= TABLE_DAYS))  # e.g. 1700-01-01, 4000-12-31
    mat = _tables()[0][np.clip(slot, 0, TABLE_DAYS - 1)]
    if len(outside):
        mat[outside] = _date_chars(days[outside])
    return _fixed_width(mat, _valid(arr))


def _date_chars(days: np.ndarray) -> np.ndarray:
    mat = np.empty((len(days), 10), dtype=np.uint8)
    _fill_date(mat, days)
    return mat


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates from TABLE_START_DAY, ``HH:MM:SS`` of every second of a day, ``.mmmZ`` of every millisecond)."""
    dates = np.empty((TABLE_DAYS, 10), dtype=np.uint8)
    _fill_date(dates, np.arange(TABLE_START_DAY, TABLE_START_DAY + TABLE_DAYS))
    sec = np.arange(86400)
    times = np.empty((86400, 8), dtype=np.uint8)
    _digits(times, 0, sec // 3600, 2)
    _digits(times, 3, sec // 60 % 60, 2)
    _digits(times, 6, sec % 60, 2)
    times[:, 2] = times[:, 5] = ord(":")
    millis = np.empty((1000, 5), dtype=np.uint8)
    millis[:, 0] = ord(".")
    _digits(millis, 1, np.arange(1000), 3)
    millis[:, 4] = ord("Z")
    return dates, times, millis


def render_datetime(arr: pa.Array) -> pa.Array:
    """``2024-09-24T03:26:07.000Z`` (table lookups; arithmetic for dates outside 1900-2099)."""
    ms = arr.cast(pa.int64()).fill_null(0).to_numpy()
    days = np.floor_divide(ms, 86_400_000)
    rest = ms - days * 86_400_000
    mat = np.empty((len(arr), 24), dtype=np.uint8)
    slot = days - TABLE_START_DAY
    outside = np.flatnonzero((slot < 0) | (slot >= TABLE_DAYS))
    dates, times, millis = _tables()
    mat[:, :10] = dates[np.clip(slot, 0, TABLE_DAYS - 1)]
    if len(outside):
        mat[outside, :10] = _date_chars(days[outside])
    mat[:, 11:19] = times[rest // 1000]
    mat[:, 19:] = millis[rest % 1000]
    mat[:, 10] = ord("T")
    return _fixed_width(mat, _valid(arr))


def render_time(arr: pa.Array) -> pa.Array:
    """``03:26:07.000Z``."""
    ms = arr.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
    mat = np.empty((len(arr), 13), dtype=np.uint8)
    _fill_time(mat, 0, ms)
    return _fixed_width(mat, _valid(arr))


def _compact(mat: np.ndarray, keep: np.ndarray, valid: pa.Array | None) -> pa.Array:
    """Variable-width strings made of the kept characters of each row of ``mat``."""
    offsets = np.zeros(len(mat) + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    data = mat[keep]
    out = pa.Array.from_buffers(pa.string(), len(mat), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pc.if_else(valid, out, pa.scalar(None, pa.string())) if valid is not None else out


def _digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative ``values``, zero-padded on the left."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for pos in range(width - 1, -1, -1):
        out[:, pos] = _ZERO + (rest % 10).astype(np.uint8)
        rest //= 10
    return out


def _unscaled(arr: pa.Array) -> tuple[np.ndarray, int]:
    raw = np.frombuffer(arr.buffers()[1], dtype=np.int64)[2 * arr.offset:2 * (arr.offset + len(arr)):2]
    return np.where(bool_numpy(arr.is_valid()), raw, 0), arr.type.scale


def _exponent(v: np.ndarray, nd: np.ndarray, tz: np.ndarray, k: np.ndarray,
              width: int) -> tuple[np.ndarray, np.ndarray]:
    """Characters and keep-mask of ``d.dddE<k-1>`` renderings (sign, digit, '.', 18 digits, 'E', 2 digits)."""
    cols = np.arange(19)
    left = _digit_matrix(np.abs(v).astype(np.uint64) * (np.uint64(10) ** (19 - nd).astype(np.uint64)), 19)
    mat = np.zeros((len(v), width), dtype=np.uint8)
    mat[:, 0] = ord("-")
    mat[:, 1] = left[:, 0]
    mat[:, 2] = ord(".")
    mat[:, 3:21] = np.where(cols[None, 1:] < nd[:, None], left[:, 1:], _ZERO)
    mat[:, 21] = ord("E")
    e = k - 1
    mat[:, 22] = _ZERO + e // 10
    mat[:, 23] = _ZERO + e % 10
    rest_len = np.maximum(nd - 1 - tz, 1)
    pos = np.arange(width)
    keep = ((pos == 0) & (v < 0)[:, None]) | (pos == 1) | (pos == 2) | (
        (pos >= 3) & (pos < 3 + rest_len[:, None])) | (pos == 21) | ((pos == 22) & (e >= 10)[:, None]) | (pos == 23)
    return mat, keep


@functools.lru_cache(maxsize=4)
def _fractions(scale: int) -> pa.Array:
    """Fraction digits for every value of ``scale`` digits: trailing zeros stripped, at least ``0``."""
    return pa.array([(f"{i:0{scale}d}".rstrip("0") or "0") if scale else "0" for i in range(10**scale)])


def render_number(arr: pa.Array) -> pa.Array:
    """Java ``Double.toString`` style: ``23.0``, ``0.5``, ``2.5E7``, ``1.0E-4``; decimals keep every digit."""
    if pa.types.is_decimal(arr.type) and arr.type.scale <= 3:
        return _render_decimal(arr)  # already vectorized: a unique() pass would only add a hash
    uniques = pc.unique(arr)
    if len(uniques) <= 64 < len(arr):
        return render_number(uniques).take(pc.index_in(arr, uniques))
    if pa.types.is_floating(arr.type):
        return render_double(arr.cast(pa.float64()))
    return _render_slow(arr)


def _render_decimal(arr: pa.Array) -> pa.Array:
    """Fast path for decimals of scale <= 3: Arrow int→string cast plus a fraction lookup table."""
    v, scale = _unscaled(arr)
    a = np.abs(v)
    unit = 10**scale
    out = pc.binary_join_element_wise(
        pc.cast(pa.array(a // unit), pa.string()), _fractions(scale).take(pa.array(a % unit)), "."
    )
    neg = v < 0
    if neg.any():
        out = pc.if_else(pa.array(neg), pc.binary_join_element_wise("-", out, ""), out)
    big = a >= 10 ** (7 + scale)
    if big.any():
        out = pc.replace_with_mask(out, pa.array(big), _render_slow(arr.filter(pa.array(big))))
    valid = _valid(arr)
    return pc.if_else(valid, out, pa.scalar(None, pa.string())) if valid is not None else out


def _render_slow(arr: pa.Array) -> pa.Array:
    """General numpy path (any scale, exponent forms)."""
    v, scale = _unscaled(arr)
    n = len(v)
    a = np.abs(v).astype(np.uint64)
    dig = _digit_matrix(a, 19)
    nd = np.maximum(19 - np.argmax(dig != _ZERO, axis=1), 1)
    nd = np.where(a == 0, 1, nd)
    rev = dig[:, ::-1] != _ZERO
    tz = np.where(a == 0, 19, np.argmax(rev, axis=1))
    k = np.maximum(nd - scale, 1)
    # plain: sign, 19 int digits, '.', up to max(scale, 1) fraction digits
    frac_w = max(scale, 1)
    plain = np.empty((n, 21 + frac_w), dtype=np.uint8)
    plain[:, 0] = ord("-")
    if scale:
        plain[:, 1:1 + scale] = _ZERO
        plain[:, 1 + scale:20] = dig[:, :19 - scale]
        plain[:, 21:] = dig[:, 19 - scale:]
    else:
        plain[:, 1:20] = dig
        plain[:, 21] = _ZERO
    plain[:, 20] = ord(".")
    frac_len = np.maximum(scale - np.minimum(tz, scale), 1)
    pos = np.arange(plain.shape[1])
    keep_plain = ((pos == 0) & (v < 0)[:, None]) | ((pos >= 20 - k[:, None]) & (pos <= 20)) | (
        (pos > 20) & (pos <= 20 + frac_len[:, None]))
    width = plain.shape[1]
    big = np.flatnonzero(k >= 8)
    if len(big):
        width = max(width, 24)
        mat = np.zeros((n, width), dtype=np.uint8)
        keep = np.zeros((n, width), dtype=bool)
        mat[:, :plain.shape[1]] = plain
        keep[:, :plain.shape[1]] = keep_plain
        mat[big], keep[big] = _exponent(v[big], nd[big], tz[big], k[big], width)
    else:
        mat, keep = plain, keep_plain
    return _compact(mat, keep, _valid(arr))


def render_bulk(arr: pa.Array) -> pa.Array:
    """One typed column as Bulk API CSV text (nulls stay null)."""
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_timestamp(t):
        return render_datetime(arr)
    if pa.types.is_date32(t):
        return render_date(arr)
    if pa.types.is_time32(t):
        return render_time(arr)
    if pa.types.is_decimal(t) or pa.types.is_floating(t):
        return render_number(arr)
    return pc.cast(arr, pa.string())
