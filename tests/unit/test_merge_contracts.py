"""The merge function's contract with the state machine (``sparkify_loader.merge_steps``).

Every Task's payload is one of the step models, every path the ASL reads from a step's result is
a field of that result's model, every error name the ASL matches is an exception class the code
raises, and every Retry block is the one retry policy below.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError, parse

import sparkify_loader
from sparkify_loader.merge_steps import (
    STEP_RESULT,
    AuditResult,
    DryRunReport,
    FailureResult,
    FinalizeResult,
    LeaseResult,
    MergeStep,
    MergeStepInput,
    MergeStepResult,
    PublishResult,
    StepResult,
    TablePublished,
    WriteResult,
)
from sparkify_loader.warehouse.errors import (
    SerializationConflict,
    TransientError,
    TransientWarehouseError,
)
from sparkify_local.operate.merges import MergeOutcome
from sparkify_local.runtime.function_pool import LocalLambdaContext
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import function_wiring
from tests.support.handlers import import_handler_module, set_unreachable_local_warehouse
from tests.support.statemachine import (
    ROOT,
    all_states,
    merge_definition,
    resolve_payload,
    task_payloads,
    tasks,
)

LIBRARY = Path(sparkify_loader.__file__).parent

# Errors of the Lambda service integration itself, not of our code (Step Functions' names).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]

# The one retry policy of every Task and of the Parallel state. The ASL is JSON and cannot share a
# block, so its copies are compared with this one: a policy change is made here and the test
# lists every state still on the old one. Step Functions matches a function error's errorType by
# exact name, not by class hierarchy, so each transient class the merge raises is listed, by its
# class: renaming one breaks this test until the ASL says the new name.
TASK_RETRY = [
    {
        "ErrorEquals": [
            SerializationConflict.__name__,
            TransientWarehouseError.__name__,
            TransientError.__name__,
            *LAMBDA_SERVICE_ERRORS,
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    }
]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    return merge_definition(template)


def _result_models() -> dict[str, type[StepResult]]:
    """Step name -> the model of what that step returns."""
    return {model.model_fields["step"].default: model for model in get_args(MergeStepResult)}


def _paths_read(node: Any) -> list[str]:
    """Every reference path the definition reads: Parameters' ``key.$`` values, Choice
    variables, InputPath and OutputPath."""
    if isinstance(node, list):
        return [path for item in node for path in _paths_read(item)]
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        reads = key.endswith(".$") or key in ("Variable", "InputPath", "OutputPath")
        if reads and isinstance(value, str):
            found.append(value)
        found += _paths_read(value)
    return found


def _raised_exceptions() -> dict[str, type[BaseException]]:
    """The library's exception classes that its code constructs (``raise X(...)``, or a
    function returning ``X(...)`` for its caller to raise), by name."""
    defined: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages([str(LIBRARY)], "sparkify_loader."):
        module: ModuleType = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            is_exception = isinstance(value, type) and issubclass(value, BaseException)
            if is_exception and value.__module__.startswith("sparkify_loader."):
                defined[name] = value
    constructed = {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for source in LIBRARY.rglob("*.py")
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }
    return {name: cls for name, cls in defined.items() if name in constructed}


# --- Inputs --------------------------------------------------------------------------------------


def test_every_task_payload_parses_into_the_step_it_names(definition: dict[str, Any]) -> None:
    # Given what each Task sends the function in a run (paths filled from a real Lease result)
    events = {name: resolve_payload(payload) for name, payload in task_payloads(definition).items()}

    # When Powertools' parser reads each one as the handler does
    steps = {name: parse(event=event, model=MergeStep).root for name, event in events.items()}

    # Then each is the model of the step it names, and every step model is asked for by a Task
    assert {name: step.step for name, step in steps.items()} == {
        name: event["step"] for name, event in events.items()
    }
    assert {type(step) for step in steps.values()} == set(get_args(MergeStepInput))


# The handler fails before any step runs: Powertools warns that it has no metric to flush.
NO_METRICS_WARNING = "ignore:No application metrics to publish"


@pytest.mark.filterwarnings(NO_METRICS_WARNING)
@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"step": "write", "table": "users"}, "merge_id"),
        ({"step": "write", "table": "playlists", "merge_id": "m1"}, "table"),
        ({"step": "finalize", "merge_id": ""}, "merge_id"),
        ({"step": "fail", "merge_id": "m1", "error": "boom"}, "error"),
        ({"step": "fail", "merge_id": "m1", "error": {"Cause": "boom"}}, "Error"),
        ({"step": "lease", "execution_arn": "arn"}, "execution_arn"),
    ],
    ids=[
        "missing merge_id",
        "unknown table",
        "empty merge_id",
        "error not an object",
        "error without a name",
        "unknown field",
    ],
)
def test_the_handler_rejects_an_invalid_payload_naming_the_field(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], field: str
) -> None:
    # Given the merge handler, imported as Lambda does (a warehouse it never reaches)
    handler = _merge_handler(template, monkeypatch)

    # When it receives a payload that fits no step
    with pytest.raises(ValidationError) as raised:
        handler(event, LocalLambdaContext("MergeFunction"))

    # Then the validation error points at the field, under the step's model
    (error,) = raised.value.errors()
    assert error["loc"][0] == event["step"]
    assert error["loc"][-1] == field, error


@pytest.mark.filterwarnings(NO_METRICS_WARNING)
def test_the_handler_rejects_a_step_it_does_not_have_naming_the_choices(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the merge handler
    handler = _merge_handler(template, monkeypatch)

    # When asked for a step that does not exist
    with pytest.raises(ValidationError) as raised:
        handler({"step": "vacuum", "merge_id": "m1"}, LocalLambdaContext("MergeFunction"))

    # Then the error names the discriminator, the bad value and the steps there are
    message = str(raised.value)
    assert "'step'" in message and "'vacuum'" in message
    assert "'lease'" in message and "'finalize'" in message


def _merge_handler(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    set_unreachable_local_warehouse(monkeypatch)
    module = import_handler_module(template, "MergeFunction")
    return getattr(module, function_wiring(template, "MergeFunction").function_name)


# --- Results -------------------------------------------------------------------------------------


def test_every_path_the_asl_reads_from_a_result_is_a_field_of_its_model(
    definition: dict[str, Any],
) -> None:
    # Given where each Task puts its step's result (ResultPath; ResultSelector adds ".result")
    models = _result_models()
    result_at: dict[str, type[StepResult]] = {}
    for name, task in tasks(definition).items():
        key = task["ResultPath"].removeprefix("$.")
        model = models[task["Parameters"]["Payload"]["step"]]
        assert result_at.setdefault(key, model) is model, f"{name}: two results at $.{key}"

    # When reading every path the definition reads below one of those places
    reads = [path.split(".") for path in _paths_read(definition)]
    into_results = [parts for parts in reads if parts[0] == "$" and parts[1] in result_at]

    # Then each goes through ".result" to a field the result's model has
    assert into_results, "expected the ASL to read the lease's merge_id and acquired"
    for parts in into_results:
        assert parts[2:3] == ["result"], ".".join(parts)
        model = result_at[parts[1]]
        assert parts[3:4] == [] or parts[3] in model.model_fields, ".".join(parts)
    assert ["$", "lease", "result", "merge_id"] in into_results
    assert ["$", "lease", "result", "acquired"] in into_results


PUBLISHED = PublishResult(
    tables=[
        TablePublished(table="users", inserted=1, updated=1),
        TablePublished(table="songplays", inserted=3, updated=0),
    ],
    rematched=2,
    files_merged=3,
    latency_max_s=2.5,
    latency_min_s=1.25,
)
RESULTS: list[StepResult] = [
    LeaseResult(acquired=True, merge_id="m1", files=3, loads=2),
    LeaseResult(acquired=False, reason="nothing staged", files=0, loads=0),
    WriteResult(table="songplays", rows={"work_songplays": 3, "work_time": 2, "work_rematch": 0}),
    AuditResult(checks={"duplicate_work_users": 0}),
    PUBLISHED,
    FinalizeResult(work_rows_removed=7),
    FailureResult(merge_id="m1", released=True, error="X: y", error_type="X"),
    DryRunReport(
        files=1,
        loads=1,
        writes=[WriteResult(table="users", rows={"work_users": 1})],
        checks={"duplicate_work_users": 0},
        publish=PUBLISHED,
    ),
    DryRunReport(files=1, loads=1, writes=[], checks={"plays_without_user": 2}, publish=None),
]


@pytest.mark.parametrize("result", RESULTS, ids=lambda result: type(result).__name__)
def test_a_result_survives_the_trip_through_json(result: StepResult) -> None:
    # Given a step's result as the handler returns it to Lambda
    returned = json.dumps(result.model_dump(mode="json"))

    # When it is read back from the execution history, not knowing which step returned it
    read_back = STEP_RESULT.validate_json(returned)

    # Then it is the same result
    assert read_back == result


def test_a_lease_result_has_a_merge_id_exactly_when_acquired() -> None:
    # Given / When a lease result that claims the lease without naming the merge
    # Then it is refused: every later Task reads $.lease.result.merge_id
    with pytest.raises(ValidationError, match="merge_id"):
        LeaseResult(acquired=True, files=1, loads=1)


def test_the_merge_outcome_reads_as_the_cli_prints_it() -> None:
    # Given the results a successful run's states returned
    outcome = MergeOutcome(
        status="SUCCEEDED",
        execution_arn="arn:aws:states:us-west-2:123456789012:execution:merge:run-1",
        states=[
            ("IsDryRun", None),
            ("Lease", LeaseResult(acquired=True, merge_id="m1", files=3, loads=2)),
            (
                "Write",
                (
                    WriteResult(table="users", rows={"work_users": 2}),
                    WriteResult(table="songplays", rows={"work_songplays": 3, "work_time": 3}),
                ),
            ),
            ("Audit", AuditResult(checks={"duplicate_work_users": 0, "plays_without_user": 0})),
            ("Publish", PUBLISHED),
            ("Finalize", FinalizeResult(work_rows_removed=8)),
        ],
    )

    # When rendered, and when its results are looked up by kind
    rendered = outcome.render()
    published = {table.table: table.inserted for table in outcome.results(PublishResult)[0].tables}

    # Then each state that ran a step has its one line, and branches count like any state
    assert rendered.splitlines() == [
        "merge execution run-1: SUCCEEDED",
        "  Lease          claimed 3 files in 2 loads",
        "  Write          work_users: 2 rows; work_songplays: 3 rows, work_time: 3 rows",
        "  Audit          2 checks passed",
        "  Publish        3 files published (users: 1 inserted, 1 updated; songplays: 3 inserted,"
        " 0 updated; rematched 2 earlier plays), latency max 2.5s",
        "  Finalize       8 work rows removed",
    ]
    assert published == {"users": 1, "songplays": 3}
    assert outcome.result("Lease", LeaseResult).merge_id == "m1"


# --- Errors and retries --------------------------------------------------------------------------


def test_every_error_name_the_asl_matches_is_an_exception_the_code_raises(
    definition: dict[str, Any],
) -> None:
    # Given every name in the ErrorEquals of every Retry and Catch
    names = {
        name
        for _, state in all_states(definition["States"])
        for block in state.get("Retry", []) + state.get("Catch", [])
        for name in block["ErrorEquals"]
    }

    # When leaving out Step Functions' own names and the Lambda service's
    ours = {name for name in names if not name.startswith("States.")} - set(LAMBDA_SERVICE_ERRORS)

    # Then each is the class name (a function error's errorType) of an exception the code raises
    assert ours, "expected the ASL to retry our transient errors"
    assert ours - set(_raised_exceptions()) == set()


def test_every_retry_is_the_one_retry_policy(definition: dict[str, Any]) -> None:
    # Given every state that can retry (Tasks, and the Parallel around the dimensions)
    retrying = {
        name: state.get("Retry")
        for name, state in all_states(definition["States"])
        if state["Type"] in ("Task", "Parallel")
    }

    # When comparing each Retry with the one policy
    different = {name: retry for name, retry in retrying.items() if retry != TASK_RETRY}

    # Then none differs (none is missing either)
    assert retrying
    assert different == {}
