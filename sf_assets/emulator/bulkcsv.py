"""Bulk API 2.0 result pages as CSV, produced block by block."""
from __future__ import annotations

import io
import itertools
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .plan import QueryPlan
from .render import render_bulk

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
EMPTY_RESULT_FORMS = ("empty", "header", "not_found")  # a 0-record job's results body: see docs/EMULATOR.md
DEFAULT_EMPTY_RESULT = "empty"
NOT_FOUND_TEXT = "Records not found for this query"  # Bulk API 1.0's body for a query without results
RENDER_BLOCK = 65536
PREFETCH = 3
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sf-emulator-render")
GZIP_LEVEL = 1
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, mtime 0, unknown OS
_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial (reflected bit order, as in zlib's crc32_combine)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


_X2N = [1 << 30]  # x^(2^k) modulo the polynomial
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc32(A), crc32(B) and len(B) (zlib's algorithm)."""
    p, k = 1 << 31, 3
    while len2:
        if len2 & 1:
            p = _multmodp(_X2N[k & 31], p)
        len2 >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


def deflate_block(data: bytes | memoryview) -> tuple[bytes, int, int]:
    """(raw deflate of ``data`` ending on a byte boundary (sync flush), crc32, length): blocks
    deflated independently and concatenated form one valid deflate stream, so worker threads
    can compress them in parallel (zlib releases the GIL)."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(data), len(data)


def gzip_stream(blocks: Iterator[tuple[bytes, int, int]]) -> Iterator[bytes]:
    """One gzip member (RFC 1952) made of independently deflated blocks."""
    yield GZIP_HEADER
    crc, size = 0, 0
    for deflated, block_crc, length in blocks:
        crc, size = crc32_combine(crc, block_crc, length), size + length
        if deflated:
            yield deflated
    yield b"\x03\x00" + struct.pack("<II", crc, size & 0xFFFFFFFF)  # empty final block, trailer


def csv_block(plan: QueryPlan, idx: np.ndarray, header: bool, delimiter: str = ",", eol: str = "\n") -> bytes:
    """CSV text of rows ``idx``: every non-null value quoted, null as an empty unquoted field."""
    names, arrays = [], []
    for name, _field, values in plan.columns(idx):
        names.append(name)
        arrays.append(render_bulk(values))
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(names))])
    buf = io.BytesIO()
    if header:
        buf.write((delimiter.join(f'"{n}"' for n in names) + eol).encode())
    if len(idx):
        opts = pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="all_valid",
                                  eol=eol, batch_size=len(idx))
        pacsv.write_csv(table, buf, opts)
    return buf.getvalue()


def check_empty_result_form(form: str) -> str:
    """``form`` when it is one of EMPTY_RESULT_FORMS; ValueError naming them otherwise."""
    if form not in EMPTY_RESULT_FORMS:
        raise ValueError(f"empty result form {form!r}: expected one of {', '.join(EMPTY_RESULT_FORMS)}")
    return form


def empty_result_body(form: str, plan: QueryPlan, delimiter: str = ",", eol: str = "\n") -> bytes:
    """The results body of a job without records: nothing (``empty``), the header line (``header``), or
    Bulk API 1.0's text (``not_found``)."""
    if form == "header":
        return csv_block(plan, np.empty(0, dtype=np.int64), True, delimiter, eol)
    return NOT_FOUND_TEXT.encode() if form == "not_found" else b""


def _csv_block_deflated(plan: QueryPlan, idx: np.ndarray, delimiter: str, eol: str) -> tuple[bytes, int, int]:
    return deflate_block(csv_block(plan, idx, False, delimiter, eol))


def csv_page(plan: QueryPlan, idx: np.ndarray, delimiter: str = ",", eol: str = "\n",
             gzip: bool = False) -> Iterator[bytes]:
    """One result page (header + rows ``idx``) as CSV chunks, or as the pieces of one gzip stream
    when ``gzip``. Blocks are rendered (and compressed) ahead on worker threads (numpy, Arrow and
    zlib release the GIL) while the caller sends, at most PREFETCH blocks in memory. The bytes
    depend only on the rows, never on thread timing."""
    if not gzip:
        yield csv_block(plan, idx[:0], True, delimiter, eol)
        yield from _ahead(csv_block, plan, idx, False, delimiter, eol)
        return
    header = deflate_block(csv_block(plan, idx[:0], True, delimiter, eol))
    yield from gzip_stream(itertools.chain([header], _ahead(_csv_block_deflated, plan, idx, delimiter, eol)))


def _ahead(fn, plan: QueryPlan, idx: np.ndarray, *args):
    """``fn(plan, block, *args)`` for each RENDER_BLOCK rows of ``idx``, PREFETCH computed ahead."""
    pending: deque[Future] = deque()
    starts = iter(range(0, len(idx), RENDER_BLOCK))
    for start in itertools.islice(starts, PREFETCH):
        pending.append(_POOL.submit(fn, plan, idx[start:start + RENDER_BLOCK], *args))
    try:
        while pending:
            chunk = pending.popleft().result()
            following = next(starts, None)
            if following is not None:
                pending.append(_POOL.submit(fn, plan, idx[following:following + RENDER_BLOCK], *args))
            yield chunk
    finally:
        for future in pending:
            future.cancel()
