"""Waiting for sessions to queue on a lock the test holds, in the local PostgreSQL."""

from __future__ import annotations

import time

import psycopg

WAIT_S = 30.0


def wait_until_blocked(holder: psycopg.Connection, backends: int) -> None:
    """Wait until ``backends`` sessions wait on a lock (a deadline, not a timing assertion: a
    transaction that never blocks fails here with a clear message)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        # Inside the holder's transaction PostgreSQL would answer from the snapshot of its first
        # read, which never shows a session that connected later (a worker's cold start).
        holder.execute("SELECT pg_stat_clear_snapshot()")
        row = holder.execute(
            "SELECT COUNT(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
        if row is not None and row[0] >= backends:
            return
        time.sleep(0.02)
    raise AssertionError(f"{backends} transactions did not queue on the held lock")
