"""SQL is data: every statement is a file under ``sql/``, loaded by name and rendered strictly.

A file marks what the caller fills in as ``{slot}``, and the caller passes one typed value per
slot, so the kind of each is explicit: an ``Identifier`` or ``IdentifierList`` (our own
constants, validated), a ``Fragment`` (another SQL file, rendered with its own slots), a
``BoundList`` or ``BoundRows`` (placeholders only: the values travel as bound parameters) or a
``QuotedLiteral``. A slot the file has but the caller did not give, or one given that the file
does not have, is an error naming the file and the slot, so a misspelt slot never reaches the
warehouse as text. Comments are not rendered, and string literals and quoted identifiers are
never looked into: a brace or a semicolon there means nothing.

The files are Redshift dialect restricted to what PostgreSQL 15+ also runs. The one exception is
Redshift's physical design (DISTSTYLE, DISTKEY, SORTKEY, ENCODE, IDENTITY), which ``to_postgres``
rewrites; a sort key becomes an index, the closest PostgreSQL has to a zone-mapped sort order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

T = TypeVar("T")

_SQL_ROOT = Path(str(resources.files("sparkify_loader") / "sql"))

# Our own table and column names: lower case, so they never need quoting on either engine.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_PARAMETER_PREFIX = re.compile(r"[A-Za-z_]\w*")
# One left-to-right pass: whichever starts first wins, so a quote inside a comment and a "--"
# inside a literal are both inert. An opening quote or "/*" that matched no whole token is
# unterminated.
_TOKEN = re.compile(
    r"""
      (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<unterminated>['"]|/\*)
    | \{(?P<slot>[A-Za-z_]\w*)\}
    | (?P<brace>[{}])
    | (?P<end>;)
    """,
    re.VERBOSE | re.DOTALL,
)

_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_SORTKEY = re.compile(r"\s*(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY\s*\(([^)]*)\)", re.IGNORECASE)
_DISTSTYLE = re.compile(r"\s*DISTSTYLE\s+(?:EVEN|ALL|KEY|AUTO)\b", re.IGNORECASE)
_TABLE_DISTKEY = re.compile(r"^\s*DISTKEY\s*\(([^)]*)\)", re.IGNORECASE | re.MULTILINE)
_DISTKEY = re.compile(r"\s*\bDISTKEY\b(?:\s*\([^)]*\))?", re.IGNORECASE)
_ENCODE = re.compile(r"\s+ENCODE\s+\w+", re.IGNORECASE)
_IDENTITY = re.compile(r"\bIDENTITY\s*\(\s*\d+\s*,\s*\d+\s*\)", re.IGNORECASE)


# redshift-connector 2.2.0 refuses a statement with more bind parameters than this before it
# sends anything (``Connection.execute``, core.py:1813: DataError "Prepared statement exceeds
# bind parameter limit 32767"); psycopg allows 65,535, so only this limit matters.
MAX_BIND_PARAMETERS = 32_767


def bind_chunks(
    values: Sequence[T], params_per_value: int, *, other_params: int = 0
) -> Iterator[Sequence[T]]:
    """``values`` in consecutive chunks small enough that a statement binding
    ``params_per_value`` parameters per value plus ``other_params`` stays within the driver's
    limit (MAX_BIND_PARAMETERS)."""
    size = (MAX_BIND_PARAMETERS - other_params) // params_per_value
    if size < 1:
        raise ValueError(f"{params_per_value} parameters per value never fit one statement")
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SqlTemplateError(ValueError):
    """A SQL file and the slots given for it do not fit together."""


# -- Slot kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identifier:
    """One of our own table or column names (never user input), written as is."""

    name: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(f"not a plain identifier: {self.name!r}")

    @property
    def sql(self) -> str:
        return self.name


@dataclass(frozen=True)
class IdentifierList:
    """Several of our own column names, comma-separated, in order."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("an identifier list needs at least one name")
        for name in self.names:
            Identifier(name)

    @property
    def sql(self) -> str:
        return ", ".join(self.names)


@dataclass(frozen=True)
class QuotedLiteral:
    """A string value as a Redshift literal: wrapped in single quotes, each ``'`` doubled.

    Redshift treats a backslash inside a literal as an escape character, and a NUL cannot be
    sent at all; rather than guess at escaping rules, such values are refused.
    """

    value: str

    def __post_init__(self) -> None:
        if "\\" in self.value or "\x00" in self.value:
            raise ValueError(f"refusing to quote a value with a backslash or NUL: {self.value!r}")

    @property
    def sql(self) -> str:
        return "'" + self.value.replace("'", "''") + "'"


@dataclass(frozen=True)
class BoundList:
    """Placeholders for a variable-length list (``IN (…)``): ``%(key0)s, %(key1)s, …``.

    Only the number of placeholders reaches the SQL text; the values go to the driver as
    ``params``, which the caller passes with the statement.
    """

    prefix: str
    values: Sequence[object]

    def __post_init__(self) -> None:
        if not _PARAMETER_PREFIX.fullmatch(self.prefix):
            raise ValueError(f"not a parameter name prefix: {self.prefix!r}")
        if not self.values:
            raise ValueError(f"bound list {self.prefix!r} is empty: IN () is not SQL")

    @property
    def names(self) -> list[str]:
        return [f"{self.prefix}{index}" for index in range(len(self.values))]

    @property
    def sql(self) -> str:
        return ", ".join(f"%({name})s" for name in self.names)

    @property
    def params(self) -> dict[str, object]:
        return dict(zip(self.names, self.values, strict=True))


@dataclass(frozen=True)
class BoundRows:
    """Placeholders for a multi-row VALUES list, ``(%(v0_0)s, …), (%(v1_0)s, …)``; the values
    go to the driver as ``params``. The ``_`` keeps row 1 column 11 apart from row 11 column 1."""

    prefix: str
    rows: Sequence[Sequence[object]]

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"bound rows {self.prefix!r} are empty: VALUES needs a row")
        self._row_lists()  # validates the prefix and every row

    def _row_lists(self) -> list[BoundList]:
        return [BoundList(f"{self.prefix}{index}_", row) for index, row in enumerate(self.rows)]

    @property
    def sql(self) -> str:
        return ", ".join(f"({row.sql})" for row in self._row_lists())

    @property
    def params(self) -> dict[str, object]:
        return {name: value for row in self._row_lists() for name, value in row.params.items()}


@dataclass(frozen=True)
class Fragment:
    """Another SQL file spliced in whole (part of one statement), rendered with its own slots."""

    file: str
    slots: Mapping[str, Slot] = field(default_factory=dict)


Slot = Identifier | IdentifierList | QuotedLiteral | BoundList | BoundRows | Fragment
SLOT_KINDS = (Identifier, IdentifierList, QuotedLiteral, BoundList, BoundRows, Fragment)


# -- Files --------------------------------------------------------------------------------------


def sql_path(name: str) -> Path:
    """Path of a file under sql/, e.g. ``schema/030_load_ledger.sql``."""
    path = _SQL_ROOT / name
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {name!r} under {_SQL_ROOT}")
    return path


@cache
def sql_source(name: str) -> str:
    """A SQL file exactly as written, to read facts from (never to run: ``render_sql`` is)."""
    return sql_path(name).read_text(encoding="utf-8")


def sql_dir_files(folder: str) -> list[str]:
    """The .sql file names of one folder under sql/, sorted."""
    return sorted(path.name for path in (_SQL_ROOT / folder).glob("*.sql"))


def all_sql_files() -> list[str]:
    """Every .sql file under sql/, as the names ``render_sql`` takes."""
    return sorted(path.relative_to(_SQL_ROOT).as_posix() for path in _SQL_ROOT.rglob("*.sql"))


# -- Rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    """Rendered SQL is a list of pieces, so that splitting statements after rendering still
    knows which text is a literal (a semicolon inside one is not a statement's end)."""

    kind: Literal["sql", "quoted", "slot", "end"]
    text: str


@cache
def _parsed(name: str) -> tuple[_Piece, ...]:
    """The file as pieces, comments dropped (a line that held only a comment goes with it)."""
    text = sql_source(name)
    pieces: list[_Piece] = []
    pending = ""
    position = 0
    for match in _TOKEN.finditer(text):
        pending += text[position : match.start()]
        position = match.end()
        kind = match.lastgroup
        if kind == "comment":
            if position == len(text) or text[position] == "\n":
                pending = pending.rstrip(" \t")
                if pending.endswith("\n") or not (pending or pieces):
                    position += 1  # the comment had its line to itself: the line goes too
            continue
        if kind in ("unterminated", "brace"):
            line = text.count("\n", 0, match.start()) + 1
            problem = (
                f"unterminated {match.group()}"
                if kind == "unterminated"
                else f"a {match.group()!r} that is not part of a {{slot}}"
            )
            raise SqlTemplateError(f"{name}, line {line}: {problem}")
        if pending:
            pieces.append(_Piece("sql", pending))
            pending = ""
        if kind == "quoted":
            pieces.append(_Piece("quoted", match.group()))
        elif kind == "slot":
            pieces.append(_Piece("slot", match.group("slot")))
        else:
            pieces.append(_Piece("end", ";"))
    pending += text[position:]
    if pending:
        pieces.append(_Piece("sql", pending))
    return tuple(pieces)


def _rendered(name: str, slots: Mapping[str, Slot]) -> list[_Piece]:
    pieces = _parsed(name)
    in_file = {piece.text for piece in pieces if piece.kind == "slot"}
    # Both lists at once: a misspelt slot is usually one of each.
    problems = []
    if missing := sorted(in_file - slots.keys()):
        problems.append(f"no value given for slot(s) {', '.join(missing)}")
    if unused := sorted(slots.keys() - in_file):
        problems.append(f"slot(s) {', '.join(unused)} given but not in the file")
    if problems:
        raise SqlTemplateError(f"{name}: {'; '.join(problems)}")
    rendered: list[_Piece] = []
    for piece in pieces:
        if piece.kind != "slot":
            rendered.append(piece)
            continue
        value = slots[piece.text]
        if isinstance(value, Fragment):
            statements = _statements(_rendered(value.file, value.slots))
            if len(statements) != 1:
                raise SqlTemplateError(
                    f"{name}: fragment {value.file} for slot {piece.text} holds "
                    f"{len(statements)} statements, not part of one"
                )
            rendered.extend(statements[0])
        elif isinstance(value, QuotedLiteral):
            rendered.append(_Piece("quoted", value.sql))
        elif isinstance(value, SLOT_KINDS):
            rendered.append(_Piece("sql", value.sql))
        else:
            raise SqlTemplateError(
                f"{name}: slot {piece.text} got a {type(value).__name__}, not one of "
                + ", ".join(kind.__name__ for kind in SLOT_KINDS)
            )
    return rendered


def _statements(pieces: Sequence[_Piece]) -> list[list[_Piece]]:
    """Pieces grouped into statements at each semicolon outside literals; edges trimmed, empty
    statements (a trailing semicolon, a file's blank end) left out."""
    statements: list[list[_Piece]] = [[]]
    for piece in pieces:
        if piece.kind == "end":
            statements.append([])
        else:
            statements[-1].append(piece)
    trimmed: list[list[_Piece]] = []
    for statement in statements:
        while statement and statement[0].kind == "sql" and not statement[0].text.strip():
            statement.pop(0)
        while statement and statement[-1].kind == "sql" and not statement[-1].text.strip():
            statement.pop()
        if not statement:
            continue
        if statement[0].kind == "sql":
            statement[0] = _Piece("sql", statement[0].text.lstrip())
        if statement[-1].kind == "sql":
            statement[-1] = _Piece("sql", statement[-1].text.rstrip())
        trimmed.append(statement)
    return trimmed


def render_statements(name: str, /, **slots: Slot) -> list[str]:
    """Every statement of a SQL file, in order, its slots filled and its comments left out."""
    return [
        "".join(piece.text for piece in statement)
        for statement in _statements(_rendered(name, slots))
    ]


def render_sql(name: str, /, **slots: Slot) -> str:
    """The one statement of a SQL file, its slots filled and its comments left out."""
    statements = render_statements(name, **slots)
    if len(statements) != 1:
        raise SqlTemplateError(
            f"{name} holds {len(statements)} statements: render_statements runs each"
        )
    return statements[0]


# -- Schema -------------------------------------------------------------------------------------


def schema_files() -> list[str]:
    """The schema files in the order they are applied (their numeric prefix)."""
    return sorted(f"schema/{path.name}" for path in (_SQL_ROOT / "schema").glob("*.sql"))


def schema_tables() -> list[str]:
    """The names of the tables sql/schema creates, in creation order."""
    return [
        match.group(1)
        for name in schema_files()
        if (match := _CREATE_TABLE.search(render_sql(name))) is not None
    ]


def to_postgres(statement: str) -> list[str]:
    """Rewrite one Redshift DDL statement into the PostgreSQL statements it stands for.

    Distribution and encoding clauses are dropped (PostgreSQL has one node and its own storage);
    IDENTITY becomes a generated identity. The physical keys become indexes, the closest
    PostgreSQL access paths: a SORTKEY (range scans, Redshift's zone maps) and a table-level
    DISTKEY (the column joins and upserts look rows up by) each get an index on their columns.
    Everything else passes unchanged, so DML runs identically on both engines.
    """
    keys = {"sortkey": _SORTKEY.search(statement), "distkey": _TABLE_DISTKEY.search(statement)}
    rewritten = _SORTKEY.sub("", statement)
    rewritten = _DISTSTYLE.sub("", rewritten)
    rewritten = _DISTKEY.sub("", rewritten)
    rewritten = _ENCODE.sub("", rewritten)
    rewritten = _IDENTITY.sub("GENERATED BY DEFAULT AS IDENTITY", rewritten)
    statements = [rewritten.rstrip()]
    table = _CREATE_TABLE.search(statement)
    for kind, key in keys.items():
        if key and table:
            columns = ", ".join(column.strip() for column in key.group(1).split(","))
            name = table.group(1)
            statements.append(f"CREATE INDEX IF NOT EXISTS {name}_{kind} ON {name} ({columns})")
    return statements
