"""The benchmark's reference (the old approach) writes into tables of our physical design, as
Redshift's CREATE TABLE … (LIKE …) would: a ratio against index-free tables would be unfair."""

from __future__ import annotations

from sparkify_local.bench.merge import STAR_TABLES, create_reference_tables, drop_reference_tables
from sparkify_local.pipeline import LocalPipeline


def index_columns(pipeline: LocalPipeline, table: str) -> set[str]:
    rows = pipeline.warehouse.session().query(
        "SELECT regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes"
        " WHERE tablename = %(table)s",
        {"table": table},
    )
    return {row[0] for row in rows}


def test_old_approach_copies_carry_the_star_tables_keys(pipeline: LocalPipeline) -> None:
    # Given the old approach's empty copies of the star schema
    session = pipeline.warehouse.session()
    try:
        # When they are created with the physical keys they inherit
        create_reference_tables(session, "ref_")

        # Then each copy has an index on the same columns as each of its parent's
        for table in STAR_TABLES:
            assert index_columns(pipeline, f"ref_{table}") == index_columns(pipeline, table)
        assert index_columns(pipeline, "ref_songplays") == {
            "btree (start_time)",
            "btree (songplay_id)",
        }
    finally:
        drop_reference_tables(session, "ref_")
