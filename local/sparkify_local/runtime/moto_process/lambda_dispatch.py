"""Runs inside the moto server process: hands moto's Lambda invocations to our real handlers.

moto's Step Functions interpreter runs the real ASL definition and calls Lambda for every Task;
with ``lambda.use_docker = False`` those calls reach ``LambdaSimpleBackend.invoke``. Replacing
that one method routes each call to the function's handler in a warm worker process
(``FunctionPool``) with the function's own environment from template.yaml. A handler exception
becomes a Lambda function error ({"errorType", "errorMessage"} with x-amz-function-error), which
the state machine's Retry and Catch match by errorType, as on AWS.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sparkify_local.home import Home
from sparkify_local.runtime.faults import FaultPlan
from sparkify_local.runtime.function_pool import FunctionPool
from sparkify_local.runtime.processes import Endpoints

# Enough warm environments for the widest Parallel state (four dimensions).
POOL_CONCURRENCY = 4


class LambdaDispatcher:
    def __init__(self, home: Home) -> None:
        self._home = home
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        event = json.loads(body) if body else {}
        result = self._pool(_logical_id(function_name)).invoke(event).result()
        if "errorType" in result:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result).encode()
        return json.dumps(result["payload"]).encode()

    def _pool(self, logical_id: str) -> FunctionPool:
        with self._lock:
            if logical_id not in self._pools:
                from sparkify_local.runtime.resources import LocalResources
                from sparkify_local.runtime.telemetry import TelemetryTarget

                stack = LocalResources(Endpoints.from_state(self._home.read_state()))
                wiring = stack.function(logical_id)
                self._pools[logical_id] = FunctionPool(
                    wiring,
                    stack.function_environment(wiring),
                    self._home.logs / f"{logical_id}.log",
                    concurrency=POOL_CONCURRENCY,
                    faults=FaultPlan(self._home),
                    telemetry=TelemetryTarget.of(stack, logical_id),
                )
            return self._pools[logical_id]

    def close(self) -> None:
        """Stop every warm environment now, handlers running or not."""
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def _logical_id(function_name: str) -> str:
    """Function name from a name or ARN (arn:aws:lambda:region:account:function:Name[:alias])."""
    parts = function_name.split(":")
    return parts[6] if len(parts) >= 7 else function_name


def install(home: Home) -> LambdaDispatcher:
    """Configure moto for local execution and route Lambda invokes to our handlers."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.config import default_user_config

    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    dispatcher = LambdaDispatcher(home)

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        return dispatcher.invoke(function_name, body, response_headers)

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    return dispatcher
