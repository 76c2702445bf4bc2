"""The two kinds of landing files, and where each one is staged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from sparkify_loader.sqlfiles import sql_path

# Redshift refuses a JSON object larger than 4 MB; the local emulation applies the same limit,
# which also bounds the memory one line can take.
MAX_JSON_OBJECT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Dataset:
    name: str
    prefix: str
    staging_table: str
    # Log files hold one JSON object per line; a song file is one JSON object, however laid out.
    one_object_per_file: bool
    # A JSONPaths file mapping JSON keys to staging columns in order, or None for Redshift's
    # JSON 'auto' (keys named exactly as the columns).
    jsonpaths_file: str | None
    copy_statement: str

    def json_keys(self) -> tuple[str, ...] | None:
        """The top-level JSON keys of the JSONPaths file, in column order (None for 'auto')."""
        return _jsonpaths_keys(self.jsonpaths_file) if self.jsonpaths_file else None


@cache
def _jsonpaths_keys(jsonpaths_file: str) -> tuple[str, ...]:
    paths = json.loads(sql_path(jsonpaths_file).read_text())["jsonpaths"]
    return tuple(path.removeprefix("$.") for path in paths)


EVENTS = Dataset(
    name="events",
    prefix="log_data/",
    staging_table="staging_events",
    one_object_per_file=False,
    jsonpaths_file="copy/events_jsonpaths.json",
    copy_statement="stage/redshift/copy_events.sql",
)
SONGS = Dataset(
    name="songs",
    prefix="song_data/",
    staging_table="staging_songs",
    one_object_per_file=True,
    jsonpaths_file=None,
    copy_statement="stage/redshift/copy_songs.sql",
)
DATASETS = (SONGS, EVENTS)


def dataset_for_key(key: str) -> Dataset | None:
    """The dataset a landing key belongs to, by prefix; None for any other prefix."""
    return next((dataset for dataset in DATASETS if key.startswith(dataset.prefix)), None)
