"""The one SQL renderer: every file under sql/ renders with the slots the code gives it, and a
slot that is missing, unused or of the wrong kind fails before anything reaches a warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sparkify_loader import sqlfiles
from sparkify_loader.datasets import EVENTS
from sparkify_loader.sqlfiles import (
    BoundList,
    Fragment,
    Identifier,
    IdentifierList,
    QuotedLiteral,
    SqlTemplateError,
    all_sql_files,
    render_sql,
    render_statements,
)
from sparkify_loader.warehouse.redshift import render_copy
from tests.support.sql import real_renderings

ROLE = "arn:aws:iam::123456789012:role/sparkify-copy"
RENDERINGS = real_renderings()


@pytest.fixture
def sql_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """A scratch sql/ folder: ``write(text)`` puts a file there and returns its name."""
    monkeypatch.setattr(sqlfiles, "_SQL_ROOT", tmp_path)
    sqlfiles.sql_source.cache_clear()
    sqlfiles._parsed.cache_clear()
    written = iter(range(1_000))

    def write(text: str) -> str:
        name = f"scratch_{next(written)}.sql"
        (tmp_path / name).write_text(text, encoding="utf-8")
        return name

    yield write
    # The real tree must never be read through names cached from the scratch one.
    sqlfiles.sql_source.cache_clear()
    sqlfiles._parsed.cache_clear()


# -- Every file, with its real slots ------------------------------------------------------------


def test_every_sql_file_is_rendered_with_its_real_slots() -> None:
    # Given every SQL file under sql/
    # When the files are rendered as the code renders them (tests/support/sql.py)
    # Then none is missing: a new file must say what its slots are
    assert sorted(RENDERINGS) == all_sql_files()


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_a_rendered_file_has_no_brace_or_comment_left(name: str) -> None:
    # Given one file, rendered with the slots the code gives it
    statements = RENDERINGS[name]

    # When its statements are read
    # Then every slot was filled, no comment was sent, and nothing is empty
    for statement in statements:
        assert "{" not in statement and "}" not in statement, statement
        assert "--" not in statement.replace("it''s; --batch", ""), statement
        assert statement.strip() == statement and statement


# -- Slots -------------------------------------------------------------------------------------


def test_a_slot_in_the_file_without_a_value_fails_naming_file_and_slot() -> None:
    # Given a file with a {work_table} slot
    # When it is rendered without that slot / Then it fails naming both
    with pytest.raises(SqlTemplateError, match=r"merge/work/clear\.sql: .*work_table"):
        render_sql("merge/work/clear.sql")


def test_a_misspelt_slot_fails_instead_of_reaching_the_warehouse(
    sql_tree: Callable[[str], str],
) -> None:
    # Given a file whose slot is misspelt ({claimed_load}, not {claimed_loads})
    name = sql_tree("-- Claimed loads.\nSELECT load_id FROM ({claimed_load}) AS l")

    # When it is rendered with the slot the caller means
    # Then both halves of the mistake are named: the slot nobody gave, the one nobody used
    both = rf"{name}: no value given for slot\(s\) claimed_load; slot\(s\) claimed_loads given"
    with pytest.raises(SqlTemplateError, match=both):
        render_sql(name, claimed_loads=Fragment("merge/fragments/claimed_loads.sql"))


def test_a_slot_given_but_not_in_the_file_fails_naming_file_and_slot() -> None:
    # Given a file without slots
    # When it is rendered with one / Then it fails naming the file and the unused slot
    with pytest.raises(
        SqlTemplateError, match=r"merge/lease/read\.sql: slot\(s\) table given but not in the file"
    ):
        render_sql("merge/lease/read.sql", table=Identifier("users"))


@pytest.mark.parametrize(
    "name", ["users; DROP TABLE users", "Users", "user id", "", "1users", '"users"', "users--"]
)
def test_an_identifier_must_be_plain(name: str) -> None:
    # Given a name that is not one of our plain lower-case identifiers
    # When it is made an identifier slot / Then it is refused
    with pytest.raises(ValueError, match="not a plain identifier"):
        Identifier(name)


def test_an_identifier_list_checks_every_name() -> None:
    # Given a column list with one bad name / When it is made a slot / Then it is refused
    with pytest.raises(ValueError, match="not a plain identifier"):
        IdentifierList(("artist", "ts); DROP TABLE x; --"))


def test_a_literal_with_a_backslash_never_reaches_the_copy() -> None:
    # Given a manifest URI with a backslash, which Redshift would read as an escape
    # When the COPY is rendered / Then it is refused
    with pytest.raises(ValueError, match="backslash or NUL"):
        render_copy(
            EVENTS, manifest_uri="s3://b/a\\'x", copy_role_arn=ROLE, jsonpaths_uri="s3://b/j"
        )


def test_a_value_that_is_not_a_slot_kind_is_refused() -> None:
    # Given a plain string where a typed slot value belongs (its kind would be a guess)
    # When it is rendered / Then it is refused, naming the slot
    with pytest.raises(SqlTemplateError, match="slot work_table got a str"):
        render_sql("merge/work/analyze.sql", work_table="work_users")  # type: ignore[arg-type]


def test_bound_values_never_reach_the_text() -> None:
    # Given keys that look like SQL, slots and placeholders
    keys = BoundList("key", ["it's {keys}", "%(bucket)s", "a; DROP TABLE load_ledger"])

    # When the ledger lookup is rendered with them
    statement = render_sql(
        "stage/find_loaded_versions.sql", keys=keys, etags=BoundList("etag", ["e"])
    )

    # Then the text holds one placeholder per key and the keys are only parameters
    assert "key IN (%(key0)s, %(key1)s, %(key2)s)" in statement
    assert "DROP" not in statement and "it's" not in statement
    assert list(keys.params.values()) == list(keys.values)


def test_a_fragment_is_rendered_with_its_own_slots() -> None:
    # Given the batch plays fragment, which itself splices in the claimed loads
    batch_plays = RENDERINGS["merge/fragments/batch_plays.sql"][0]

    # When a file using it is rendered
    statement = RENDERINGS["merge/work/songplays.sql"][0]

    # Then the fragment is there whole, its own fragments included, comments of none
    assert f"FROM ({batch_plays}) AS p" in statement
    assert "FROM load_ledger\nWHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))" in statement
    assert "e.page = 'NextSong'" in statement and "--" not in statement
    assert "FROM load_ledger AS o" in statement  # replaced_files, two fragments down


def test_a_fragment_must_be_part_of_one_statement(sql_tree: Callable[[str], str]) -> None:
    # Given a "fragment" of two statements
    fragment = sql_tree("-- Two statements.\nSELECT 1; SELECT 2;")
    name = sql_tree("-- Uses it.\nSELECT * FROM ({part}) AS p")

    # When a file splices it in / Then it is refused
    with pytest.raises(SqlTemplateError, match="holds 2 statements"):
        render_sql(name, part=Fragment(fragment))


# -- Comments and literals ---------------------------------------------------------------------


def test_braces_in_comments_are_not_slots() -> None:
    # Given the ledger lookup, whose comment mentions {keys}
    assert "{keys} expands" in sqlfiles.sql_source("stage/find_loaded_versions.sql")

    # When it is rendered
    statement = render_sql(
        "stage/find_loaded_versions.sql",
        keys=BoundList("key", ["a"]),
        etags=BoundList("etag", ["e"]),
    )

    # Then the placeholder list is in the statement once, and the comments are not sent
    assert statement.count("%(key0)s") == 1
    assert statement.startswith("SELECT key, etag\nFROM load_ledger\n")
    assert "--" not in statement


def test_comments_are_left_out_and_so_are_their_own_lines(sql_tree: Callable[[str], str]) -> None:
    # Given comments on their own lines, after code, with quotes, braces and semicolons in them
    name = sql_tree(
        "-- Header {not_a_slot}; it's\n"
        "SELECT 'a -- b' AS kept, -- trailing; {x}\n"
        "    /* block; {y} */ 2 AS two\n"
        "  -- indented comment\n"
        "FROM t;\n"
    )

    # When it is rendered
    statement = render_sql(name)

    # Then the code is left as written, literals untouched, the comments' own lines gone
    assert statement == "SELECT 'a -- b' AS kept,\n     2 AS two\nFROM t"


def test_statements_split_at_semicolons_outside_literals_and_comments(
    sql_tree: Callable[[str], str],
) -> None:
    # Given a multi-statement file with semicolons in a literal, a quoted name and a comment
    name = sql_tree(
        "-- Three statements; really.\n"
        "INSERT INTO t VALUES ('a;b', 'it''s; fine');\n"
        'SELECT "odd;name" FROM t; -- done; or not\n'
        "DELETE FROM t\n"
    )

    # When its statements are rendered
    statements = render_statements(name)

    # Then there are exactly three, each literal whole
    assert statements == [
        "INSERT INTO t VALUES ('a;b', 'it''s; fine')",
        'SELECT "odd;name" FROM t',
        "DELETE FROM t",
    ]


def test_a_literal_value_is_never_scanned_for_slots_or_semicolons() -> None:
    # Given a manifest URI holding a brace, a semicolon, a comment mark and a quote
    uri = "s3://b/{copy_target}; -- it's"

    # When the COPY is rendered
    statement = render_copy(EVENTS, manifest_uri=uri, copy_role_arn=ROLE, jsonpaths_uri="s3://b/j")

    # Then it is one statement, and the value is one literal, as given
    assert f"FROM {QuotedLiteral(uri).sql}\n" in statement


def test_a_multi_statement_file_is_not_one_statement() -> None:
    # Given a file of several statements
    # When it is rendered as one / Then the caller is told to run each
    with pytest.raises(SqlTemplateError, match="render_statements"):
        render_sql("bench/seed_tables.sql", prefix=Identifier("seed_"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("SELECT 'open", "line 2: unterminated '"),
        ("SELECT 1 /* open", "line 2: unterminated /*"),
        ("SELECT '{}' || { x}", "line 2: a '{' that is not part of a {slot}"),
        ("SELECT 1 }", "line 2: a '}' that is not part of a {slot}"),
    ],
)
def test_malformed_text_is_refused_with_its_line(
    sql_tree: Callable[[str], str], text: str, problem: str
) -> None:
    # Given a file with an unterminated literal or comment, or a brace that is not a slot
    name = sql_tree(f"-- Malformed.\n{text}\n")

    # When it is rendered / Then the file and line are named
    with pytest.raises(SqlTemplateError, match=f"{name}, {problem}".replace("{", "\\{")):
        render_sql(name)
