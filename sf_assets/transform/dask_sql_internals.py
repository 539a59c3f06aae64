"""Every dask-sql name outside its public API that sf_assets relies on, in one place.

dask-sql 2024.5 has no public way to give a pandas dtype a SQL type: its table of Python → SQL types
(`mappings._PYTHON_TO_SQL`, keyed by dtype, valued by `_datafusion_lib.SqlTypeName`) knows python-backed
strings only, and `Context.create_table` refuses Arrow-backed ones ("The python type string is not
implemented"). The staged tables hold Arrow-backed strings (`transform.dask_input`), so that dtype is added to
the table here. `sf_assets_tests/transform/test_dask_sql_internals.py` fails when an upgrade moves or changes it
(or makes it unnecessary); `sf_assets_tests/test_private_apis.py` fails when another module reaches a private
name of dask-sql, Dask or distributed.
"""

from __future__ import annotations

import pandas as pd
from dask_sql import mappings
from dask_sql._datafusion_lib import SqlTypeName

ARROW_STRING = pd.StringDtype("pyarrow")


def register_arrow_strings_as_varchar() -> None:
    """Let dask-sql type Arrow-backed string columns as VARCHAR (pandas string operations work on them as on
    python-backed ones); idempotent."""
    mappings._PYTHON_TO_SQL.setdefault(ARROW_STRING, SqlTypeName.VARCHAR)
