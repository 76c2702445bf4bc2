"""Backfill and reconcile at scale: objects per second and peak memory for a bucket of N and of
10 N objects, beside a bare paginated listing of the same bucket in the same run.

The bucket holds tiny objects under the dataset prefixes, put with no events; the ledger holds
90% of them (as merged), so reconcile compares every page with the ledger and backfill
announces the other 10% to the stage queue. Each operation runs twice: once timed, once under
tracemalloc for its peak of Python memory (tracing slows Python down, so it is never timed).
"""

from __future__ import annotations

import io
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
from tqdm import tqdm

from sparkify_loader.completeness.backfill import backfill
from sparkify_loader.completeness.landing import landing_rules
from sparkify_loader.completeness.reconcile import reconcile
from sparkify_local.bench.scratch import scratch_pipeline
from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline

BODY = b"{}"
BODY_ETAG = "99914b932bd37a50b983c5e7c90ae93b"  # MD5 of BODY: S3's ETag of a single-part put
PUT_THREADS = 32
IN_LEDGER_SHARE = 0.9
GROWTH = 10


def run_completeness_bench(home: Home, *, objects: int, progress: bool) -> dict[str, Any]:
    """The figures for ``objects`` and ``GROWTH * objects`` objects (one bucket, filled up)."""
    results: dict[str, Any] = {"completeness_objects": objects, "completeness_growth": GROWTH}
    with scratch_pipeline(home) as pipeline:
        for label, total in (("small", objects), ("large", objects * GROWTH)):
            in_ledger = _fill(pipeline, total, progress)
            figures = _measure(pipeline, total, total - in_ledger)
            results.update({f"{name}_{label}": value for name, value in figures.items()})
    for operation in ("reconcile", "backfill"):
        small, large = (results[f"{operation}_peak_mb_{label}"] for label in ("small", "large"))
        results[f"{operation}_memory_growth"] = round(large / small, 2) if small else 0.0
    return results


def _key(index: int) -> str:
    prefix = landing_rules()[index % 2].prefix
    return f"{prefix}bench/{index // 1000:05d}/{index:08d}.json"


def _in_ledger(index: int) -> bool:
    return index % 10 < IN_LEDGER_SHARE * 10


def _fill(pipeline: LocalPipeline, total: int, progress: bool) -> int:
    """Put objects up to ``total`` (no events), and ledger rows for IN_LEDGER_SHARE of them;
    return how many of the ``total`` the ledger holds."""
    s3, bucket = pipeline.stack.s3, pipeline.stack.bucket
    have = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    )

    def put(index: int) -> None:
        s3.put_object(Bucket=bucket, Key=_key(index), Body=BODY)

    with (
        pipeline.stack.notifications_suspended(),
        ThreadPoolExecutor(PUT_THREADS) as pool,
        tqdm(total=total - have, desc="fill bucket", unit="obj", disable=not progress) as bar,
    ):
        for _ in pool.map(put, range(have, total)):
            bar.update()
    ledgered = [index for index in range(have, total) if _in_ledger(index)]
    rows = io.StringIO()
    for index in ledgered:
        rows.write(f"{bucket}\t{_key(index)}\t{BODY_ETAG}\tevents\tmerged\tbench\t2018-11-01\n")
    columns = "bucket, key, etag, dataset, status, load_id, staged_at"
    with (
        psycopg.connect(pipeline.endpoints.warehouse_url, autocommit=True) as connection,
        connection.cursor().copy(f"COPY load_ledger ({columns}) FROM STDIN") as copy,
    ):
        copy.write(rows.getvalue())
    return sum(map(_in_ledger, range(total)))


class BenchCountError(RuntimeError):
    """An operation saw another number of objects than the bucket holds: no figure is valid."""


def _measure(pipeline: LocalPipeline, total: int, missing: int) -> dict[str, Any]:
    target = pipeline.target
    s3, bucket = target.s3, target.bucket

    def listing() -> int:
        return sum(
            page.get("KeyCount", 0)
            for rule in landing_rules()
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=rule.prefix
            )
        )

    def reconciling() -> int:
        report = reconcile(target, grace=timedelta(0))
        if report.unaccounted != missing:
            raise BenchCountError(f"reconcile: {report.unaccounted} unaccounted, not {missing}")
        return report.listed

    def backfilling() -> int:
        # Each run announces the same objects again: none of them is staged meanwhile.
        summary = backfill(target)
        if summary.announced != missing:
            raise BenchCountError(f"backfill: announced {summary.announced}, not {missing}")
        return summary.listed

    listing()  # warm: the first calls open the client's connections
    figures: dict[str, Any] = {}
    for name, operation in (
        ("listing", listing),
        ("reconcile", reconciling),
        ("backfill", backfilling),
    ):
        seconds, listed = _timed(operation)
        if listed != total:
            raise BenchCountError(f"{name}: listed {listed} objects, the bucket holds {total}")
        figures[f"{name}_objects_per_s"] = round(listed / seconds)
        figures[f"{name}_peak_mb"] = round(_peak_mb(operation), 2)
    figures["reconcile_to_listing"] = round(
        figures["reconcile_objects_per_s"] / figures["listing_objects_per_s"], 3
    )
    figures["backfill_to_listing"] = round(
        figures["backfill_objects_per_s"] / figures["listing_objects_per_s"], 3
    )
    return figures


def _timed(operation: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = operation()
    return time.perf_counter() - started, count


def _peak_mb(operation: Callable[[], int]) -> float:
    tracemalloc.start()
    try:
        operation()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def render_completeness(r: dict[str, Any]) -> str:
    n = r["completeness_objects"]
    lines = [
        f"backfill and reconcile: {n:,} and {n * r['completeness_growth']:,} objects "
        f"({IN_LEDGER_SHARE:.0%} in the ledger), against a bare paginated listing",
        f"{'':<12} {'objects/s':>22} {'vs listing':>18} {'peak MB (Python)':>22}",
    ]
    for name in ("listing", "reconcile", "backfill"):
        rate = f"{r[f'{name}_objects_per_s_small']:,} / {r[f'{name}_objects_per_s_large']:,}"
        ratio = (
            f"{r[f'{name}_to_listing_small']:.2f} / {r[f'{name}_to_listing_large']:.2f}"
            if name != "listing"
            else "1 / 1"
        )
        peak = f"{r[f'{name}_peak_mb_small']:.2f} / {r[f'{name}_peak_mb_large']:.2f}"
        lines.append(f"{name:<12} {rate:>22} {ratio:>18} {peak:>22}")
    lines.append(
        f"memory growth at {r['completeness_growth']}x the objects: reconcile "
        f"{r['reconcile_memory_growth']:.2f}x, backfill {r['backfill_memory_growth']:.2f}x"
    )
    return "\n".join(lines)
