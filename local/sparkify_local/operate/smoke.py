"""``sparkify smoke``: the check a user runs once after a deploy. It lands a small data set with
reserved ids, waits for the stack to stage and merge it, compares the star schema's rows for
those ids with counts computed from the files, removes its own rows and files, and reports each
step with its timing. Written once against ``StackTarget``: it runs on the local stack (which is
how it is tested) exactly as on a deployed one.

Reserved ids keep a smoke run apart from real data and from other runs: user and session ids in
2,000,000,000-2,099,999,999 (Sparkify's are small), song and artist ids starting SOSMOKE/ARSMOKE
and the run's id, plays on 1999-12-31 (before Sparkify existed), keys under
``<dataset prefix>smoke-<run>/``.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sparkify_loader.datasets import EVENTS, SONGS
from sparkify_loader.sqlfiles import render_sql, render_statements
from sparkify_local.operate.loads import ledger_rows, put_files
from sparkify_local.operate.merges import arrival_merges, run_merge
from sparkify_local.operate.target import StackTarget

PROD = "prod"
FIRST_RESERVED_ID = 2_000_000_000
IDS_PER_RUN = 100
RUNS = 1_000_000  # FIRST_RESERVED_ID + RUNS * IDS_PER_RUN stays below 2**31 (INTEGER)
SMOKE_DAY = datetime(1999, 12, 31, tzinfo=UTC)
MERGE_ATTEMPTS = 3  # a merge already running (the schedule's) leaves ours nothing to do
# Songs: (title, artist index, duration); plays: (user index, song index or an unknown title).
SONG_CATALOGUE = (("Smoke Signal", 0, 201.5), ("Second Wind", 0, 187.25), ("Clear Sky", 1, 240.0))
ARTIST_NAMES = ("The Smoke Testers", "Deploy Day")
PLAYS = ((0, 0), (0, 1), (0, "Nowhere Song"), (1, 2), (1, 0), (2, "Another Unknown"))
USER_LEVELS = ("free", "paid", "free")


class SmokeRefused(ValueError):
    """The stack is production and ``--force`` was not given."""


@dataclass(frozen=True)
class SmokeRun:
    """One run's reserved ids and keys."""

    run_id: str  # hex

    @classmethod
    def new(cls) -> SmokeRun:
        return cls(secrets.token_hex(4))

    @property
    def first_user(self) -> int:
        return FIRST_RESERVED_ID + (int(self.run_id, 16) % RUNS) * IDS_PER_RUN

    @property
    def song_prefix(self) -> str:
        return f"SOSMOKE{self.run_id.upper()}"

    @property
    def artist_prefix(self) -> str:
        return f"ARSMOKE{self.run_id.upper()}"

    @property
    def first_ts(self) -> datetime:
        # One run's plays take a few seconds of the day; the offset spreads runs over it.
        return SMOKE_DAY + timedelta(seconds=int(self.run_id, 16) % 80_000)

    def key(self, prefix: str, name: str) -> str:
        return f"{prefix}smoke-{self.run_id}/{name}"

    @property
    def params(self) -> dict[str, Any]:
        """The reserved ranges, as the smoke SQL files bind them."""
        first_ts = self.first_ts
        return {
            "first_user": self.first_user,
            "last_user": self.first_user + IDS_PER_RUN - 1,
            "song_ids": f"{self.song_prefix}%",
            "artist_ids": f"{self.artist_prefix}%",
            "first_ts": first_ts.strftime("%Y-%m-%d %H:%M:%S"),
            "last_ts": (first_ts + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "log_keys": self.key(EVENTS.prefix, "%"),
            "song_keys": self.key(SONGS.prefix, "%"),
        }

    def write(self, folder: Path) -> list[tuple[Path, str]]:
        """The run's song files and one log file, as Sparkify writes them; (path, key) each."""
        files: list[tuple[Path, str]] = []
        songs = []
        for index, (title, artist, duration) in enumerate(SONG_CATALOGUE):
            song = {
                "num_songs": 1,
                "artist_id": f"{self.artist_prefix}{artist}",
                "artist_latitude": None,
                "artist_longitude": None,
                "artist_location": "",
                "artist_name": ARTIST_NAMES[artist],
                "song_id": f"{self.song_prefix}{index}",
                "title": title,
                "duration": duration,
                "year": 1999,
            }
            songs.append(song)
            path = folder / f"{song['song_id']}.json"
            path.write_text(json.dumps(song))
            files.append((path, self.key(SONGS.prefix, path.name)))
        events = []
        start_ms = int(self.first_ts.timestamp() * 1000)
        for item, (user, song_ref) in enumerate(PLAYS):
            played = songs[song_ref] if isinstance(song_ref, int) else None
            events.append(
                {
                    "artist": played["artist_name"] if played else "Nobody Known",
                    "auth": "Logged In",
                    "firstName": "Smoke",
                    "gender": "F",
                    "itemInSession": item,
                    "lastName": f"Tester{user}",
                    "length": played["duration"] if played else 199.0,
                    "level": USER_LEVELS[user],
                    "location": "Localhost, CA",
                    "method": "PUT",
                    "page": "NextSong",
                    "registration": float(start_ms - 86_400_000),
                    "sessionId": self.first_user + user,
                    "song": played["title"] if played else song_ref,
                    "status": 200,
                    "ts": start_ms + item * 1000,
                    "userAgent": "sparkify-smoke",
                    "userId": str(self.first_user + user),
                }
            )
        # A page that is not a play: staged, never a songplay.
        events.append(
            {
                **events[0],
                "page": "Home",
                "method": "GET",
                "song": None,
                "artist": None,
                "length": None,
                "ts": start_ms + len(PLAYS) * 1000,
            }
        )
        path = folder / f"{SMOKE_DAY:%Y-%m-%d}-events.json"
        path.write_text("\n".join(json.dumps(event, separators=(",", ":")) for event in events))
        files.append((path, self.key(EVENTS.prefix, path.name)))
        return files


STAR_COUNTS = ("songplays", "matched plays", "users", "songs", "artists", "time")


def expected_star(files: Sequence[tuple[Path, str]]) -> dict[str, int]:
    """What the star schema must hold for these files, read back from the files themselves."""
    songs = [json.loads(path.read_text()) for path, key in files if key.startswith(SONGS.prefix)]
    events = [
        json.loads(line)
        for path, key in files
        if key.startswith(EVENTS.prefix)
        for line in path.read_text().splitlines()
    ]
    plays = [event for event in events if event["page"] == "NextSong" and event["userId"]]
    known = {(song["title"], song["artist_name"], song["duration"]) for song in songs}
    return {
        "songplays": len(plays),
        "matched plays": sum((p["song"], p["artist"], p["length"]) in known for p in plays),
        "users": len({play["userId"] for play in plays}),
        "songs": len({song["song_id"] for song in songs}),
        "artists": len({song["artist_id"] for song in songs}),
        "time": len({play["ts"] for play in plays}),
    }


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float | None = None
    timing: str = ""


@dataclass
class SmokeReport:
    stack: str
    run_id: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def render(self) -> str:
        lines = [f"smoke run {self.run_id} on {self.stack}"]
        for step in self.steps:
            took = f"{step.seconds:.2f} s" if step.seconds is not None else ""
            timing = f" ({step.timing})" if step.timing and took else ""
            lines.append(
                f"  {'PASS' if step.ok else 'FAIL'}  {step.name:<12} {step.detail}"
                + (f"  [{took}{timing}]" if took else "")
            )
        lines.append(f"smoke: {'passed' if self.ok else 'FAILED'}")
        return "\n".join(lines)


@contextmanager
def _timed() -> Iterator[list[float]]:
    took: list[float] = []
    started = time.monotonic()
    yield took
    took.append(time.monotonic() - started)


def smoke(target: StackTarget, force: bool = False, progress: bool = False) -> SmokeReport:
    if target.environment == PROD and not force:
        raise SmokeRefused(
            f"{target.description} is a prod stack: the smoke test writes and then removes rows "
            "there; pass --force to run it anyway"
        )
    run = SmokeRun.new()
    report = SmokeReport(target.description, run.run_id)
    with tempfile.TemporaryDirectory(prefix="sparkify-smoke-") as folder:
        files = run.write(Path(folder))
        expected = expected_star(files)
        try:
            _load_and_check(target, run, files, expected, report, progress)
        finally:
            # Also after a failed step or Ctrl-C: the run leaves nothing behind.
            report.steps.append(_clean_up(target, run, [key for _, key in files]))
    return report


def _load_and_check(
    target: StackTarget,
    run: SmokeRun,
    files: list[tuple[Path, str]],
    expected: dict[str, int],
    report: SmokeReport,
    progress: bool,
) -> None:
    started = datetime.now(UTC)
    with _timed() as took:
        uploaded = put_files(target, files, progress=False)
    report.steps.append(
        Step("upload", len(uploaded) == len(files), f"{len(uploaded)} files", took[0])
    )

    with _timed() as took:
        target.settle(uploaded, progress=progress, merge_on_arrival=True)
        ledger = ledger_rows(target, uploaded)
    found = [ledger.get(version) for version in uploaded.items()]
    staged = sum(row is not None and row.status in ("staged", "merged") for row in found)
    problems = [
        f"{row.status}: {row.error}"
        for row in found
        if row and row.status not in ("staged", "merged")
    ]
    report.steps.append(
        Step(
            "staged",
            staged == len(files),
            f"{staged}/{len(files)} files in the ledger"
            + (f"; {'; '.join(problems)}" if problems else ""),
            took[0],
            "file put -> staged",
        )
    )
    if staged != len(files):
        return

    with _timed() as took:
        machine = target.state_machine()
        outcomes = arrival_merges(machine, started)
        for _ in range(MERGE_ATTEMPTS):
            ledger = ledger_rows(target, uploaded)
            if all(ledger[version].status == "merged" for version in uploaded.items()):
                break
            outcomes.append(run_merge(machine))
    merged = sum(ledger[version].status == "merged" for version in uploaded.items())
    last = outcomes[-1] if outcomes else None
    execution = f"; merge {last.execution_arn.rsplit(':', 1)[-1]}: {last.status}" if last else ""
    report.steps.append(
        Step(
            "merged",
            merged == len(files),
            f"{merged}/{len(files)} files merged{execution}",
            took[0],
            "staged -> merged",
        )
    )
    if merged != len(files):
        return

    counts = dict(
        zip(
            STAR_COUNTS,
            target.rows(render_sql("smoke/star_counts.sql"), run.params)[0],
            strict=True,
        )
    )
    detail = ", ".join(f"{name} {counts[name]}/{expected[name]}" for name in STAR_COUNTS)
    report.steps.append(Step("star schema", counts == expected, detail))


def _clean_up(target: StackTarget, run: SmokeRun, keys: list[str]) -> Step:
    with _timed() as took:
        for statement in render_statements("smoke/remove_run.sql"):
            target.execute(statement, {**run.params, "bucket": target.bucket})
        target.s3.delete_objects(
            Bucket=target.bucket, Delete={"Objects": [{"Key": key} for key in keys]}
        )
        left = sum(target.rows(render_sql("smoke/star_counts.sql"), run.params)[0])
        listed = sum(
            target.s3.list_objects_v2(Bucket=target.bucket, Prefix=run.key(prefix, ""))["KeyCount"]
            for prefix in (SONGS.prefix, EVENTS.prefix)
        )
    return Step(
        "clean-up", left == 0 and listed == 0, f"{left} rows and {listed} files left", took[0]
    )
