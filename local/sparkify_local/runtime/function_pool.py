"""Run a function's real handler locally, in worker processes, each with its own environment.

A worker process is a warm Lambda execution environment: it imports the handler module once
(cold start, with the function's environment from the template) and then serves invocations.
Workers belong to the process that started them: they ignore Ctrl-C (which the terminal sends
to the whole process group; the parent decides what it means), stop when the pool closes,
running handler or not, and exit by themselves if their parent dies.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import Any, cast

from sparkify_local.runtime import proc
from sparkify_local.runtime.faults import FaultPlan
from sparkify_local.runtime.telemetry import CapturingLog, Shipper, TelemetryTarget
from sparkify_local.sam.template import FunctionWiring

_handler: Any = None
_function_name = ""
_timeout_ms = 0
_output: CapturingLog | None = None
_shipper: Shipper | None = None
PARENT_CHECK_S = 0.5
WORKER_STOP_TIMEOUT_S = 5.0
# What Lambda reports when a function's runtime process exits during an invocation.
WORKER_DIED = "Runtime.ExitError"


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


class _WorkerProcess(SpawnProcess):
    """A worker started with SIGINT blocked: a child inherits the signal mask across fork and
    exec, so a Ctrl-C that arrives while it boots waits, and is dropped once ``_cold_start``
    ignores SIGINT. Without this, Ctrl-C during a worker's start printed its traceback."""

    def start(self) -> None:
        with proc.signals_blocked(signal.SIGINT):
            super().start()


class _WorkerContext(SpawnContext):
    """spawn (a clean interpreter per environment, as Lambda starts one) that keeps the workers
    it makes, so the pool can stop them: ProcessPoolExecutor can only wait for them."""

    def __init__(self) -> None:
        super().__init__()
        self.workers: list[SpawnProcess] = []

    # ProcessPoolExecutor calls context.Process(target=..., args=...) and nothing else of it.
    def Process(self, *args: Any, **kwargs: Any) -> SpawnProcess:  # type: ignore[override]
        worker = _WorkerProcess(*args, **kwargs)
        self.workers.append(worker)
        return worker


def _exit_with_parent(parent_pid: int) -> None:
    """An environment never outlives the runtime that started it (a parent killed with SIGKILL
    cannot stop its workers, and an idle worker would wait for work forever)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _cold_start(
    parent_pid: int,
    environment: dict[str, str],
    code_dir: str,
    module: str,
    function: str,
    log_path: str,
    name: str,
    timeout_ms: int,
    telemetry: TelemetryTarget | None,
) -> None:
    global _handler, _function_name, _timeout_ms, _output, _shipper
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    # When the parent runs as a script, spawn re-imports it here first (multiprocessing's
    # main-module fixup), which may import our library under the parent's environment. Forget
    # those modules, so this cold start imports them afresh with the function's environment.
    for module_name in list(sys.modules):
        if module_name.partition(".")[0] in {"sparkify_loader", "aws_lambda_powertools"}:
            del sys.modules[module_name]
    os.environ.update(environment)
    # The function's log (Powertools JSON lines) goes to a file, as CloudWatch Logs would hold it.
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the worker
    # Set before the handler's import: Powertools' logger keeps the sys.stdout it finds then.
    _output = CapturingLog(log)
    sys.stdout = sys.stderr = _output
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
    _shipper = Shipper(telemetry) if telemetry is not None else None


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        payload = _handler(event, LocalLambdaContext(_function_name, timeout_ms=_timeout_ms))
        result: dict[str, Any] = {"payload": payload}
    except Exception as error:  # a function error, reported as Lambda reports it
        traceback.print_exc()
        result = {"errorType": type(error).__name__, "errorMessage": str(error)}
    _ship(duration_ms=(time.monotonic() - started) * 1000, failed="errorType" in result)
    return result


def _ship(duration_ms: float, failed: bool) -> None:
    """Hand the invocation's output to CloudWatch before its result, so whoever saw the
    invocation end can query its metrics. Telemetry never fails an invocation (on AWS it is
    delivered apart from it): a failure to ship is written to the function's log."""
    assert _output is not None
    lines = _output.take()
    if _shipper is None:
        return
    try:
        _shipper.ship(lines, duration_ms, failed)
    except Exception as error:
        print(f"telemetry not delivered to the local CloudWatch: {error!r}")


