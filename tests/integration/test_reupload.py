"""A corrected file re-uploaded under the same key is a new version and is staged again, and its
merge replaces the rows the old version contributed; the same bytes uploaded again are the same
version and add nothing; a deleted file keeps its rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import event, song, write
from tests.support.stack import staging_snapshot, star_snapshot

KEY = "log_data/2018/11/2018-11-30-events.json"


def events_file(*user_ids: str) -> str:
    return "\n".join(
        json.dumps(
            {
                "artist": "Tesla",
                "page": "NextSong",
                "ts": 1543536000000 + index,
                "sessionId": 30,
                "itemInSession": index,
                "userId": user_id,
                "level": "free",
            }
        )
        for index, user_id in enumerate(user_ids)
    )


def test_corrected_file_is_staged_again_as_a_new_version(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    # Given a log file staged once, with a wrong user id on its second line
    path = write(tmp_path / KEY, events_file("11", "99"))
    first = pipeline.load([path], progress=False)
    assert first.ok, first.render()
    (first_etag,) = [
        row[0] for row in pipeline.warehouse.session().query("SELECT etag FROM load_ledger")
    ]

    # When the corrected file is uploaded under the same key (new content, new etag)
    write(path, events_file("11", "12", "13"))
    second = pipeline.load([path], progress=False)

    # Then it is staged again: two ledger rows for the key, one per etag, both staged
    assert second.ok, second.render()
    session = pipeline.warehouse.session()
    ledger = session.query("SELECT key, etag, status, rows, load_id FROM load_ledger")
    assert sorted((key, status, rows) for key, _, status, rows, _ in ledger) == [
        (KEY, "staged", 2),
        (KEY, "staged", 3),
    ]
    etags = {etag for _, etag, _, _, _ in ledger}
    assert len(etags) == 2 and first_etag in etags
    # ... and the corrected rows are in staging, tagged with the new version's load
    new_load = next(load_id for _, etag, _, _, load_id in ledger if etag != first_etag)
    corrected = session.query(
        "SELECT item_in_session, user_id FROM staging_events WHERE load_id = %(load)s",
        {"load": new_load},
    )
    assert sorted(corrected) == [(0, 11), (1, 12), (2, 13)]


def test_identical_reupload_adds_nothing(pipeline: LocalPipeline, tmp_path: Path) -> None:
    # Given a log file and a song file staged once
    log = write(tmp_path / KEY, events_file("11", "12"))
    song = write(
        tmp_path / "song_data" / "A" / "TRSAME.json",
        json.dumps({"song_id": "SOSAME", "title": "Same", "duration": 1.0, "num_songs": 1}),
    )
    assert pipeline.load([log, song], progress=False).ok
    before = staging_snapshot(pipeline)

    # When both are uploaded again with identical bytes (same etags)
    write(log, events_file("11", "12"))
    again = pipeline.load([log, song], progress=False)

    # Then the reload reports them staged, and no staging or ledger row was added or changed
    assert again.ok, again.render()
    assert dict(again.statuses) == {"staged": 2}
    assert staging_snapshot(pipeline) == before
    assert len(before["load_ledger"]) == 2 and len(before["staging_events"]) == 2


# -- A corrected file replaces its rows ----------------------------------------------------------

OTHER_KEY = "log_data/2018/11/2018-11-29-events.json"
SONG_KEY = "song_data/A/B/C/TRCORRECTED.json"
BASE_TS = 1543536000000


def log_lines(*events: dict) -> str:
    return "\n".join(json.dumps(document) for document in events)


def play(item: int, user: str, **overrides: object) -> dict:
    """A play of session 30; item_in_session (with the user) is its natural key."""
    return (
        event(sessionId=30, itemInSession=item, userId=user, ts=BASE_TS + item * 1000) | overrides
    )


# Another key's file: its rows must stay whatever happens to KEY.
OTHER = log_lines(
    event(sessionId=50, itemInSession=0, userId="42", ts=BASE_TS - 5000),
    event(sessionId=50, itemInSession=1, userId="43", ts=BASE_TS - 4000),
)
# The first version of KEY, and its correction: item 1 changed, item 2 removed (user 11 has a
# later play, item 3, so users' upserted attributes end as a fresh load leaves them), item 3 added.
ORIGINAL = log_lines(play(0, "11"), play(1, "12"), play(2, "11", ts=BASE_TS + 2500))
CORRECTED = log_lines(
    play(0, "11"),
    play(1, "12", location="Paris", length=123.456),
    play(3, "11", level="paid"),
)


def load(pipeline: LocalPipeline, *paths: Path, merge: bool = True) -> None:
    summary = pipeline.load(list(paths), progress=False)
    assert summary.ok, summary.render()
    if merge:
        outcome = pipeline.merge()
        assert outcome.ok, outcome.render()


@pytest.mark.parametrize("merged_between", [True, False], ids=["merged-between", "one-merge"])
def test_a_corrected_log_file_ends_as_a_fresh_load_of_the_corrected_files(
    pipeline: LocalPipeline, tmp_path: Path, merged_between: bool
) -> None:
    # Given the star schema of a fresh load of the corrected file and another key's file
    path = write(tmp_path / KEY, CORRECTED)
    other = write(tmp_path / OTHER_KEY, OTHER)
    load(pipeline, path, other)
    fresh = star_snapshot(pipeline)
    pipeline.reset()

    # When the original file is loaded (and merged, or only staged), then its correction
    write(path, ORIGINAL)
    load(pipeline, path, other, merge=merged_between)
    write(path, CORRECTED)
    load(pipeline, path)

    # Then the tables are the fresh load's: the removed play and its time row are gone, the
    # changed play is updated, the added one is there, the other key's rows are untouched
    assert star_snapshot(pipeline) == fresh
    session = pipeline.warehouse.session()
    assert sorted(session.query("SELECT session_id, item_in_session FROM songplays")) == [
        (30, 0),
        (30, 1),
        (30, 3),
        (50, 0),
        (50, 1),
    ]
    (removed_time,) = session.query(
        "SELECT COUNT(*) FROM time WHERE start_time = TIMESTAMP '2018-11-30 00:00:02.5'"
    )[0]
    assert removed_time == 0


def test_a_deleted_file_keeps_its_rows(pipeline: LocalPipeline, tmp_path: Path) -> None:
    # Given a log file loaded and merged
    path = write(tmp_path / KEY, ORIGINAL)
    load(pipeline, path)
    before = star_snapshot(pipeline)

    # When the object is deleted from the bucket (a lifecycle rule expiring raw logs) and a
    # merge runs
    pipeline.stack.s3.delete_object(Bucket=pipeline.stack.bucket, Key=KEY)
    assert pipeline.merge().ok

    # Then the warehouse keeps its facts
    assert star_snapshot(pipeline) == before
    assert len(before["songplays"]) == 3


SONG = song(song_id="SOCORRECT", title="Dream", artist_name="Tesla", duration=100.0)
CORRECTIONS = {
    # The duration fixed: plays of the old length lose the song, plays of the new one get it.
    "duration": SONG | {"duration": 200.0},
    # The song id fixed: the old id's row goes, its plays move to the new id.
    "song_id": SONG | {"song_id": "SOFIXED"},
}
PLAYS_OF_BOTH_LENGTHS = log_lines(
    play(0, "11", song="Dream", artist="Tesla", length=100.0),
    play(1, "11", song="Dream", artist="Tesla", length=200.0),
)


@pytest.mark.parametrize("correction", sorted(CORRECTIONS))
def test_a_corrected_song_file_ends_as_a_fresh_load_of_the_corrected_files(
    pipeline: LocalPipeline, tmp_path: Path, correction: str
) -> None:
    # Given the star schema of a fresh load of the corrected song file and the plays
    song_path = write(tmp_path / SONG_KEY, json.dumps(CORRECTIONS[correction]))
    log_path = write(tmp_path / KEY, PLAYS_OF_BOTH_LENGTHS)
    load(pipeline, song_path, log_path)
    fresh = star_snapshot(pipeline)
    pipeline.reset()

    # When the original song file and the plays are merged, then the corrected song file
    write(song_path, json.dumps(SONG))
    load(pipeline, song_path, log_path)
    (matched_before,) = pipeline.warehouse.session().query(
        "SELECT song_id FROM songplays WHERE song_id IS NOT NULL"
    )
    write(song_path, json.dumps(CORRECTIONS[correction]))
    load(pipeline, song_path)

    # Then the tables are the fresh load's: the plays re-matched or un-matched accordingly
    assert matched_before == ("SOCORRECT",)
    assert star_snapshot(pipeline) == fresh
    assert len(fresh["songs"]) == 1
