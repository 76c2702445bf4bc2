"""Redshift's typing rules for ``COPY … FORMAT JSON``, twice: in SQL and in Python.

``Column`` renders them as SQL over ``json_to_record``'s text values: the general path, which
also diagnoses a bad line (field and reason). ``RowTyper`` applies them in Python, with msgspec,
to the lines they plainly hold for, and declines every other line to the SQL path. It never
rejects a line and never decides a doubtful case, so a declined line is typed, or rejected with
its reason, exactly as before. Why two: PostgreSQL's JSON parser was the local wall (issue 14's
profile: ``json_to_record`` and the guards took 3.3 s of the 5.6 s PostgreSQL spent typing 400k
events), and msgspec decodes the same lines into typed values in C several times faster.

What ``RowTyper`` accepts, each stored exactly as the SQL would store it:
- a JSON object (unknown keys ignored, missing keys NULL, the last of duplicate keys wins);
- for a text column: a non-empty string within its VARCHAR byte length, without ``\\u0000``;
- for an integer or TIMESTAMP column: an integer, or a string of ASCII digits, within the
  column's range (TIMESTAMP: epoch milliseconds where PostgreSQL's interval arithmetic is exact);
- for a DOUBLE PRECISION column: a finite normal number (not zero or subnormal: the same text
  may underflow, which PostgreSQL rejects, and the decoded value cannot tell);
- null, and for an integer or TIMESTAMP column the empty string (EMPTYASNULL), as NULL.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec.structs import astuple
from psycopg import sql

# TIMESTAMP values Redshift's COPY can hold, as epoch milliseconds: years 1 to 9999.
EPOCH_MS_MIN = -62_135_596_800_000
EPOCH_MS_MAX = 253_402_300_799_999
_INTEGER_TYPES = {"smallint": "smallint", "integer": "integer", "bigint": "bigint"}
_FLOAT_TYPES = {"double precision": "double precision", "real": "real"}


@dataclass(frozen=True)
class Column:
    name: str
    json_key: str
    data_type: str  # information_schema.columns.data_type
    max_bytes: int | None  # VARCHAR(n): n bytes, as Redshift counts

    def text(self) -> sql.Composable:
        """The raw JSON value as text, empty string as NULL (EMPTYASNULL)."""
        return sql.SQL("NULLIF(r.{}, '')").format(sql.Identifier(self.json_key))

    def typed(self) -> sql.Composable:
        """The value cast the way Redshift's COPY would store it."""
        if self.data_type.startswith("timestamp"):
            return sql.SQL("timestamp 'epoch' + {}::bigint * interval '1 millisecond'").format(
                self.text()
            )
        if self.data_type in _INTEGER_TYPES or self.data_type in _FLOAT_TYPES:
            return sql.SQL("{}::{}").format(self.text(), sql.SQL(self.data_type))
        return self.text()

    def guard(self) -> sql.Composable | None:
        """A row filter for the rules a PostgreSQL cast does not enforce (None: the cast does)."""
        if self.max_bytes is not None:
            return sql.SQL("COALESCE(octet_length({}) <= {}, true)").format(
                self.text(), sql.Literal(self.max_bytes)
            )
        if self.data_type.startswith("timestamp"):
            return sql.SQL("COALESCE({}::bigint BETWEEN {} AND {}, true)").format(
                self.text(), sql.Literal(EPOCH_MS_MIN), sql.Literal(EPOCH_MS_MAX)
            )
        if self.data_type in _FLOAT_TYPES:
            # NaN sorts above Infinity in PostgreSQL, so this keeps finite values only.
            return sql.SQL(
                "COALESCE({0}::float8 > '-Infinity'::float8 AND {0}::float8 < 'Infinity'::float8, "
                "true)"
            ).format(self.text())
        return None

    def problem(self) -> sql.Composable:
        """Why the value breaks the column's rule, or NULL; never raises (diagnosis path)."""
        value = self.text()
        if self.max_bytes is not None:
            return sql.SQL(
                "CASE WHEN octet_length({0}) > {1} THEN 'is ' || octet_length({0}) "
                "|| ' bytes, longer than VARCHAR(' || {1} || ')' END"
            ).format(value, sql.Literal(self.max_bytes))
        if self.data_type.startswith("timestamp"):
            return sql.SQL(
                "CASE WHEN NOT pg_input_is_valid({0}, 'bigint') "
                "THEN 'is not epoch milliseconds: ' "
                "|| (pg_input_error_info({0}, 'bigint')).message "
                "WHEN {0}::bigint NOT BETWEEN {1} AND {2} "
                "THEN 'is outside the TIMESTAMP range (years 1 to 9999)' END"
            ).format(value, sql.Literal(EPOCH_MS_MIN), sql.Literal(EPOCH_MS_MAX))
        if self.data_type in _INTEGER_TYPES or self.data_type in _FLOAT_TYPES:
            checks = sql.SQL(
                "CASE WHEN NOT pg_input_is_valid({0}, {1}) "
                "THEN (pg_input_error_info({0}, {1})).message"
            ).format(value, sql.Literal(self.data_type))
            if self.data_type in _FLOAT_TYPES:
                checks += sql.SQL(
                    " WHEN lower(btrim({0})) IN ('nan', 'infinity', '+infinity', '-infinity', "
                    "'inf', '+inf', '-inf') THEN 'is not a finite number'"
                ).format(value)
            return checks + sql.SQL(" END")
        return sql.SQL("NULL::text")


