"""Hostile keys and values travel through S3 notifications, the stage handler and SQL intact:
every key loads under its exact name, and SQL in a value is stored as text."""

from __future__ import annotations

import json
from pathlib import Path

from sparkify_loader.sqlfiles import schema_tables
from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import write

HOSTILE_NAMES = [
    "it's.json",
    'say "hi".json',
    "two words.json",
    "a+b.json",
    "%41.json",
    "100%.json",
    "café.json",
    "日本.json",
    "🎸 riff.json",
    "back\\slash.json",
    "semi;colon -- dash.json",
    "'; DROP TABLE load_ledger; --.json",
]
INJECTION = "'; DROP TABLE staging_songs; --"


def song(song_id: str, **overrides: object) -> str:
    return json.dumps(
        {
            "num_songs": 1,
            "artist_id": "ARHOSTILE",
            "artist_latitude": None,
            "artist_longitude": None,
            "artist_location": "",
            "artist_name": "Hostile",
            "song_id": song_id,
            "title": "Title",
            "duration": 1.5,
            "year": 2001,
        }
        | overrides
    )


def test_hostile_keys_are_staged_under_their_exact_key(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given song files whose names hold quotes, spaces, '+', '%', non-ASCII and emoji
    expected = {}
    for index, name in enumerate(HOSTILE_NAMES):
        write(tmp_path / "song_data" / "hostile dir's" / name, song(f"SOHOSTILE{index}"))
        expected[f"song_data/hostile dir's/{name}"] = f"SOHOSTILE{index}"

    # When they are loaded through the bucket notifications
    summary = pipeline.load([tmp_path / "song_data"], progress=False)

    # Then each is staged, and the ledger key is the exact original key (decoded, not re-encoded)
    assert summary.ok, summary.render()
    session = pipeline.warehouse.session()
    ledger = dict(session.query("SELECT key, status FROM load_ledger"))
    assert ledger == dict.fromkeys(expected, "staged")
    assert "song_data/hostile dir's/%41.json" in ledger  # %41 stays %41, not "A"
    assert "song_data/hostile dir's/a+b.json" in ledger  # + stays +, not a space
    # ... and every file's row arrived
    staged = {row[0] for row in session.query("SELECT song_id FROM staging_songs")}
    assert staged == set(expected.values())


HOSTILE_VALUES = [
    INJECTION,
    "Robert'); DROP TABLE load_ledger;--",
    "%(load_id)s",
    "back\\slash and \\N and tab\tend",
    "{\"nested\": 'json'}",
    "E'\\x41'",
]


def test_sql_in_a_value_is_stored_as_plain_text(pipeline: LocalPipeline, tmp_path: Path) -> None:
    # Given songs and log events whose text values are SQL, format strings or escapes
    events = []
    for index, value in enumerate(HOSTILE_VALUES):
        write(
            tmp_path / "song_data" / f"inject-{index}.json",
            song(f"SOINJECT{index}", title=value, artist_name=value),
        )
        events.append(
            {
                "artist": value,
                "song": value,
                "page": "NextSong",
                "ts": 1541121934796,
                "sessionId": 1,
                "itemInSession": index,
                "userId": "7",
            }
        )
    write(tmp_path / "log_data" / "inject.json", "\n".join(json.dumps(e) for e in events))

    # When they are loaded
    summary = pipeline.load([tmp_path], progress=False)

    # Then they stage, the values are stored exactly as written, and every table still exists
    assert summary.ok, summary.render()
    session = pipeline.warehouse.session()
    songs = session.query("SELECT song_id, title, artist_name FROM staging_songs")
    assert sorted(songs) == sorted(
        (f"SOINJECT{index}", value, value) for index, value in enumerate(HOSTILE_VALUES)
    )
    plays = session.query("SELECT item_in_session, artist, song FROM staging_events")
    assert sorted(plays) == [(index, value, value) for index, value in enumerate(HOSTILE_VALUES)]
    existing = {
        row[0]
        for row in session.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert set(schema_tables()) <= existing
    (ledger_rows,) = session.query("SELECT COUNT(*) FROM load_ledger")[0]
    assert ledger_rows == len(HOSTILE_VALUES) + 1
