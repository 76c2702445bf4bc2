"""The Redshift COPY of a batch, as SQL: the session-private copy target it loads into, the COPY
statement, and moving the rows into staging. Every value is a quoted literal, every name one of
our own identifiers (sql/stage/redshift)."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from sparkify_loader.sqlfiles import (
    Fragment,
    Identifier,
    IdentifierList,
    QuotedLiteral,
    render_sql,
    sql_source,
)

if TYPE_CHECKING:
    from sparkify_loader.datasets import Dataset

_COPY_COLUMNS = re.compile(r"COPY\s+\{copy_target\}\s*\(([^)]*)\)", re.IGNORECASE)
FAIL_ON_FIRST_BAD_ROW = Fragment("stage/redshift/fragments/fail_on_first_bad_row.sql")
DIAGNOSE_WITHOUT_LOADING = Fragment("stage/redshift/fragments/diagnose_without_loading.sql")


def copy_target(dataset: Dataset) -> str:
    """The session-private table a dataset's COPY loads into."""
    return Identifier(f"copy_{dataset.name}").name


@cache
def copy_columns(dataset: Dataset) -> tuple[str, ...]:
    """The staging columns COPY fills, in order, parsed from the dataset's COPY file.

    The COPY file's column list is the one source: the INSERT that moves rows into staging uses
    the same list, so the two cannot disagree.
    """
    match = _COPY_COLUMNS.search(sql_source(dataset.copy_statement))
    if match is None:
        raise ValueError(f"{dataset.copy_statement} has no column list after COPY {{copy_target}}")
    columns = tuple(column.strip() for column in match.group(1).split(",") if column.strip())
    return IdentifierList(columns).names


def render_copy(
    dataset: Dataset,
    *,
    manifest_uri: str,
    copy_role_arn: str,
    jsonpaths_uri: str | None = None,
    noload: bool = False,
) -> str:
    """The dataset's COPY statement with every value as a quoted literal.

    ``noload`` renders the diagnostic run: it checks every file without loading a row and
    tolerates every bad row, so the load errors name every bad file.
    """
    if dataset.jsonpaths_file and jsonpaths_uri is None:
        raise ValueError(f"dataset {dataset.name!r} needs the S3 URI of its JSONPaths file")
    jsonpaths = {} if jsonpaths_uri is None else {"jsonpaths_uri": QuotedLiteral(jsonpaths_uri)}
    return render_sql(
        dataset.copy_statement,
        copy_target=Identifier(copy_target(dataset)),
        manifest_uri=QuotedLiteral(manifest_uri),
        copy_role_arn=QuotedLiteral(copy_role_arn),
        bad_rows=DIAGNOSE_WITHOUT_LOADING if noload else FAIL_ON_FIRST_BAD_ROW,
        **jsonpaths,
    )


def create_copy_target_sql(dataset: Dataset) -> str:
    return render_sql(
        "stage/redshift/create_copy_target.sql",
        copy_target=Identifier(copy_target(dataset)),
        staging_table=Identifier(dataset.staging_table),
    )


def insert_from_copy_target_sql(dataset: Dataset) -> str:
    """Moves the copied rows into staging; binds ``load_id`` and ``file_no``."""
    return render_sql(
        "stage/redshift/insert_from_copy_target.sql",
        staging_table=Identifier(dataset.staging_table),
        columns=IdentifierList(copy_columns(dataset)),
        copy_target=Identifier(copy_target(dataset)),
    )


def drop_copy_target_sql(dataset: Dataset) -> str:
    return render_sql(
        "stage/redshift/drop_copy_target.sql", copy_target=Identifier(copy_target(dataset))
    )
