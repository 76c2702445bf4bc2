"""End-to-end latency: file put -> its plays visible in ``songplays``.

Files are put one at a time while the local pipeline runs as deployed: the stage event source
drains the queue continuously and the stage function starts the merge when its batch commits
(the template's MergeOnArrival, debounced: one merge at a time, at most one waiting). Nothing
here starts a merge. Locally a batch closes when the queue is empty instead of waiting out the
template's batching window (StageBatchingWindowSeconds), which AWS adds on top (README).
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sparkify_local.bench.scratch import scratch_pipeline
from sparkify_local.generate.writer import generate
from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline

TRIGGER = "merge on arrival (MergeOnArrival=true: the stage batch starts the merge, debounced)"


def run_e2e_bench(home: Home, *, files: int = 20, put_every_s: float = 1.0) -> dict[str, Any]:
    with scratch_pipeline(home) as pipeline:
        return _measure(pipeline, home, files, put_every_s)


def _measure(pipeline: LocalPipeline, home: Home, files: int, put_every_s: float) -> dict[str, Any]:
    data = home.root / "data"
    generate(data, events=files * 500, songs=0, seed=9, days=files)
    days = sorted((data / "log_data").rglob("*.json"))
    pipeline.merge()  # warm the merge function's execution environments
    put_at: dict[str, datetime] = {}
    done = threading.Event()

    def producer() -> None:
        for day in days:
            key = "log_data/" + day.relative_to(data / "log_data").as_posix()
            put_at[key] = datetime.now(UTC).replace(tzinfo=None)
            pipeline.stack.s3.put_object(
                Bucket=pipeline.stack.bucket, Key=key, Body=day.read_bytes()
            )
            time.sleep(put_every_s)
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    while True:
        pipeline.stage(progress=False, merge_on_arrival=True)
        merged = _merged_at(pipeline)
        if done.is_set() and len(merged) >= len(days):
            break
        time.sleep(0.1)
    thread.join()
    latencies = sorted((merged[key] - put_at[key]).total_seconds() for key in put_at)
    return {
        "end_to_end_files": len(latencies),
        "end_to_end_trigger": TRIGGER,
        "end_to_end_seconds_p50": round(statistics.median(latencies), 2),
        "end_to_end_seconds_p95": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2),
        "end_to_end_seconds_max": round(latencies[-1], 2),
    }


def _merged_at(pipeline: LocalPipeline) -> dict[str, datetime]:
    rows = pipeline.warehouse.session().query(
        "SELECT key, merged_at FROM load_ledger WHERE status = 'merged'"
    )
    return {key: merged_at for key, merged_at in rows}


def render_e2e(r: dict[str, Any]) -> str:
    return (
        f"\nend to end (file put -> plays in songplays; {r['end_to_end_files']} files, "
        f"{r['end_to_end_trigger']})\n"
        f"  end_to_end_seconds_p50     {r['end_to_end_seconds_p50']:8.2f} s\n"
        f"  end_to_end_seconds_p95     {r['end_to_end_seconds_p95']:8.2f} s\n"
        f"  end_to_end_seconds_max     {r['end_to_end_seconds_max']:8.2f} s"
    )
