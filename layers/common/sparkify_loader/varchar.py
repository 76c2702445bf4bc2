"""Strings meeting a VARCHAR column: Redshift sizes VARCHAR(n) in bytes, not characters.

"CHAR and VARCHAR data types are defined in terms of bytes, not characters" (Redshift Database
Developer Guide, Character types), so a text cut to n characters still overflows a VARCHAR(n) as
soon as it holds a multibyte character; PostgreSQL counts characters and would never show it.
"""

from __future__ import annotations

# load_ledger.error and merge_runs.error are both VARCHAR(4096), merge_runs.execution
# VARCHAR(256) (sql/schema); a unit test ties these to the schema files.
LEDGER_ERROR_BYTES = 4096
MERGE_RUN_ERROR_BYTES = 4096
MERGE_RUN_EXECUTION_BYTES = 256


def fit_varchar(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # A cut inside a multibyte sequence leaves an incomplete tail that "ignore" drops whole.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")
