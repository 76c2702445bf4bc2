"""Run a function's real handler locally, in worker processes, each with its own environment.

A worker process is a warm Lambda execution environment: it imports the handler module once
(cold start, with the function's environment from the template) and then serves invocations.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import traceback
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkify_local.runtime.faults import FaultPlan
from sparkify_local.sam.template import FunctionWiring

_handler: Any = None
_function_name = ""
_timeout_ms = 0


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    timeout_ms: int = 60_000

    def __post_init__(self) -> None:
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def _cold_start(
    environment: dict[str, str],
    code_dir: str,
    module: str,
    function: str,
    log_path: str,
    name: str,
    timeout_ms: int,
) -> None:
    global _handler, _function_name, _timeout_ms
    # When the parent runs as a script, spawn re-imports it here first (multiprocessing's
    # main-module fixup), which may import our library under the parent's environment. Forget
    # those modules, so this cold start imports them afresh with the function's environment.
    for module_name in list(sys.modules):
        if module_name.partition(".")[0] in {"sparkify_loader", "aws_lambda_powertools"}:
            del sys.modules[module_name]
    os.environ.update(environment)
    # The function's log (Powertools JSON lines) goes to a file, as CloudWatch Logs would hold it.
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the worker
    sys.stdout = sys.stderr = log
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(
        f"{name}_{module}", Path(code_dir) / f"{module}.py"
    )
    assert spec and spec.loader
    handler_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler_module)
    _handler = getattr(handler_module, function)
    _function_name = name
    _timeout_ms = timeout_ms


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = _handler(event, LocalLambdaContext(_function_name, timeout_ms=_timeout_ms))
    except Exception as error:  # a function error, reported as Lambda reports it
        traceback.print_exc()
        return {"errorType": type(error).__name__, "errorMessage": str(error)}
    return {"payload": payload}


class FunctionPool:
    """Up to ``concurrency`` warm environments of one function."""

    def __init__(
        self,
        wiring: FunctionWiring,
        environment: dict[str, str],
        log_path: Path,
        concurrency: int,
        faults: FaultPlan | None = None,
    ) -> None:
        self._name = wiring.logical_id
        self._faults = faults
        self._executor = ProcessPoolExecutor(
            max_workers=concurrency,
            # spawn: a clean interpreter per environment, as Lambda starts one.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_cold_start,
            initargs=(
                environment,
                str(wiring.code_uri),
                wiring.module_name,
                wiring.function_name,
                str(log_path),
                wiring.logical_id,
                wiring.timeout_seconds * 1000,
            ),
        )

    def invoke(self, event: dict[str, Any]) -> Future[dict[str, Any]]:
        """Run the handler in a warm environment; the result is Lambda's view of the call."""
        if self._faults is None:
            return self._executor.submit(_invoke, event)
        outcome: Future[dict[str, Any]] = Future()
        died_before = self._faults.take(self._name, event, "before")
        if died_before:
            outcome.set_result(died_before)
            return outcome

        def report(handled: Future[dict[str, Any]]) -> None:
            result = handled.result()
            if "errorType" not in result:
                result = self._faults.take(self._name, event, "after") or result  # type: ignore[union-attr]
            outcome.set_result(result)

        self._executor.submit(_invoke, event).add_done_callback(report)
        return outcome

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
