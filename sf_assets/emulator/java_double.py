"""Doubles rendered like Java's ``Double.toString`` (what Bulk API CSV shows), vectorized.

Java writes the shortest digits that round-trip, plain for 1e-3 <= |v| < 1e7 (``23.0``,
``0.001``, ``9999999.0``) and as ``d.dddE<n>`` otherwise (``1.0E-4``, ``2.5E7``, ``9.9E17``).
Arrow's float-to-string cast already yields the shortest round-trip digits (in another layout),
so the digits and the decimal exponent are taken from it and laid out again with numpy.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SHORTEST = r"^(?P<sign>-?)(?P<int>\d+)(?:\.(?P<frac>\d+))?(?:e(?P<exp>[-+]\d+))?$"
_DIGITS = 17  # a double's shortest round-trip form has at most 17 significant digits
_ZERO, _DOT = ord("0"), ord(".")


def _lengths(arr: pa.Array) -> np.ndarray:
    return pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)


def _shortest(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(negative, 17 left-aligned digit characters per row, significant digit count, exponent)."""
    parts = pc.extract_regex(pc.cast(values, pa.string()), _SHORTEST)
    int_part, frac = parts.field("int"), parts.field("frac")
    digits = pc.binary_join_element_wise(int_part, frac, "")
    stripped = pc.utf8_ltrim(digits, "0")
    significant = pc.utf8_rtrim(stripped, "0")
    count = _lengths(significant)
    exp_text = parts.field("exp")
    exp_text = pc.utf8_ltrim(exp_text, "+")
    exp = pc.if_else(pc.equal(exp_text, ""), "0", exp_text).cast(pa.int64()).to_numpy()
    exponent = _lengths(int_part) - 1 - (_lengths(digits) - _lengths(stripped)) + exp
    mantissa = pc.if_else(pc.equal(significant, ""), "0", significant).cast(pa.uint64()).to_numpy()
    padded = mantissa * np.uint64(10) ** (_DIGITS - np.maximum(count, 1)).astype(np.uint64)
    mat = np.empty((len(values), _DIGITS), dtype=np.uint8)
    for pos in range(_DIGITS - 1, -1, -1):
        mat[:, pos] = _ZERO + (padded % np.uint64(10)).astype(np.uint8)
        padded //= np.uint64(10)
    negative = pc.equal(parts.field("sign"), "-").to_numpy(zero_copy_only=False)
    return negative, mat, count, np.where(count == 0, 0, exponent)


def _plain(neg: np.ndarray, mat: np.ndarray, count: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Characters and keep-mask of ``[-]int.frac`` for -3 <= exp <= 6."""
    n = len(mat)
    x = np.concatenate([np.full((n, 3), _ZERO, dtype=np.uint8), mat], axis=1)  # 3 leading zeros
    point = (3 + exp + 1)[:, None]  # the decimal point sits before x[point]
    start = np.where(exp >= 0, 3, point[:, 0] - 1)[:, None]
    end = np.maximum(3 + count, point[:, 0] + 1)[:, None]  # at least one fraction digit
    col = np.arange(x.shape[1] + 1)[None, :]
    src = np.where(col < point, col, col - 1)
    out = np.take_along_axis(x, np.minimum(src, x.shape[1] - 1), axis=1)
    out[col.repeat(n, 0) == point] = _DOT
    keep = ((col >= start) & (col < point)) | (col == point) | ((col > point) & (col - 1 < end))
    return _signed(neg, out, keep)


def _scientific(neg: np.ndarray, mat: np.ndarray, count: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Characters and keep-mask of ``[-]d.dddE[-]n``."""
    n = len(mat)
    mag = np.abs(exp)
    tail = np.stack([_ZERO + mag // 100, _ZERO + mag // 10 % 10, _ZERO + mag % 10], axis=1).astype(np.uint8)
    out = np.concatenate([
        mat[:, :1], np.full((n, 1), _DOT, dtype=np.uint8), mat[:, 1:],
        np.full((n, 1), ord("E"), dtype=np.uint8), np.full((n, 1), ord("-"), dtype=np.uint8), tail,
    ], axis=1)
    col = np.arange(out.shape[1])[None, :]
    frac_end = 2 + np.maximum(count - 1, 1)[:, None]
    e_col = 1 + _DIGITS
    width = np.where(mag >= 100, 3, np.where(mag >= 10, 2, 1))[:, None]
    keep = (col < frac_end) | (col == e_col) | ((col == e_col + 1) & (exp < 0)[:, None]) | (
        (col >= e_col + 5 - width) & (col >= e_col + 2))
    return _signed(neg, out, keep)


def _signed(neg: np.ndarray, out: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sign = np.full((len(out), 1), ord("-"), dtype=np.uint8)
    return np.concatenate([sign, out], axis=1), np.concatenate([neg[:, None], keep], axis=1)


def render_double(arr: pa.Array) -> pa.Array:
    """Java ``Double.toString`` of every value of a float64 array (nulls stay null)."""
    valid = arr.is_valid() if arr.null_count else None
    neg, mat, count, exp = _shortest(arr.fill_null(0.0) if arr.null_count else arr)
    plain, keep_plain = _plain(neg, mat, count, exp)
    sci, keep_sci = _scientific(neg, mat, count, exp)
    width = max(plain.shape[1], sci.shape[1])
    use_plain = ((exp >= -3) & (exp <= 6))[:, None]
    chars = np.where(use_plain, _pad(plain, width), _pad(sci, width))
    keep = np.where(use_plain, _pad(keep_plain, width), _pad(keep_sci, width))
    offsets = np.zeros(len(arr) + 1, dtype=np.int32)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    out = pa.Array.from_buffers(pa.string(), len(arr), [None, pa.py_buffer(offsets), pa.py_buffer(chars[keep])])
    return pc.if_else(valid, out, pa.scalar(None, pa.string())) if valid is not None else out


def _pad(mat: np.ndarray, width: int) -> np.ndarray:
    return np.pad(mat, ((0, 0), (0, width - mat.shape[1])))
