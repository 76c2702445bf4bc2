"""A corrected file re-uploaded under the same key is a new version and is staged again; the same
bytes uploaded again are the same version and add nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sparkify_local.pipeline import LocalPipeline
from tests.support.documents import write
from tests.support.stack import staging_snapshot

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
