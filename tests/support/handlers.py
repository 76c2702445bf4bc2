"""The functions' handler modules, imported from their files as Lambda imports them, or run in a
warm worker process with the environment the template gives them; the EMF metrics they print."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.sam.template import function_wiring

if TYPE_CHECKING:
    from sparkify_local.pipeline import LocalPipeline


def handler_path(template: dict[str, Any], logical_id: str) -> Path:
    """The file of the function's handler, as the template names it."""
    wiring = function_wiring(template, logical_id)
    return wiring.code_uri / f"{wiring.module_name.replace('.', '/')}.py"


def import_handler_module(template: dict[str, Any], logical_id: str) -> ModuleType:
    """Import the handler's module afresh (a cold start: its settings are read now)."""
    spec = importlib.util.spec_from_file_location(
        f"handler_of_{logical_id}", handler_path(template, logical_id)
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_unreachable_local_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a local function whose warehouse the test never reaches."""
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://unused")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@contextmanager
def function_in_worker(
    pipeline: LocalPipeline,
    logical_id: str,
    log_path: Path,
    parameters: Mapping[str, str] | None = None,
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Invoke the function's real handler in one warm environment (a worker process, as the
    local runtime runs the stage function), with its template environment for the local stack
    and these parameter overrides; each call returns Lambda's view of the invocation
    (``{"payload": …}`` or ``{"errorType": …, "errorMessage": …}``). The function's stdout
    (its log lines and EMF metrics) goes to ``log_path``."""
    wiring = pipeline.stack.function(logical_id)
    environment = pipeline.stack.function_environment(wiring, parameters)
    with FunctionPool(wiring, environment, log_path, concurrency=1) as pool:
        yield lambda event: pool.invoke(event).result(timeout=wiring.timeout_seconds)


@dataclass(frozen=True)
class EmfRecord:
    """One CloudWatch embedded-metric-format record: its namespace, dimensions and each
    metric's values (EMF allows one value or a list of them; lists here)."""

    namespace: str
    dimensions: dict[str, str]
    values: dict[str, list[float]]


def emf_records(log: str) -> list[EmfRecord]:
    """The EMF records among a function's output lines, in order."""
    records = []
    for line in log.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = [metric["Name"] for metric in directive["Metrics"]]
            dimensions = {
                name: document[name] for group in directive["Dimensions"] for name in group
            }
            values = {
                name: document[name] if isinstance(document[name], list) else [document[name]]
                for name in names
            }
            records.append(EmfRecord(directive["Namespace"], dimensions, values))
    return records
