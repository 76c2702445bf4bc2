"""Fixtures shared by every tier: the real sample dataset and independent counts of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "sparkify-sample"
EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> dict:
    """A sample Lambda event from tests/events/."""
    return json.loads((EVENTS_DIR / name).read_text())


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
