"""Columns added to tables after they were first created, for warehouses made before.

``sql/schema`` creates what is missing with ``CREATE TABLE IF NOT EXISTS``, which leaves an
existing table as it is. Neither Redshift nor the statements both engines share have
``ADD COLUMN IF NOT EXISTS``, so each ``ALTER TABLE … ADD COLUMN`` of ``sql/schema/migrations``
runs only when the catalog says its table lacks the column: applying the schema stays
idempotent, and a warehouse of any earlier version ends with the columns of this one.
"""

from __future__ import annotations

import re

from sparkify_loader.sqlfiles import SqlTemplateError, render_sql, render_statements, sql_dir_files
from sparkify_loader.warehouse.base import Session

MIGRATIONS = "schema/migrations"
_ADD_COLUMN = re.compile(r"\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)\s", re.IGNORECASE)


def added_columns() -> list[tuple[str, str, str]]:
    """Each migration statement with the table and column it adds, in order."""
    statements = []
    for name in sql_dir_files(MIGRATIONS):
        for statement in render_statements(f"{MIGRATIONS}/{name}"):
            match = _ADD_COLUMN.match(statement)
            if match is None:
                raise SqlTemplateError(
                    f"{MIGRATIONS}/{name}: only ALTER TABLE … ADD COLUMN belongs there, "
                    f"not {statement.strip()[:60]!r}"
                )
            statements.append((match.group(1).lower(), match.group(2).lower(), statement))
    return statements


def add_missing_columns(session: Session) -> list[str]:
    """Add every migration column its table lacks (call inside the schema's transaction);
    return them as ``table.column``."""
    added = []
    for table, column, statement in added_columns():
        (present,) = session.query(
            render_sql("migrate/has_column.sql"), {"table": table, "column": column}
        )[0]
        if not present:
            session.execute(statement)
            added.append(f"{table}.{column}")
    return added
