"""The merge state machine's definition as tests read it: its states, its Tasks' payloads, and
those payloads filled in the way Step Functions fills them during a run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sparkify_loader.merge import AuditFailedError
from sparkify_loader.merge_steps import LeaseResult

ROOT = Path(__file__).resolve().parents[2]

# The state input a Task of a real run sees: the Lease result where its ResultSelector and
# ResultPath put it, and a failed step's error where the Catch blocks put it.
SAMPLE_STATE_INPUT: dict[str, Any] = {
    "lease": {
        "result": LeaseResult(
            acquired=True, merge_id="0123456789abcdef0123456789abcdef", files=3, loads=2
        ).model_dump(mode="json")
    },
    "error": {
        "Error": AuditFailedError.__name__,
        "Cause": "audit failed, nothing published: duplicate_users=1",
    },
}
SAMPLE_CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:aws:states:us-west-2:123456789012:execution:merge:run-1"}
}


def merge_definition(template: dict[str, Any]) -> dict[str, Any]:
    """The ASL file the template deploys as the merge state machine."""
    properties = template["Resources"]["MergeStateMachine"]["Properties"]
    return dict(json.loads((ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8")))


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches."""
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"])


def tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state by name."""
    return {
        name: state for name, state in all_states(definition["States"]) if state["Type"] == "Task"
    }


def task_payloads(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What each Task asks the merge function, as written (JSONPaths unresolved)."""
    return {name: state["Parameters"]["Payload"] for name, state in tasks(definition).items()}


def resolve_path(path: str, state_input: dict[str, Any], context: dict[str, Any]) -> Any:
    """A reference path (``$.a.b``, ``$$.Execution.Id``) as Step Functions resolves it; a
    missing field raises, as it fails the state (States.Runtime) on AWS."""
    document, rest = (context, path[2:]) if path.startswith("$$") else (state_input, path[1:])
    value: Any = document
    for field in filter(None, rest.split(".")):
        if not isinstance(value, dict) or field not in value:
            raise KeyError(f"{path}: no field {field!r}")
        value = value[field]
    return value


def resolve_payload(
    payload: dict[str, Any],
    state_input: dict[str, Any] = SAMPLE_STATE_INPUT,
    context: dict[str, Any] = SAMPLE_CONTEXT,
) -> dict[str, Any]:
    """The event the function receives: each ``"key.$": path`` becomes ``"key": value``."""
    return {
        key.removesuffix(".$"): (
            resolve_path(value, state_input, context) if key.endswith(".$") else value
        )
        for key, value in payload.items()
    }
