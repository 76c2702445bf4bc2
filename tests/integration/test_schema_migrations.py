"""A warehouse made by an earlier version gets the columns this one added when the schema is
applied, keeps its rows, and applying again changes nothing. On the real local PostgreSQL, in a
schema of its own (the shared stack's tables stay as they are)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from sparkify_loader.warehouse.base import Session
from sparkify_loader.warehouse.migrations import add_missing_columns, added_columns
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local.pipeline import LocalPipeline

OLD_SCHEMA = "made_by_an_earlier_version"


@pytest.fixture
def old_warehouse(pipeline: LocalPipeline) -> Iterator[PostgresWarehouse]:
    """The current schema in a PostgreSQL schema of its own, less every migrated column."""
    url = pipeline.endpoints.warehouse_url
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {OLD_SCHEMA}")
    options = quote(f"-c search_path={OLD_SCHEMA}")
    warehouse = PostgresWarehouse(f"{url}&options={options}", s3=pipeline.stack.warehouse_s3)
    session = warehouse.session()
    session.apply_schema()
    for table, column, _ in added_columns():
        session.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    yield warehouse
    warehouse.close()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {OLD_SCHEMA} CASCADE")


def _columns(session: Session, table: str) -> list[str]:
    return [
        name
        for (name,) in session.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %(table)s",
            {"table": table},
        )
    ]


def test_applying_the_schema_adds_the_columns_an_earlier_version_lacked(
    old_warehouse: PostgresWarehouse,
) -> None:
    # Given a warehouse of an earlier version holding a play
    session = old_warehouse.session()
    migrated = added_columns()
    assert migrated, "sql/schema/migrations adds no column"
    assert all(column not in _columns(session, table) for table, column, _ in migrated)
    session.execute(
        "INSERT INTO songplays (songplay_id, start_time, user_id, session_id, item_in_session)"
        " VALUES ('p1', TIMESTAMP '2018-11-01 00:00:00', 7, 1, 0)"
    )

    # When this version applies its schema
    session.apply_schema()

    # Then every table has every migrated column, and the play is still there
    assert all(column in _columns(session, table) for table, column, _ in migrated)
    assert session.query("SELECT songplay_id, user_id, source_load FROM songplays") == [
        ("p1", 7, None)
    ]
    # ... and a second application adds nothing
    with session.transaction():
        assert add_missing_columns(session) == []
