"""The backfill and reconcile benchmark measures what it claims: every operation sees every
object of the bucket, reconcile finds exactly the objects the ledger lacks and backfill announces
exactly those (the benchmark refuses to report figures otherwise)."""

from __future__ import annotations

from pathlib import Path

from sparkify_local.bench.completeness import GROWTH, run_completeness_bench
from sparkify_local.home import Home


def test_the_completeness_bench_reports_rates_and_peaks_for_both_sizes(tmp_path: Path) -> None:
    # When the benchmark runs on a bucket of 40 objects, then of 400
    results = run_completeness_bench(Home(tmp_path / "bench"), objects=40, progress=False)

    # Then each operation has a rate and a traced peak at both sizes
    assert results["completeness_objects"] == 40 and results["completeness_growth"] == GROWTH
    for operation in ("listing", "reconcile", "backfill"):
        for size in ("small", "large"):
            assert results[f"{operation}_objects_per_s_{size}"] > 0
            assert results[f"{operation}_peak_mb_{size}"] > 0
    # And the growth of memory is the ratio of the two peaks
    assert results["reconcile_memory_growth"] == round(
        results["reconcile_peak_mb_large"] / results["reconcile_peak_mb_small"], 2
    )