# The binary COPY type of each column type RowTyper produces (information_schema data_type).
_TEXT_COPY_TYPES = {"character varying": "varchar", "text": "text"}
_INTEGER_COPY_TYPES = {"smallint": "int2", "integer": "int4", "bigint": "int8"}
_TIMESTAMP = "timestamp without time zone"
# ``bigint * interval`` multiplies in float8: exact while the product in microseconds has at
# most 53 bits (years 1685 to 2255); beyond, the SQL path decides.
_EXACT_EPOCH_MS = 2**53 // 1000
# The integers each column takes from JSON (a TIMESTAMP's are epoch milliseconds).
_INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
    _TIMESTAMP: (-_EXACT_EPOCH_MS, _EXACT_EPOCH_MS),
}
# 2000-01-01, PostgreSQL's own epoch, in Unix epoch milliseconds.
_Y2K_EPOCH_MS = 946_684_800_000
# The longest digit string worth converting: bigint's range has 19 digits.
_MAX_DIGITS = 19
# PostgreSQL ignores JSON keys of NAMEDATALEN (64) bytes or more when it matches record fields.
_NAMEDATALEN = 64
_NUL_ESCAPE = b"\\u0000"
# A regular expression finds it faster than ``in`` in lines full of "\\/" (by 2x, measured).
_UNICODE_ESCAPE = re.compile(rb"\\u").search
_SMALLEST_NORMAL = sys.float_info.min
_TYPED = {*_TEXT_COPY_TYPES, *_INTEGER_RANGES, "double precision"}


class RowTyper:
    """Types one JSON line into a staging row the way ``Column``'s SQL would, or declines it.

    ``row`` runs once a line (400k times for a month of events), so its loops are inlined by
    column kind rather than calling a function a value.
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        """Only through ``for_columns``, which checks every column is within its rules."""
        fields: list[tuple[str, Any, Any]] = []
        self.copy_types: list[str] = []  # for the binary COPY of the rows, in column order
        # (position, characters below which no value can break the byte limit, the limit)
        self._texts: list[tuple[int, int, int]] = []
        # INTEGER and TIMESTAMP positions (digit strings allowed), with their ranges
        self._ranges: dict[int, tuple[int, int]] = {}
        self._timestamps: list[int] = []
        self._floats: list[int] = []
        for position, column in enumerate(columns):
            decoded: Any
            if column.data_type in _TEXT_COPY_TYPES:
                limit = column.max_bytes or sys.maxsize
                # msgspec declines in C the empty string (NULL: the SQL path stores it) and
                # more characters than the limit (more bytes); ``row`` measures the rest.
                decoded = Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]
                self._texts.append((position, limit // 4, limit))
                self.copy_types.append(_TEXT_COPY_TYPES[column.data_type])
            elif column.data_type in _INTEGER_RANGES:
                lowest, highest = _INTEGER_RANGES[column.data_type]
                # msgspec declines an integer out of range in C; digit strings are checked below.
                decoded = Annotated[int, msgspec.Meta(ge=lowest, le=highest)] | str
                self._ranges[position] = (lowest, highest)
                if column.data_type == _TIMESTAMP:
                    self._timestamps.append(position)
                # PostgreSQL's binary TIMESTAMP is an int64 of microseconds since 2000-01-01, the
                # same bytes as an int8 (its COPY checks lengths, not types): no datetime a row.
                self.copy_types.append(_INTEGER_COPY_TYPES.get(column.data_type, "int8"))
            else:  # double precision
                decoded = float
                self._floats.append(position)
                self.copy_types.append("float8")
            fields.append(
                (f"c{position}", decoded | None, msgspec.field(default=None, name=column.json_key))
            )
        self._integers = list(self._ranges)  # the hot loop's positions, without their ranges
        self._decode = msgspec.json.Decoder(msgspec.defstruct("StagingRow", fields)).decode

    @classmethod
    def for_columns(cls, columns: Sequence[Column]) -> RowTyper | None:
        """A typer for these columns, or None when one of them is beyond its rules (every line
        then takes the SQL path)."""
        keys = [column.json_key for column in columns]
        if len(set(keys)) != len(keys) or any(len(key.encode()) >= _NAMEDATALEN for key in keys):
            return None
        if not all(column.data_type in _TYPED for column in columns):
            return None
        return cls(columns)

    def row(self, line: bytes) -> list[Any] | None:
        """The line's typed values in column order, or None: the SQL path decides the line."""
        escaped = _UNICODE_ESCAPE(line) is not None
        if escaped and _NUL_ESCAPE in line:  # text cannot hold U+0000; json_to_record raises
            return None
        try:
            values = list(astuple(self._decode(line)))
        except msgspec.MsgspecError:  # not JSON, not an object, or a value of another type
            return None
        except RecursionError:  # nesting deeper than Python's stack, in a key no column reads
            return None
        if escaped or not line.isascii():
            # A character may take more bytes than one (an ASCII line without escapes decodes
            # to ASCII strings). UTF-8 takes at most 4 bytes a character.
            for position, safe_chars, limit in self._texts:
                text = values[position]
                if text is not None and len(text) > safe_chars and len(text.encode()) > limit:
                    return None
        for position in self._integers:
            number = values[position]
            if number.__class__ is str:
                if not number:
                    values[position] = None  # EMPTYASNULL
                    continue
                if len(number) > _MAX_DIGITS or not (number.isascii() and number.isdigit()):
                    return None  # a sign, spaces, underscores, hex: PostgreSQL's rules decide
                number = int(number)
                lowest, highest = self._ranges[position]
                if not lowest <= number <= highest:
                    return None
                values[position] = number
        for position in self._timestamps:
            epoch_ms = values[position]
            if epoch_ms is not None:
                values[position] = (epoch_ms - _Y2K_EPOCH_MS) * 1000
        for position in self._floats:
            real = values[position]
            if real is not None and not abs(real) >= _SMALLEST_NORMAL:
                return None  # zero or subnormal: the text may have underflowed
        return values
