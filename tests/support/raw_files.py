"""Independent oracles: counts and the expected star schema, computed from raw files without
project code; and the real sample data set."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "sparkify-sample"
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class RawCounts:
    """Counts computed straight from the raw files, without any project code."""

    log_files: int
    song_files: int
    events: int
    next_song_events: int
    event_keys: frozenset[tuple[int, int, str, int]]  # sessionId, itemInSession, userId, ts


def count_raw(folder: Path) -> RawCounts:
    log_files = sorted((folder / "log_data").rglob("*.json"))
    song_files = sorted((folder / "song_data").rglob("*.json"))
    events = []
    for path in log_files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                events.append(json.loads(line))
    return RawCounts(
        log_files=len(log_files),
        song_files=len(song_files),
        events=len(events),
        next_song_events=sum(1 for event in events if event["page"] == "NextSong"),
        event_keys=frozenset(
            (e["sessionId"], e["itemInSession"], e["userId"], e["ts"]) for e in events
        ),
    )


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert SAMPLE_DIR.is_dir(), f"the real sample is expected at {SAMPLE_DIR}"
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_counts(sample_dir: Path) -> RawCounts:
    return count_raw(sample_dir)


@dataclass(frozen=True)
class ExpectedStar:
    """The star schema a correct loader builds from raw files, computed without project code."""

    songplays: frozenset[tuple[int, int, int | None]]  # sessionId, itemInSession, userId
    user_levels: dict[int, str]  # level of each user's latest event by ts
    song_ids: frozenset[str]
    artist_ids: frozenset[str]
    start_times_ms: frozenset[int]
    matched_plays: int


def expected_star(folders: list[Path]) -> ExpectedStar:
    events: list[dict] = []
    songs: list[dict] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            text = path.read_text(encoding="utf-8")
            if "song_data" in path.parts:
                songs.append(json.loads(text))
            else:
                events += [json.loads(line) for line in text.splitlines() if line.strip()]
    plays = {}
    for event in events:
        if event["page"] == "NextSong":
            user = int(event["userId"]) if event["userId"] else None
            plays[(event["sessionId"], event["itemInSession"], user)] = event
    latest: dict[int, dict] = {}
    for event in events:
        if event["userId"]:
            user = int(event["userId"])
            if user not in latest or event["ts"] > latest[user]["ts"]:
                latest[user] = event
    catalogue = {(s["title"], s["artist_name"], round(s["duration"] * 1000)) for s in songs}
    matched = sum(
        1
        for play in plays.values()
        if (play["song"], play["artist"], round(play["length"] * 1000)) in catalogue
    )
    return ExpectedStar(
        songplays=frozenset(plays),
        user_levels={user: event["level"] for user, event in latest.items()},
        song_ids=frozenset(s["song_id"] for s in songs),
        artist_ids=frozenset(s["artist_id"] for s in songs),
        start_times_ms=frozenset(play["ts"] for play in plays.values()),
        matched_plays=matched,
    )


def assert_star_matches_raw(query: Callable[[str], list[tuple]], folders: list[Path]) -> None:
    """The star schema that ``query`` reads equals what the raw files say (``expected_star``)."""
    expected = expected_star(folders)
    plays = query("SELECT session_id, item_in_session, user_id FROM songplays")
    assert len(plays) == len(expected.songplays)
    assert set(plays) == expected.songplays
    assert dict(query("SELECT user_id, level FROM users")) == expected.user_levels
    assert {r[0] for r in query("SELECT song_id FROM songs")} == expected.song_ids
    assert {r[0] for r in query("SELECT artist_id FROM artists")} == expected.artist_ids
    times = query("SELECT start_time FROM time")
    assert len(times) == len(expected.start_times_ms)
    assert {(t - EPOCH) // timedelta(milliseconds=1) for (t,) in times} == expected.start_times_ms
    (matched,) = query("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL")[0]
    assert matched == expected.matched_plays
