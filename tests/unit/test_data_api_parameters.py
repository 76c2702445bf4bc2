"""Our SQL files' pyformat statements, as the Redshift Data API takes them: ``:name``
placeholders and string values of at least one character (its SqlParameter shape)."""

from __future__ import annotations

import pytest

from sparkify_local.operate.data_api import named_parameters
from sparkify_local.operate.errors import DataApiError


def test_placeholders_become_named_and_values_strings() -> None:
    sql, parameters = named_parameters(
        "SELECT key FROM load_ledger WHERE bucket = %(bucket)s AND key LIKE 'a%%'"
        " AND rows > %(rows)s AND bucket <> %(bucket)s",
        {"bucket": "landing", "rows": 3, "unused": "x"},
    )
    assert sql == (
        "SELECT key FROM load_ledger WHERE bucket = :bucket AND key LIKE 'a%'"
        " AND rows > :rows AND bucket <> :bucket"
    )
    # Each name once, only the names the statement uses (the API refuses unreferenced ones).
    assert parameters == [{"name": "bucket", "value": "landing"}, {"name": "rows", "value": "3"}]


@pytest.mark.parametrize("value", [None, ""])
def test_a_value_the_api_cannot_bind_is_refused_before_the_call(value: object) -> None:
    with pytest.raises(DataApiError, match="parameter 'bucket' is empty or NULL"):
        named_parameters("SELECT 1 WHERE %(bucket)s IS NULL", {"bucket": value})
