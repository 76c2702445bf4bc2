"""Start the merge state machine on moto and follow the execution to its end, state by state."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sparkify_local.runtime.resources import LocalResources

POLL_S = 0.2
MERGE_TIMEOUT_S = 3600


@dataclass
class MergeOutcome:
    status: str
    execution_arn: str
    states: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # state name -> time spent in it
    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"

    def render(self) -> str:
        lines = [f"merge execution {self.execution_arn.rsplit(':', 1)[-1]}: {self.status}"]
        for name, result in self.states:
            if result:
                lines.append(f"  {name:<14} {describe_result(result)}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def run_merge(
    stack: LocalResources,
    execution_input: dict[str, Any] | None = None,
    on_state: Callable[[str, dict[str, Any] | None], None] = lambda _name, _result: None,
) -> MergeOutcome:
    """Start one execution and wait for it, reporting each state as it exits."""
    arn = stack.ensure_state_machine()
    kind = "dryrun" if (execution_input or {}).get("dry_run") else "merge"
    execution = stack.sfn.start_execution(
        stateMachineArn=arn,
        name=f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(execution_input or {}),
    )["executionArn"]
    outcome = MergeOutcome(status="RUNNING", execution_arn=execution)
    seen = 0
    entered: dict[str, datetime] = {}
    deadline = time.monotonic() + MERGE_TIMEOUT_S
    while True:
        events = _history(stack, execution)
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
                result = _state_result(exited)
                outcome.states.append((exited["name"], result))
                if result:
                    on_state(exited["name"], result)
        seen = len(events)
        described = stack.sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            outcome.status = described["status"]
            if "output" in described:
                outcome.output = json.loads(described["output"])
            if described["status"] != "SUCCEEDED":
                # The step's own error, as RecordFailure stored it, says more than "MergeFailed".
                recorded = dict(outcome.states).get("RecordFailure") or {}
                outcome.error = recorded.get("error") or _failure(events) or described.get("cause")
            if len(_history(stack, execution)) == seen:
                return outcome
            continue
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"merge execution {execution} still running after {MERGE_TIMEOUT_S}s"
            )
        time.sleep(POLL_S)


def _history(stack: LocalResources, execution: str) -> list[dict[str, Any]]:
    paginator = stack.sfn.get_paginator("get_execution_history")
    return [e for page in paginator.paginate(executionArn=execution) for e in page["events"]]


def _state_result(exited: dict[str, Any]) -> dict[str, Any] | None:
    """What the state's own step returned (its ResultPath), from the state's output."""
    try:
        output = json.loads(exited.get("output") or "null")
    except json.JSONDecodeError:
        return None
    if isinstance(output, list):  # a Parallel state: one result per branch
        return {"branches": output}
    if not isinstance(output, dict):
        return None
    key = {
        "Lease": "lease",
        "Dimensions": "dimensions",
        "Songplays": "songplays",
        "Rematch": "rematch",
        "QualityChecks": "quality",
        "Finalize": "finalize",
        "DryRun": "dry_run_report",
        "RecordFailure": "failure",
    }.get(exited["name"])
    value = output.get(key) if key else None
    if isinstance(value, dict) and "result" in value:
        return value["result"]
    if isinstance(value, list):
        return {"branches": value}
    return value


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


def describe_result(result: dict[str, Any] | None) -> str:
    if not result:
        return ""
    if result.get("dry_run"):
        if not result.get("files"):
            return "dry run: nothing staged, nothing would change"
        tables = "; ".join(describe_result(table) for table in result["tables"])
        failed = [name for name, count in result["checks"].items() if count]
        return (
            f"dry run over {result['files']} staged files: {tables}; "
            f"{describe_result(result['rematch'])}; "
            + (f"checks would FAIL: {', '.join(failed)}" if failed else "checks would pass")
        )
    if "branches" in result:
        return "; ".join(describe_result(branch) for branch in result["branches"])
    if "inserted" in result:
        return f"{result['table']}: {result['inserted']} inserted, {result['updated']} updated"
    if "rematched" in result:
        return f"rematched {result['rematched']} earlier plays" + (
            f" ({result['reason']})" if result.get("reason") else ""
        )
    if "checks" in result:
        return "checks passed: " + ", ".join(sorted(result["checks"]))
    if "acquired" in result:
        return (
            f"claimed {result['files']} files in {result['loads']} loads"
            if result["acquired"]
            else f"no merge: {result['reason']}"
        )
    if "files_merged" in result:
        return f"{result['files_merged']} files merged, latency max {result['latency_max_s']}s"
    return json.dumps(result, default=str)
