"""The test-data generator: its files have the real Sparkify shapes and its summary tells the truth.

Every expectation is recomputed from the written files, never taken from the generator.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from sparkify_local.generate.writer import GenerateSummary, generate

LOG_KEYS = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
]
SONG_KEYS = [
    "num_songs",
    "artist_id",
    "artist_latitude",
    "artist_longitude",
    "artist_location",
    "artist_name",
    "song_id",
    "title",
    "duration",
    "year",
]
USER_FIELDS = ("firstName", "gender", "lastName", "location", "registration", "userAgent")


class GenerateSize(NamedTuple):
    events: int
    songs: int
    seed: int = 42


SMALL = GenerateSize(events=4_000, songs=300, seed=7)


@dataclass(frozen=True)
class Written:
    out_dir: Path
    summary: GenerateSummary


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    out_dir = tmp_path_factory.mktemp("generated")
    return Written(out_dir, generate(out_dir, **SMALL._asdict()))


def log_files(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "log_data").rglob("*.json"))


def song_files(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "song_data").rglob("*.json"))


def read_events(out_dir: Path) -> list[dict]:
    """All events, in file order (files by date, lines as written)."""
    return [
        json.loads(line)
        for path in log_files(out_dir)
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def read_songs(out_dir: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in song_files(out_dir)]


def all_bytes(out_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out_dir)): path.read_bytes()
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


def test_summary_counts_equal_the_counts_in_the_files(written: Written) -> None:
    # Given the files of one run
    events = read_events(written.out_dir)
    songs = read_songs(written.out_dir)
    catalogue = {(song["title"], song["artist_name"], song["duration"]) for song in songs}
    plays = [event for event in events if event["page"] == "NextSong"]

    # When they are counted independently
    counted = GenerateSummary(
        song_files=len(song_files(written.out_dir)),
        log_files=len(log_files(written.out_dir)),
        events=len(events),
        next_song_events=len(plays),
        matching_plays=sum(
            (play["song"], play["artist"], play["length"]) in catalogue for play in plays
        ),
        users=len({event["userId"] for event in events} - {""}),
        logged_out_events=sum(event["userId"] == "" for event in events),
    )

    # Then the summary agrees, and the requested sizes were written exactly
    assert written.summary == counted
    assert counted.events == SMALL.events
    assert counted.song_files == SMALL.songs


def test_the_mix_of_events_is_realistic(written: Written) -> None:
    # Given
    summary = written.summary

    # When
    play_share = summary.next_song_events / summary.events
    known_share = summary.matching_plays / summary.next_song_events
    logged_out_share = summary.logged_out_events / summary.events

    # Then
    assert 0.75 <= play_share <= 0.85
    assert 0.5 <= known_share <= 0.7
    assert 0.02 <= logged_out_share <= 0.04
    assert summary.log_files == 3  # the default for a few thousand events


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    # Given
    size = GenerateSize(events=1_500, songs=60)

    # When
    generate(tmp_path / "first", **size._replace(seed=1)._asdict())
    generate(tmp_path / "again", **size._replace(seed=1)._asdict())
    generate(tmp_path / "other", **size._replace(seed=2)._asdict())

    # Then
    first = all_bytes(tmp_path / "first")
    assert first == all_bytes(tmp_path / "again")
    assert first != all_bytes(tmp_path / "other")


def test_every_log_line_is_compact_json_with_the_18_keys_in_order(written: Written) -> None:
    # Given
    for path in log_files(written.out_dir):
        text = path.read_text(encoding="utf-8")

        # When
        lines = text.split("\n")

        # Then: like the real files, no empty line and no newline after the last one
        assert not text.endswith("\n")
        for line in lines:
            event = json.loads(line)
            assert list(event) == LOG_KEYS
            assert json.dumps(event, separators=(",", ":")) == line


def test_event_fields_have_the_real_types(written: Written) -> None:
    # Given
    events = read_events(written.out_dir)

    # When
    plays = [event for event in events if event["page"] == "NextSong"]
    others = [event for event in events if event["page"] != "NextSong"]

    # Then
    for event in events:
        assert type(event["ts"]) is int
        assert type(event["sessionId"]) is int
        assert type(event["itemInSession"]) is int
        assert event["level"] in ("free", "paid")
        assert event["method"] in ("GET", "PUT")
        assert event["status"] in (200, 307, 404)
        assert event["userId"] == "" or event["userId"].isdigit()
        assert event["registration"] is None or type(event["registration"]) is float
    for play in plays:
        assert (play["method"], play["status"], play["auth"]) == ("PUT", 200, "Logged In")
        assert isinstance(play["artist"], str) and isinstance(play["song"], str)
        assert type(play["length"]) is float
    for event in others:
        assert event["artist"] is None and event["song"] is None and event["length"] is None


def test_song_files_hold_one_line_object_with_the_10_keys(written: Written) -> None:
    # Given
    for path in song_files(written.out_dir):
        text = path.read_text(encoding="utf-8")

        # When
        song = json.loads(text)

        # Then
        assert "\n" not in text
        assert list(song) == SONG_KEYS
        assert song["num_songs"] == 1
        assert song["song_id"].startswith("SO") and len(song["song_id"]) == 18
        assert song["artist_id"].startswith("AR") and len(song["artist_id"]) == 18
        assert type(song["duration"]) is float
        assert round(song["duration"], 5) == song["duration"]
        assert song["year"] == 0 or 1900 < song["year"] < 2020


def test_songs_include_shared_artists_missing_places_and_tricky_text(written: Written) -> None:
    # Given
    songs = read_songs(written.out_dir)

    # When
    songs_per_artist: defaultdict[str, int] = defaultdict(int)
    for song in songs:
        songs_per_artist[song["artist_id"]] += 1
    texts = [song["title"] for song in songs] + [song["artist_name"] for song in songs]

    # Then
    assert max(songs_per_artist.values()) > 1
    assert any(song["artist_latitude"] is None for song in songs)
    assert any(song["artist_latitude"] is not None for song in songs)
    assert any(song["artist_location"] == "" for song in songs)
    assert any(song["year"] == 0 for song in songs)
    assert any(not text.isascii() for text in texts)
    assert any("'" in text or '"' in text for text in texts)


def test_some_user_changes_level_and_only_by_submitting_the_change(written: Written) -> None:
    # Given
    events = read_events(written.out_dir)

    # When: each user's events are followed in the order they were written
    levels_seen = defaultdict(set)
    previous_event: dict[str, dict] = {}
    for event in events:
        user_id = event["userId"]
        if not user_id:
            continue
        levels_seen[user_id].add(event["level"])
        before = previous_event.get(user_id)
        # Then: a new level appears only right after that user's Submit Upgrade/Downgrade
        if before is not None and before["level"] != event["level"]:
            expected = "Submit Upgrade" if event["level"] == "paid" else "Submit Downgrade"
            assert before["page"] == expected
        previous_event[user_id] = event

    # Then
    assert any(len(levels) == 2 for levels in levels_seen.values())


def test_logged_out_events_have_no_user(written: Written) -> None:
    # Given
    events = read_events(written.out_dir)

    # When
    logged_out = [event for event in events if event["auth"] == "Logged Out"]

    # Then
    assert logged_out
    assert all(event["userId"] == "" for event in logged_out)
    assert all(event[field] is None for event in logged_out for field in USER_FIELDS)
    assert all(event["page"] != "NextSong" for event in logged_out)
    assert all(event["userId"] != "" for event in events if event["auth"] == "Logged In")


def test_users_keep_their_profile(written: Written) -> None:
    # Given
    events = read_events(written.out_dir)

    # When
    profiles = defaultdict(set)
    for event in events:
        if event["userId"]:
            profiles[event["userId"]].add(tuple(event[field] for field in USER_FIELDS))

    # Then
    assert all(len(profile) == 1 for profile in profiles.values())


def test_each_session_has_one_user_and_counts_its_items_from_zero(written: Written) -> None:
    # Given
    events = read_events(written.out_dir)

    # When
    items = defaultdict(list)
    session_users = defaultdict(set)
    for event in events:
        items[event["sessionId"]].append(event["itemInSession"])
        session_users[event["sessionId"]].add(event["userId"])

    # Then
    assert all(found == list(range(len(found))) for found in items.values())
    assert all(len(users) == 1 for users in session_users.values())


def test_song_paths_follow_the_track_id(written: Written) -> None:
    # Given
    for path in song_files(written.out_dir):
        # When
        track_id = path.stem
        folders = path.relative_to(written.out_dir / "song_data").parts[:-1]

        # Then
        assert track_id.startswith("TR") and len(track_id) == 18
        assert track_id == track_id.upper() and track_id.isalnum()
        assert folders == (track_id[2], track_id[3], track_id[4])


def test_log_files_are_named_by_the_utc_date_of_their_events(written: Written) -> None:
    # Given
    for path in log_files(written.out_dir):
        stamps = [json.loads(line)["ts"] for line in path.read_text().splitlines()]

        # When
        dates = {datetime.fromtimestamp(ts / 1000, tz=UTC).date() for ts in stamps}

        # Then
        (only_date,) = dates
        assert path.name == f"{only_date}-events.json"
        assert path.parent.parts[-2:] == (f"{only_date:%Y}", f"{only_date:%m}")
        assert stamps == sorted(stamps)


def test_days_and_start_date_set_the_files_and_counts_stay_exact(tmp_path: Path) -> None:
    # Given
    start = date(2018, 12, 30)

    # When
    summary = generate(tmp_path, events=501, songs=0, seed=3, days=4, start_date=start)

    # Then: the period crosses into January; no song was generated so none is matched
    names = [path.name for path in log_files(tmp_path)]
    assert names == [
        "2018-12-30-events.json",
        "2018-12-31-events.json",
        "2019-01-01-events.json",
        "2019-01-02-events.json",
    ]
    assert len(read_events(tmp_path)) == summary.events == 501
    assert summary.song_files == 0 and summary.matching_plays == 0
    assert summary.next_song_events > 0


def test_progress_bars_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When
    generate(tmp_path, events=200, songs=20, progress=True)

    # Then
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "events" in captured.err and "songs" in captured.err
