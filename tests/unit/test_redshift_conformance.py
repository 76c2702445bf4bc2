"""Redshift conformance, offline: every statement the code can send to Redshift, rendered with the
slots the code really gives it (tests/support/sql.py), parses with sqlglot's ``redshift``
dialect and keeps the Redshift rules the design relies on.

sqlglot cannot parse a few valid Redshift statements we send; each is handled by one narrow,
named rule below (``_COMMANDS``, ``_check_copy``), never by leaving a file out silently.
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from tests.support.sql import real_renderings

RENDERINGS = real_renderings()

# Files that never reach Redshift, each with the reason.
NOT_SENT_TO_REDSHIFT = {
    # `sparkify bench` measures the old approach against the local warehouse only.
    "bench/seed_tables.sql": "local benchmark",
    "bench/seed_insert.sql": "local benchmark",
    "bench/seed_drop.sql": "local benchmark",
    **{
        f"bench/{name}.sql": "local benchmark: scratch tables, settling and the raw-COPY reference"
        for name in (
            "append_table",
            "checkpoint",
            "copy_from_stdin",
            "copy_table",
            "count_rows",
            "create_logged_like",
            "create_temp_like",
            "drop_table",
            "export_rows",
            "show_setting",
            "truncate_table",
            "vacuum_analyze",
        )
    },
    "local/reset_tables.sql": "local warehouse only: tests and benchmarks start from empty tables",
}
# Parts of statements, checked inside every statement that splices them in.
FRAGMENT_FOLDER = "/fragments/"
# Statements the engine builds inline rather than from a file (RedshiftSession.ping).
INLINE_STATEMENTS = ["SELECT 1"]

# sqlglot 30.30 falls back to an opaque Command for these valid Redshift statements (LOCK is in
# its Postgres tokenizer's COMMANDS; GRANT … TO ROLE and CREATE ROLE are Redshift RBAC it does
# not model): each must match its Redshift grammar (AWS-DG r_LOCK, r_GRANT, r_CREATE_ROLE).
_IDENT = r"[a-z_][a-z0-9_]*"
_COMMANDS = (
    re.compile(rf"LOCK (?:TABLE )?{_IDENT}(?:, {_IDENT})*"),
    re.compile(rf"CREATE ROLE {_IDENT}"),
    re.compile(
        rf"GRANT (?:(?:SELECT|INSERT|UPDATE|DELETE)(?:, )?)+ ON (?:TABLE )?{_IDENT}"
        rf"(?:, {_IDENT})* TO ROLE {_IDENT}"
    ),
    re.compile(
        rf"GRANT (?:ANALYZE|TRUNCATE TABLE)(?:, (?:ANALYZE|TRUNCATE TABLE))* TO ROLE {_IDENT}"
    ),
)
# COPY parses as exp.Copy, but sqlglot mis-pairs Redshift's COPY options (MANIFEST=FORMAT, …), so
# its tree says nothing about them: our COPY's clause sequence is checked on the text instead.
_QUOTED = r"'(?:[^']|'')*'"
_COPY_SHAPE = re.compile(
    rf"COPY copy_\w+ \( [a-z_, ]+ \) FROM {_QUOTED} IAM_ROLE {_QUOTED} MANIFEST "
    rf"FORMAT AS JSON {_QUOTED}(?: TIMEFORMAT 'epochmillisecs')? EMPTYASNULL COMPUPDATE OFF "
    r"STATUPDATE OFF MAXERROR \d+(?: NOLOAD)?"
)
# Not in a transaction block on Redshift (AWS-DG: "can't run … within a transaction block"), or
# TRUNCATE, which commits the transaction it runs in.
_NOT_IN_TRANSACTION = re.compile(
    r"^\s*(?:VACUUM|TRUNCATE|CREATE\s+(?:DATABASE|EXTERNAL|LIBRARY)|DROP\s+(?:DATABASE|LIBRARY)"
    r"|ALTER\s+DATABASE|ALTER\s+TABLE\s+\w+\s+(?:APPEND|ALTER\s+COLUMN))\b",
    re.IGNORECASE,
)
# PostgreSQL-only syntax, looked for outside string literals.
_POSTGRES_ONLY_TEXT = re.compile(
    r"::|\bDISTINCT\s+ON\b|\bON\s+CONFLICT\b|\bjsonb\b|\bRETURNING\b|\bFILTER\s*\(",
    re.IGNORECASE,
)
_POSTGRES_ONLY_FUNCTIONS = {
    "GENERATE_SERIES",
    "EXPLODING_GENERATE_SERIES",  # sqlglot's name for generate_series in FROM
    "JSON_TO_RECORD",
    "JSON_POPULATE_RECORD",
    "ARRAY_AGG",
    "STRING_AGG",
    "UNNEST",
    "REGEXP_MATCHES",
    "PG_ADVISORY_XACT_LOCK",
    "PG_ADVISORY_LOCK",
}
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def redshift_statements() -> list[tuple[str, str]]:
    """(file, statement) for every statement the code can send to Redshift."""
    statements = [("<inline>", statement) for statement in INLINE_STATEMENTS]
    for name, rendered in sorted(RENDERINGS.items()):
        if name in NOT_SENT_TO_REDSHIFT or FRAGMENT_FOLDER in f"/{name}":
            continue
        statements += [(name, statement) for statement in rendered]
    return statements


STATEMENTS = redshift_statements()


def one_line(statement: str) -> str:
    return " ".join(statement.split())


def test_every_file_is_sent_or_named_as_not_sent() -> None:
    # Given every SQL file the code renders
    # When those checked here are set against those left out with a reason
    checked = {name for name, _ in STATEMENTS}
    fragments = {name for name in RENDERINGS if FRAGMENT_FOLDER in f"/{name}"}

    # Then nothing fell through the cracks, and every fragment is spliced into a checked statement
    assert set(RENDERINGS) - checked - fragments == set(NOT_SENT_TO_REDSHIFT)
    for fragment in fragments:
        assert any(
            one_line(RENDERINGS[fragment][0]) in one_line(statement) for _, statement in STATEMENTS
        ), fragment


@pytest.mark.parametrize(("name", "statement"), STATEMENTS, ids=[name for name, _ in STATEMENTS])
def test_statement_parses_as_redshift_and_keeps_its_rules(name: str, statement: str) -> None:
    # Given one statement as the code sends it (from file `name`)
    # When sqlglot parses it in the redshift dialect (a ParseError fails the test)
    # Then it keeps every Redshift rule we rely on
    assert_redshift_conformant(statement)


def assert_redshift_conformant(statement: str) -> None:
    text = one_line(statement)
    tree = sqlglot.parse_one(statement, read="redshift")
    # An opaque Command is one of the named Redshift grammars sqlglot does not model
    if isinstance(tree, exp.Command):
        assert any(grammar.fullmatch(text) for grammar in _COMMANDS), text
    # ... our COPY has its clauses in Redshift's order
    if isinstance(tree, exp.Copy):
        assert _COPY_SHAPE.fullmatch(text), text
    # ... a MERGE has Redshift's one shape
    if isinstance(tree, exp.Merge):
        check_merge(tree)
    # ... it can run inside the stage's or a merge step's transaction
    assert not _NOT_IN_TRANSACTION.match(text), text
    # ... and nothing PostgreSQL-only is in it
    outside_literals = _LITERAL.sub("''", text)
    assert not _POSTGRES_ONLY_TEXT.search(outside_literals), outside_literals
    functions = {
        (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()
        for node in tree.find_all(exp.Func)
    }
    assert not functions & _POSTGRES_ONLY_FUNCTIONS
    for data_type in tree.find_all(exp.DataType):
        assert data_type.this not in {
            exp.DataType.Type.JSON,
            exp.DataType.Type.JSONB,
            exp.DataType.Type.ARRAY,
        }, text
    assert not any(distinct.args.get("on") for distinct in tree.find_all(exp.Distinct))


def check_merge(tree: exp.Merge) -> None:
    """AWS-DG r_MERGE: exactly one WHEN MATCHED and one WHEN NOT MATCHED, neither with a
    condition; the source a table (not a subquery); no WITH clause."""
    whens = tree.args["whens"].expressions
    assert [bool(when.args.get("matched")) for when in whens] == [True, False]
    assert not any(when.args.get("condition") for when in whens)
    assert isinstance(tree.args["using"], exp.Table), tree.args["using"]
    assert not tree.args.get("with")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO t SELECT DISTINCT ON (a) a FROM s",
        "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
        "SELECT a::jsonb FROM t",
        "SELECT * FROM generate_series(1, 3) AS g",
        "VACUUM staging_events",
        "TRUNCATE staging_events",
        "MERGE INTO t USING (SELECT 1 AS id) AS s ON t.id = s.id WHEN MATCHED THEN DELETE "
        "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)",
    ],
    ids=[
        "distinct-on",
        "on-conflict",
        "jsonb-cast",
        "generate-series",
        "vacuum",
        "truncate",
        "merge-subquery",
    ],
)
def test_the_rules_catch_what_redshift_refuses(statement: str) -> None:
    # Given a statement Redshift refuses or that cannot run in a transaction block
    # When it is checked / Then a rule fails it
    with pytest.raises(AssertionError):
        assert_redshift_conformant(statement)
