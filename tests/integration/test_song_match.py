"""The song match (sql/merge/fragments/song_match.sql) on the local PostgreSQL gives Redshift's
answer for trailing blanks: Redshift ignores them when it compares VARCHARs ("Trailing spaces in
VARCHAR and CHAR values are treated as semantically insignificant when values are compared",
AWS-DG Character types), PostgreSQL does not."""

from __future__ import annotations

import pytest

from sparkify_loader.sqlfiles import render_sql
from sparkify_loader.warehouse.postgres import PostgresWarehouse


def matches(warehouse: PostgresWarehouse, song: tuple, play: tuple) -> bool:
    """Whether the fragment matches one song row with one play row, as VARCHAR columns."""
    statement = (
        "SELECT COUNT(*) FROM"
        " (SELECT CAST(%(title)s AS VARCHAR(256)) AS title,"
        " CAST(%(artist)s AS VARCHAR(256)) AS artist_name,"
        " CAST(%(duration)s AS DOUBLE PRECISION) AS duration) AS s,"
        " (SELECT CAST(%(song)s AS VARCHAR(256)) AS song_title,"
        " CAST(%(play_artist)s AS VARCHAR(256)) AS artist_name,"
        " CAST(%(length)s AS DOUBLE PRECISION) AS song_length) AS p"
        f" WHERE {render_sql('merge/fragments/song_match.sql')}"
    )
    params = dict(zip(("title", "artist", "duration"), song, strict=True))
    params |= dict(zip(("song", "play_artist", "length"), play, strict=True))
    return warehouse.session().query(statement, params)[0][0] == 1


@pytest.mark.parametrize(
    ("song", "play", "expected"),
    [
        (("Song ", "Artist", 215.5), ("Song", "Artist", 215.5), True),
        (("Song", "Artist  ", 215.5), ("Song", "Artist", 215.5), True),
        ((" Song", "Artist", 215.5), ("Song", "Artist", 215.5), False),  # leading blanks count
        (("Song", "Artist", 215.5), ("song", "Artist", 215.5), False),
        (("Song", "Artist", 215.5), ("Song", "Artist", 215.501), False),
    ],
    ids=["title-trailing", "artist-trailing", "leading", "case", "millisecond"],
)
def test_trailing_blanks_do_not_count_in_the_song_match(
    warehouse: PostgresWarehouse, song: tuple, play: tuple, expected: bool
) -> None:
    # Given a song and a play that differ only as the case says
    # When the song match compares them on PostgreSQL
    matched = matches(warehouse, song, play)

    # Then it answers as Redshift does
    assert matched is expected
