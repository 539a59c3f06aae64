"""Bulk API 2.0 result pages as CSV, produced block by block."""
from __future__ import annotations

import io
import itertools
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .plan import QueryPlan
from .render import render_bulk

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
RENDER_BLOCK = 65536
PREFETCH = 3
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sf-emulator-render")


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


def csv_page(plan: QueryPlan, idx: np.ndarray, delimiter: str = ",", eol: str = "\n") -> Iterator[bytes]:
    """One result page (header + rows ``idx``) as CSV chunks; blocks are rendered ahead on worker
    threads (numpy/Arrow release the GIL) while the caller sends, at most PREFETCH blocks in memory."""
    yield csv_block(plan, idx[:0], True, delimiter, eol)
    pending: deque[Future[bytes]] = deque()
    starts = iter(range(0, len(idx), RENDER_BLOCK))
    for start in itertools.islice(starts, PREFETCH):
        pending.append(_POOL.submit(csv_block, plan, idx[start:start + RENDER_BLOCK], False, delimiter, eol))
    try:
        while pending:
            chunk = pending.popleft().result()
            start = next(starts, None)
            if start is not None:
                pending.append(_POOL.submit(csv_block, plan, idx[start:start + RENDER_BLOCK], False, delimiter, eol))
            yield chunk
    finally:
        for future in pending:
            future.cancel()
