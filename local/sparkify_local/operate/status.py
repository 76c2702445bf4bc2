"""``sparkify status``: a stack's ledger, staging backlog, last merges and queues."""

from __future__ import annotations

from sparkify_loader.sqlfiles import render_sql
from sparkify_local.operate.target import StackTarget

SHOWN_ERROR_CHARS = 200


def render_status(target: StackTarget) -> str:
    ledger = target.rows(render_sql("cli/ledger_by_status.sql"))
    staged = target.rows(render_sql("cli/staging_backlog.sql"))[0]
    queue = target.stage_queue_depth()
    lines = ["ledger (dataset, status, files, rows):"]
    lines += [f"  {d:<7} {s:<11} {n:>8} {r:>10}" for d, s, n, r in ledger] or ["  (empty)"]
    lines.append(f"staging backlog: {staged[0]} event rows, {staged[1]} song rows")
    runs = target.rows(render_sql("cli/last_merges.sql"))
    lines.append("last merges (newest first):" if runs else "no merge has run yet")
    for merge_id, started, finished, status, files, error in runs:
        took = f"{(finished - started).total_seconds():.1f}s" if finished else "running"
        lines.append(
            f"  {started:%Y-%m-%d %H:%M:%S} {status:<9} {files} files, {took}, {merge_id}"
            + (f"\n    {error[:SHOWN_ERROR_CHARS]}" if error else "")
        )
    lines.append(
        f"stage queue: {queue.waiting} waiting, {queue.in_flight} in flight; "
        f"dead-letter queue: {target.dead_letter_depth()}"
    )
    return "\n".join(lines)
