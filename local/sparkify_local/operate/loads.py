"""A load as a command sees it, on any stack: the files it puts in the landing bucket, and what
the ledger says about each of their versions once the stage function has handled them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sparkify_loader.completeness.landing import landing_rules
from sparkify_loader.sqlfiles import BoundList, render_sql
from sparkify_local.operate.target import StackTarget
from sparkify_local.progress import Progress
from sparkify_local.runtime import interrupts
from sparkify_local.runtime.event_source import DrainStats

# A file under a folder of one of these names lands under it (the dataset prefixes).
LANDING_FOLDERS = tuple(rule.prefix.rstrip("/") for rule in landing_rules())
UPLOAD_THREADS = 16
LEDGER_KEYS_PER_QUERY = 1000


def landing_key(path: Path, folder: Path | None) -> str:
    """The S3 key a local file lands under.

    A file under a ``song_data``/``log_data`` folder keeps the path from that component on (so a
    single file or a dataset subfolder lands where the pipeline expects it); otherwise a folder's
    files keep their path relative to the folder.
    """
    parts = path.resolve().parts
    anchors = [index for index, part in enumerate(parts) if part in LANDING_FOLDERS]
    if anchors:
        return "/".join(parts[anchors[-1] :])
    if folder is not None:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    return path.name


def files_to_upload(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    for path in paths:
        if path.is_dir():
            for file in sorted(candidate for candidate in path.rglob("*") if candidate.is_file()):
                yield file, landing_key(file, path)
        else:
            yield path, landing_key(path, None)


class LedgerRow(NamedTuple):
    """The latest ledger row of one file version."""

    dataset: str
    status: str
    rows: int | None
    error: str | None
    load_id: str


@dataclass
class LoadSummary:
    uploaded: int = 0
    arrived_as: str = "uploaded"  # or "announced" (backfill)
    statuses: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)  # staged by this load only
    loaded_before: int = 0  # versions an earlier load had put in the ledger already
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # key, status, reason
    skipped: list[tuple[str, str]] = field(default_factory=list)  # key, reason
    not_in_ledger: list[str] = field(default_factory=list)
    dead_letters: int = 0
    # How the stage function handled the notifications, where the command ran it (local).
    drain: DrainStats | None = None

    @property
    def ok(self) -> bool:
        # A function error that a retry recovered from lost nothing: it is reported, not fatal.
        return not (
            self.statuses["rejected"] or self.skipped or self.not_in_ledger or self.dead_letters
        )

    def render(self) -> str:
        rows = ", ".join(f"{n} {d}" for d, n in sorted(self.rows.items()) if n) or "0"
        if self.loaded_before:
            rows += f" ({self.loaded_before} file(s) were loaded before: not staged again)"
        handled = (
            f"{self.drain.messages} notification(s) in {self.drain.invocations} stage invocation(s)"
            if self.drain
            else "staged by the stack's stage function"
        )
        lines = [
            f"{self.arrived_as} {self.uploaded} file(s); {handled}",
            "ledger: " + (", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "-"),
            "rows staged: " + rows,
        ]
        not_loaded = [*self.problems, *((key, "skipped", why) for key, why in self.skipped)]
        if not_loaded:
            lines.append(f"files not loaded ({len(not_loaded)}):")
            lines += [f"  {status}: {key}: {reason}" for key, status, reason in not_loaded]
        if self.not_in_ledger:
            lines.append(f"files with no ledger row ({len(self.not_in_ledger)}):")
            lines += [f"  {key}" for key in self.not_in_ledger]
        if self.dead_letters:
            lines.append(f"dead-letter queue holds {self.dead_letters} message(s)")
        # One line per kind of error: a worker's death fails every batch its pool was running.
        for error, times in Counter(self.drain.function_errors if self.drain else []).items():
            repeated = f" ({times} invocations)" if times > 1 else ""
            lines.append(f"stage function error{repeated} (its messages were retried): {error}")
        return "\n".join(lines)


def put_files(
    target: StackTarget, files: Sequence[tuple[Path, str]], progress: bool
) -> dict[str, str]:
    """Put each (file, key) into the landing bucket, several at once; return key -> etag."""

    def put(item: tuple[Path, str]) -> tuple[str, str]:
        path, key = item
        with path.open("rb") as body:
            response = target.s3.put_object(Bucket=target.bucket, Key=key, Body=body)
        return key, response["ETag"].strip('"')

    pool = ThreadPoolExecutor(UPLOAD_THREADS)
    uploaded: dict[str, str] = {}
    try:
        # Stop signals are taken between two files (see runtime.interrupts).
        with (
            interrupts.deferred(),
            Progress("upload", len(files), "files", live=progress) as bar,
        ):
            for key, etag in pool.map(put, files):
                uploaded[key] = etag
                bar.update()
                interrupts.checkpoint()
        return uploaded
    finally:
        # Interrupted: the uploads not started yet are dropped, not waited for.
        pool.shutdown(wait=True, cancel_futures=True)


def ledger_rows(target: StackTarget, versions: Iterable[str]) -> dict[tuple[str, str], LedgerRow]:
    """The latest ledger row of every version of these keys, by (key, etag)."""
    found: dict[tuple[str, str], LedgerRow] = {}
    wanted = list(versions)
    # Few keys per statement: the Data API takes at most 100 KB of SQL (its Considerations),
    # and each key's placeholder is in the text.
    for start in range(0, len(wanted), LEDGER_KEYS_PER_QUERY):
        bound = BoundList("key", wanted[start : start + LEDGER_KEYS_PER_QUERY])
        rows = target.rows(
            render_sql("cli/ledger_rows.sql", keys=bound), {"bucket": target.bucket, **bound.params}
        )
        # Oldest first: a version's latest row is its current state.
        for key, etag, *rest in rows:
            found[(key, etag)] = LedgerRow(*rest)
    return found


def skip_reason(key: str) -> str | None:
    """Why the bucket sends no notification for ``key`` (None if it does)."""
    rules = landing_rules()
    if any(rule.matches(key) for rule in rules):
        return None
    landing = ", ".join(f"{rule.prefix}*{rule.suffix}" for rule in rules)
    return f"outside the landing prefixes ({landing}): the bucket announces no such file"


def stage_uploaded(
    target: StackTarget,
    uploaded: Mapping[str, str],
    progress: bool = True,
    merge_on_arrival: bool = False,
) -> LoadSummary:
    """Wait for the stage function to handle what ``upload`` put in the bucket (key -> etag);
    the summary counts this load's rows."""
    before = ledger_rows(target, uploaded)
    drain = target.settle(uploaded, progress=progress, merge_on_arrival=merge_on_arrival)
    return summarize(target, uploaded, drain, before)


def summarize(
    target: StackTarget,
    uploaded: Mapping[str, str],
    drain: DrainStats | None,
    ledger_before: Mapping[tuple[str, str], LedgerRow] | None = None,
) -> LoadSummary:
    """What the ledger says about each uploaded version (key -> etag) after staging.

    Rows count as this load's only where the version's ledger row changed since
    ``ledger_before`` (the ledger as it was before staging).
    """
    summary = LoadSummary(uploaded=len(uploaded), drain=drain)
    ledger = ledger_rows(target, uploaded)
    before = ledger_before or {}
    for key, etag in uploaded.items():
        row = ledger.get((key, etag))
        if row is None:
            if (reason := skip_reason(key)) is not None:
                summary.skipped.append((key, reason))
            else:
                summary.not_in_ledger.append(key)
            continue
        summary.statuses[row.status] += 1
        if before.get((key, etag)) == row:
            summary.loaded_before += 1
        else:
            summary.rows[row.dataset] += row.rows or 0
        if row.status not in ("staged", "merged"):
            summary.problems.append((key, row.status, row.error or ""))
    summary.dead_letters = target.dead_letter_depth()
    return summary
