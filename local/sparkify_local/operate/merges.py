"""Start the merge state machine and follow an execution to its end, state by state: on the
local stack (moto's interpreter) and on a deployed stack alike."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sparkify_loader.arrival import EXECUTION_PREFIX
from sparkify_loader.merge_steps import STEP_RESULT, FailureResult, StepResult
from sparkify_local.runtime import interrupts

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

POLL_S = 0.2
MERGE_TIMEOUT_S = 3600

# What a state's step returned: one result, or one per branch of a Parallel state.
StateResult = StepResult | tuple[StepResult, ...]
ResultT = TypeVar("ResultT", bound=StepResult)


@dataclass(frozen=True)
class StateMachine:
    """The merge state machine of one stack."""

    sfn: SFNClient
    arn: str
    definition: str  # the ASL JSON it runs: where each state puts its step's result

    @property
    def result_keys(self) -> dict[str, str]:
        return _result_keys(json.loads(self.definition))


@dataclass
class MergeOutcome:
    status: str
    execution_arn: str
    # Every state as it exited, with its step's result (None: the state runs no step).
    states: list[tuple[str, StateResult | None]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # state name -> time spent in it
    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    def result(self, state: str, model: type[ResultT]) -> ResultT:
        """The result of the named state's step (the last time it exited)."""
        found = [result for name, result in self.states if name == state]
        if not found or not isinstance(found[-1], model):
            raise LookupError(f"state {state} returned no {model.__name__}: {found}")
        return found[-1]

    def results(self, model: type[ResultT]) -> list[ResultT]:
        """Every result of that kind, Parallel branches included, in the order states exited."""
        flat = [
            result
            for _, state_result in self.states
            for result in (state_result if isinstance(state_result, tuple) else [state_result])
        ]
        return [result for result in flat if isinstance(result, model)]

    def render(self) -> str:
        lines = [f"merge execution {self.execution_arn.rsplit(':', 1)[-1]}: {self.status}"]
        for name, result in self.states:
            if result:
                lines.append(f"  {name:<14} {describe_result(result)}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def run_merge(
    machine: StateMachine,
    execution_input: dict[str, Any] | None = None,
    on_state: Callable[[str, StateResult], None] = lambda _name, _result: None,
) -> MergeOutcome:
    """Start one execution and wait for it, reporting each state as it exits."""
    kind = "dryrun" if (execution_input or {}).get("dry_run") else "merge"
    execution = machine.sfn.start_execution(
        stateMachineArn=machine.arn,
        name=f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(execution_input or {}),
    )["executionArn"]
    return follow_execution(machine, execution, on_state)


def arrival_executions(machine: StateMachine, started_since: datetime) -> list[str]:
    """The executions the stage function started on arrival since then, oldest first."""
    paginator = machine.sfn.get_paginator("list_executions")
    found = [
        execution
        for page in paginator.paginate(stateMachineArn=machine.arn)
        for execution in page["executions"]
        if execution["name"].startswith(EXECUTION_PREFIX)
        and execution["startDate"] >= started_since
    ]
    return [execution["executionArn"] for execution in sorted(found, key=_started)]


def arrival_merges(
    machine: StateMachine,
    started_since: datetime,
    on_state: Callable[[str, StateResult], None] = lambda _name, _result: None,
) -> list[MergeOutcome]:
    """Follow every merge the stage function started on arrival since then to its end."""
    return [
        follow_execution(machine, execution, on_state)
        for execution in arrival_executions(machine, started_since)
    ]


def _started(execution: dict[str, Any]) -> datetime:
    return execution["startDate"]


def follow_execution(
    machine: StateMachine,
    execution: str,
    on_state: Callable[[str, StateResult], None] = lambda _name, _result: None,
) -> MergeOutcome:
    """Follow one execution to its end, reporting each state as it exits."""
    outcome = MergeOutcome(status="RUNNING", execution_arn=execution)
    result_keys = machine.result_keys
    seen = 0
    entered: dict[str, datetime] = {}
    deadline = time.monotonic() + MERGE_TIMEOUT_S
    # Taken between two polls: see runtime.interrupts.
    with interrupts.deferred():
        while True:
            interrupts.checkpoint()
            events = _history(machine.sfn, execution)
            for event in events[seen:]:
                entered_state = event.get("stateEnteredEventDetails")
                if entered_state:
                    entered[entered_state["name"]] = event["timestamp"]
                exited = event.get("stateExitedEventDetails")
                if exited and exited["name"] in entered:
                    outcome.seconds[exited["name"]] = (
                        event["timestamp"] - entered[exited["name"]]
                    ).total_seconds()
                if exited:
                    result = _state_result(exited, result_keys)
                    outcome.states.append((exited["name"], result))
                    if result:
                        on_state(exited["name"], result)
            seen = len(events)
            described = machine.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                outcome.status = described["status"]
                if "output" in described:
                    outcome.output = json.loads(described["output"])
                if described["status"] != "SUCCEEDED":
                    # The step's own error, as RecordFailure stored it, says more than
                    # "MergeFailed".
                    recorded = outcome.results(FailureResult)
                    outcome.error = (
                        (recorded[-1].error if recorded else None)
                        or _failure(events)
                        or described.get("cause")
                    )
                if len(_history(machine.sfn, execution)) == seen:
                    return outcome
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"merge execution {execution} still running after {MERGE_TIMEOUT_S}s"
                )
            time.sleep(POLL_S)


def _history(sfn: SFNClient, execution: str) -> list[dict[str, Any]]:
    paginator = sfn.get_paginator("get_execution_history")
    return [e for page in paginator.paginate(executionArn=execution) for e in page["events"]]


def _result_keys(definition: dict[str, Any]) -> dict[str, str]:
    """State name -> the key of the state output where its ResultPath puts the step's result
    (e.g. Lease -> lease), read from the definition so that the two cannot drift."""
    return {
        name: state["ResultPath"].removeprefix("$.")
        for name, state in definition["States"].items()
        if state["Type"] in ("Task", "Parallel") and state.get("ResultPath", "").startswith("$.")
    }


def _state_result(exited: dict[str, Any], result_keys: dict[str, str]) -> StateResult | None:
    """What the state's own step returned (at its ResultPath), from the state's output."""
    key = result_keys.get(exited["name"])
    try:
        output = json.loads(exited.get("output") or "null")
    except json.JSONDecodeError:
        return None
    if key is None or not isinstance(output, dict):
        return None
    value = output.get(key)
    if isinstance(value, list):  # a Parallel state: each branch's OutputPath is its result
        return tuple(STEP_RESULT.validate_python(branch) for branch in value)
    if isinstance(value, dict):  # a Task: {"result": <the function's payload>} (ResultSelector)
        return STEP_RESULT.validate_python(value["result"])
    return None  # the state failed: a Catch wrote the error elsewhere


def _failure(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        for detail_key in (
            "executionFailedEventDetails",
            "taskFailedEventDetails",
            "lambdaFunctionFailedEventDetails",
        ):
            detail = event.get(detail_key)
            if detail:
                return f"{detail.get('error', '')}: {detail.get('cause', '')}".strip(": ")
    return None


def describe_result(result: StateResult) -> str:
    if isinstance(result, tuple):
        return "; ".join(branch.describe() for branch in result)
    return result.describe()
