"""Every non-public dask-sql name sf_assets uses still exists and still does what the engine relies on.

If this file fails after a dask-sql upgrade, adapt sf_assets/transform/dask_sql_internals.py (nothing else in the
package reaches a private name of dask-sql or Dask: `sf_assets_tests/test_private_apis.py`).
"""

import dask.dataframe as dd
import pandas as pd
import pytest
from dask_sql import Context, mappings

from sf_assets.transform import dask_sql_internals as internals

SQL = "SELECT UPPER(Name) AS upper_name, Name || '!' AS said FROM t WHERE Name LIKE 'a%' ORDER BY Name"


def _table() -> dd.DataFrame:
    names = pd.Series(["ab", "cd", None, "ax"], dtype=internals.ARROW_STRING)  # what staged text columns hold
    return dd.from_pandas(pd.DataFrame({"Name": names}), npartitions=2)


def test_arrow_string_columns_run_in_sql_only_once_registered():
    registered = mappings._PYTHON_TO_SQL.pop(internals.ARROW_STRING, None)  # as dask-sql ships it
    try:
        context = Context()
        context.create_table("t", _table())
        with pytest.raises(NotImplementedError, match="string"):  # a future dask-sql may know it: drop the guard
            context.sql(SQL)
        internals.register_arrow_strings_as_varchar()
        internals.register_arrow_strings_as_varchar()  # idempotent
        assert str(mappings.python_to_sql_type(internals.ARROW_STRING)) == "VARCHAR"
        context = Context()
        context.create_table("t", _table())
        result = context.sql(SQL, config_options={"sql.identifier.case_sensitive": False}).compute()
        assert result.to_dict("list") == {"upper_name": ["AB", "AX"], "said": ["ab!", "ax!"]}
    finally:
        if registered is not None:
            mappings._PYTHON_TO_SQL[internals.ARROW_STRING] = registered
