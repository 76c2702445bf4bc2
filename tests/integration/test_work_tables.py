"""The merge builds each star table's rows in a work table (sql/schema/1x0_work_*.sql) and
publishes them with INSERT … SELECT by column name: a work table must hold every column of its
star table with the same type, or a column added to the star schema is silently never filled
(or a longer value is cut at publish). Only the merge's own bookkeeping may be extra."""

from __future__ import annotations

import pytest

from sparkify_local.pipeline import LocalPipeline

# Columns a work table has beyond its star table's: the merge that built the row, and (plays)
# how many events de-duplicated into it.
BOOKKEEPING = {
    "users": {"merge_id"},
    "songs": {"merge_id"},
    "artists": {"merge_id"},
    "time": {"merge_id"},
    "songplays": {"events"},
}


def columns(pipeline: LocalPipeline, table: str) -> dict[str, tuple]:
    rows = pipeline.warehouse.session().query(
        "SELECT column_name, data_type, character_maximum_length, numeric_precision"
        " FROM information_schema.columns WHERE table_name = %(table)s",
        {"table": table},
    )
    return {name: tuple(kind) for name, *kind in rows}


@pytest.mark.parametrize("table", sorted(BOOKKEEPING))
def test_a_work_table_has_its_star_tables_columns_and_types(
    pipeline: LocalPipeline, table: str
) -> None:
    star, work = columns(pipeline, table), columns(pipeline, f"work_{table}")
    assert star, f"no table {table}"
    assert {name: kind for name, kind in work.items() if name in star} == star
    assert set(work) - set(star) == BOOKKEEPING[table]
