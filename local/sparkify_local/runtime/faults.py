"""Fault injection for the local runtime's fault tests, thrown from the command's process.

Two switches, each a file in the home: ``faults.json`` kills function invocations (read by the
function pools, in whichever process runs them), ``s3-outage.json`` makes the moto server answer
S3 with 503 for a while (read by ``moto_process.s3_outage``). Absent files: no faults.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sparkify_local.home import Home

OUTAGE_FILE = "s3-outage.json"


def start_s3_outage(home: Home, seconds: float) -> None:
    path = home.root / OUTAGE_FILE
    pending = path.with_suffix(".pending")
    pending.write_text(json.dumps({"until": time.time() + seconds}))
    pending.replace(path)  # atomic: the server never reads half a file


class FaultPlan:
    """Crash injection for fault tests, read from ``$SPARKIFY_HOME/faults.json``.

    Each fault names a function, a subset of the event to match (e.g. ``{"step": "write",
    "table": "users"}``), ``"when"``: ``"before"`` (the invocation dies before the handler runs)
    or ``"after"`` (the handler ran and committed, then the invocation died before returning),
    how many ``"times"`` it fires, and optionally the ``"error"`` it fails with (default
    ``InjectedFault``, which no Retry names; ``Lambda.ServiceException``, for one, is retried as
    a lost reply would be). Absent file: no faults. Local runtime only.
    """

    def __init__(self, home: Home) -> None:
        self._path = home.root / "faults.json"
        self._lock = threading.Lock()

    def take(self, function: str, event: dict[str, Any], when: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                faults = json.loads(self._path.read_text())
            except FileNotFoundError:
                return None
            for fault in faults:
                matches = all(event.get(key) == value for key, value in fault["match"].items())
                if fault["function"] == function and fault["when"] == when and matches:
                    if fault.get("times", 1) <= 0:
                        continue
                    fault["times"] = fault.get("times", 1) - 1
                    self._path.write_text(json.dumps(faults))
                    return {
                        "errorType": fault.get("error", "InjectedFault"),
                        "errorMessage": f"injected crash {when} {fault['match']}",
                    }
            return None