class FunctionPool:
    """Up to ``concurrency`` warm environments of one function."""

    def __init__(
        self,
        wiring: FunctionWiring,
        environment: dict[str, str],
        log_path: Path,
        concurrency: int,
        faults: FaultPlan | None = None,
        telemetry: TelemetryTarget | None = None,
    ) -> None:
        self._name = wiring.logical_id
        self._faults = faults
        self._concurrency = concurrency
        self._initargs = (
            os.getpid(),
            environment,
            str(wiring.code_uri),
            wiring.module_name,
            wiring.function_name,
            str(log_path),
            wiring.logical_id,
            wiring.timeout_seconds * 1000,
            telemetry,
        )
        self._context = _WorkerContext()
        self._executor = self._new_executor()
        # Set from the executor's own thread when a worker died; replaced on the next invoke.
        self._broken: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._concurrency,
            mp_context=self._context,
            initializer=_cold_start,
            initargs=self._initargs,
        )

    def invoke(self, event: dict[str, Any]) -> Future[dict[str, Any]]:
        """Run the handler in a warm environment; the result is Lambda's view of the call.

        A worker that dies (killed, out of memory) fails the invocations it and its pool were
        running, as Lambda reports a runtime that exited; the next invocation gets fresh
        environments, as Lambda starts new ones.
        """
        outcome: Future[dict[str, Any]] = Future()
        if self._faults is not None and (died := self._faults.take(self._name, event, "before")):
            outcome.set_result(died)
            return outcome
        if self._broken is self._executor:
            self._replace_executor()
        try:
            handled = self._executor.submit(_invoke, event)
        except BrokenProcessPool:  # it broke before its own thread could say so
            self._replace_executor()
            handled = self._executor.submit(_invoke, event)
        executor = self._executor

        def report(handled: Future[dict[str, Any]]) -> None:
            if handled.cancelled():
                outcome.cancel()
                return
            if isinstance(error := handled.exception(), BrokenProcessPool):
                self._broken = executor
                outcome.set_result(self._worker_died(error))
                return
            if error is not None:
                outcome.set_exception(error)
                return
            result = handled.result()
            if self._faults is not None and "errorType" not in result:
                result = self._faults.take(self._name, event, "after") or result
            outcome.set_result(result)

        handled.add_done_callback(report)
        return outcome

    def _worker_died(self, error: BrokenProcessPool) -> dict[str, Any]:
        return {
            "errorType": WORKER_DIED,
            "errorMessage": f"a worker process of {self._name} died ({error})",
        }

    def _replace_executor(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._stop_workers()
        self._executor = self._new_executor()

    def close(self) -> None:
        """Stop every environment now. An invocation still running is abandoned, as when
        Lambda's runtime goes away; handing its messages back is the event source's part.

        Waits for the executor's manager thread to end (it does once the workers are gone): at
        interpreter exit, CPython 3.11's ``concurrent.futures.process._python_exit`` wakes every
        manager thread still registered without taking its lock ("call not protected by
        ProcessPoolExecutor._shutdown_lock"), and one that is closing its wake-up pipe in that
        moment makes the exit print ``OSError: [Errno 9] Bad file descriptor`` (seen once after
        a Ctrl-C). A finished manager thread has closed its pipe, which makes the wake-up a
        no-op.
        """
        # Private, and read before shutdown(), which forgets it (typeshed mistypes it).
        manager = cast("threading.Thread | None", self._executor._executor_manager_thread)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._stop_workers()
        if manager is not None:
            manager.join(WORKER_STOP_TIMEOUT_S)

    def _stop_workers(self) -> None:
        for worker in self._context.workers:
            worker.terminate()
        deadline = time.monotonic() + WORKER_STOP_TIMEOUT_S
        for worker in self._context.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
        self._context.workers.clear()

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
