"""Read ``template.yaml``, the single source of wiring for both the deployed and the local stack.

The local runtime does not keep its own idea of which handler serves which queue, with which
batch size or environment: it asks this module, which reads the same SAM template that
``sam deploy`` ships. Change the template and the local stack follows; the two cannot drift.

Only the subset of CloudFormation the local runtime needs is interpreted:

* ``!Ref Parameter`` for numeric settings (batch size, batching window, concurrency, timeouts),
  using the caller's parameter overrides, else the parameter's ``Default``, checked against the
  parameter's own constraints so a local value that AWS would reject is rejected here too;
* ``Globals.Function`` (``Handler``, ``CodeUri``, ``Runtime``, ``Timeout``, ``Environment``);
* ``!GetAtt X.Arn`` links between functions, queues, dead-letter queues and bucket
  notifications;
* ``Conditions`` (``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``, over
  parameter values and ``Fn::Join``), so an environment value chosen by ``!If`` resolves to the
  branch CloudFormation would take for the same parameters.

Anything else is reported as an error rather than guessed, so an unsupported template construct
fails loudly instead of being wired differently from AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkify_local.sam.intrinsics import (
    arn_of_resource,
    resolve_int,
)
from sparkify_local.sam.loading import LoadedTemplate, resource_properties

__all__ = [
    "FunctionWiring",
    "NotificationRule",
    "QueueWiring",
    "bucket_notifications",
    "function_wiring",
    "queue_wiring",
]

# AWS defaults, used when the template leaves a setting out (so local behaves like AWS would).
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
SQS_EVENT_DEFAULT_BATCH_SIZE = 10
SQS_EVENT_DEFAULT_BATCHING_WINDOW_SECONDS = 0

# --- Functions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionWiring:
    """How one ``AWS::Serverless::Function`` is wired, as the local runtime needs it.

    ``environment`` holds the raw template values (strings, numbers or intrinsic dicts); turn
    them into strings with :func:`resolve_environment`. The SQS fields are ``None`` / ``False``
    for a function without an SQS event; when the event leaves a setting out, the AWS default
    is filled in (batch size 10, no batching window, concurrency unbounded = ``None``).
    """

    logical_id: str
    code_uri: Path
    handler: str
    timeout_seconds: int
    # Excluded from the hash so the frozen dataclass stays hashable despite holding a dict.
    environment: dict[str, object] = field(hash=False)
    queue_logical_id: str | None
    batch_size: int | None
    batching_window_seconds: int | None
    max_concurrency: int | None
    report_batch_item_failures: bool

    def __post_init__(self) -> None:
        if "." not in self.handler.strip("."):
            raise ValueError(
                f"{self.logical_id}: handler {self.handler!r} is not 'module.function'"
            )

    @property
    def module_name(self) -> str:
        """Module to import from ``code_uri``: ``"app"`` for handler ``"app.handler"``."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def function_name(self) -> str:
        """Callable inside the module: ``"handler"`` for handler ``"app.handler"``."""
        return self.handler.rsplit(".", 1)[1]


def _merged_function_properties(
    template: Mapping[str, Any], properties: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply ``Globals.Function`` the way SAM does for the properties read here.

    Scalars: the function's own value wins. ``Environment.Variables``: the two maps merge, the
    function's keys win.
    """
    globals_function = template.get("Globals", {}).get("Function", {}) or {}
    merged: dict[str, Any] = {
        key: value for key, value in globals_function.items() if key != "Environment"
    }
    merged.update({key: value for key, value in properties.items() if key != "Environment"})
    variables: dict[str, Any] = {}
    for source in (globals_function, properties):
        environment = source.get("Environment") or {}
        source_variables = environment.get("Variables") or {}
        if not isinstance(source_variables, dict):
            raise ValueError(f"Environment.Variables must be a mapping, got {source_variables!r}")
        variables.update(source_variables)
    merged["Environment"] = {"Variables": variables}
    return merged


def _template_folder(template: Mapping[str, Any], base_dir: Path | None) -> Path | None:
    if base_dir is not None:
        return Path(base_dir).resolve()
    if isinstance(template, LoadedTemplate):
        return template.path.parent
    return None


def function_wiring(
    template: Mapping[str, Any],
    logical_id: str,
    parameters: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
) -> FunctionWiring:
    """Read the wiring of function ``logical_id`` from ``template``.

    ``parameters`` are stack parameter overrides (as strings, like ``sam deploy
    --parameter-overrides``); a ``!Ref`` to a parameter without an override uses its
    ``Default``. ``Globals.Function`` is taken into account.

    ``CodeUri`` is resolved against ``base_dir`` if given, else against the folder of the file
    :func:`load_template` read; a relative ``CodeUri`` with neither raises ``ValueError``.
    Raises ``KeyError`` for an unknown resource or parameter, ``ValueError`` for wiring that the
    local runtime cannot reproduce (an external queue, two SQS events, an S3 ``CodeUri``...).
    """
    properties = _merged_function_properties(
        template, resource_properties(template, logical_id, "AWS::Serverless::Function")
    )

    code_uri = properties.get("CodeUri")
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise ValueError(f"{logical_id}: CodeUri must be a local folder, got {code_uri!r}")
    code_path = Path(code_uri)
    if not code_path.is_absolute():
        folder = _template_folder(template, base_dir)
        if folder is None:
            raise ValueError(
                f"{logical_id}: CodeUri {code_uri!r} is relative; pass base_dir or use a "
                "template returned by load_template()"
            )
        code_path = folder / code_path
    code_path = code_path.resolve()

    handler = properties.get("Handler")
    if not isinstance(handler, str):
        raise ValueError(f"{logical_id}: Handler must be a string, got {handler!r}")

    timeout = resolve_int(
        properties.get("Timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS),
        template,
        parameters,
        f"{logical_id}.Timeout",
    )

    sqs_events = [
        (name, event)
        for name, event in (properties.get("Events") or {}).items()
        if isinstance(event, dict) and event.get("Type") == "SQS"
    ]
    if len(sqs_events) > 1:
        names = ", ".join(name for name, _ in sqs_events)
        raise ValueError(f"{logical_id}: several SQS events ({names}); one is supported")

    queue_logical_id: str | None = None
    batch_size: int | None = None
    batching_window: int | None = None
    max_concurrency: int | None = None
    report_failures = False
    if sqs_events:
        event_name, event = sqs_events[0]
        where = f"{logical_id}.Events.{event_name}"
        event_properties = event.get("Properties") or {}
        queue_logical_id = arn_of_resource(template, event_properties.get("Queue"), where)
        batch_size = resolve_int(
            event_properties.get("BatchSize", SQS_EVENT_DEFAULT_BATCH_SIZE),
            template,
            parameters,
            f"{where}.BatchSize",
        )
        batching_window = resolve_int(
            event_properties.get(
                "MaximumBatchingWindowInSeconds", SQS_EVENT_DEFAULT_BATCHING_WINDOW_SECONDS
            ),
            template,
            parameters,
            f"{where}.MaximumBatchingWindowInSeconds",
        )
        scaling = event_properties.get("ScalingConfig") or {}
        if "MaximumConcurrency" in scaling:
            max_concurrency = resolve_int(
                scaling["MaximumConcurrency"],
                template,
                parameters,
                f"{where}.ScalingConfig.MaximumConcurrency",
            )
        report_failures = "ReportBatchItemFailures" in (
            event_properties.get("FunctionResponseTypes") or []
        )

    return FunctionWiring(
        logical_id=logical_id,
        code_uri=code_path,
        handler=handler,
        timeout_seconds=timeout,
        environment=dict(properties["Environment"]["Variables"]),
        queue_logical_id=queue_logical_id,
        batch_size=batch_size,
        batching_window_seconds=batching_window,
        max_concurrency=max_concurrency,
        report_batch_item_failures=report_failures,
    )


# --- Queues ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueWiring:
    """Settings of one ``AWS::SQS::Queue`` that change delivery behaviour locally."""

    logical_id: str
    visibility_timeout_seconds: int
    dead_letter_logical_id: str | None
    max_receive_count: int | None


def queue_wiring(
    template: Mapping[str, Any], logical_id: str, parameters: Mapping[str, str] | None = None
) -> QueueWiring:
    """Read queue ``logical_id``: visibility timeout (SQS default 30 s) and redrive policy.

    The dead-letter target must be a queue of this template (``!GetAtt DLQ.Arn``), since the
    local runtime creates only those; ``RedrivePolicy`` may be a mapping or a JSON string.
    """
    properties = resource_properties(template, logical_id, "AWS::SQS::Queue")
    visibility = resolve_int(
        properties.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS),
        template,
        parameters,
        f"{logical_id}.VisibilityTimeout",
    )
    redrive = properties.get("RedrivePolicy")
    if redrive is None:
        return QueueWiring(logical_id, visibility, None, None)
    if isinstance(redrive, str):
        redrive = json.loads(redrive)
    if not isinstance(redrive, dict):
        raise ValueError(f"{logical_id}.RedrivePolicy: expected a mapping, got {redrive!r}")
    dead_letter = arn_of_resource(
        template, redrive.get("deadLetterTargetArn"), f"{logical_id}.RedrivePolicy"
    )
    max_receive = resolve_int(
        redrive.get("maxReceiveCount"),
        template,
        parameters,
        f"{logical_id}.RedrivePolicy.maxReceiveCount",
    )
    return QueueWiring(logical_id, visibility, dead_letter, max_receive)


# --- Bucket notifications --------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationRule:
    """One S3 -> SQS notification: which events, which keys (prefix/suffix), which queue."""

    events: tuple[str, ...]
    prefix: str
    suffix: str
    queue_logical_id: str


def bucket_notifications(
    template: Mapping[str, Any], bucket_logical_id: str
) -> list[NotificationRule]:
    """The bucket's ``NotificationConfiguration.QueueConfigurations``, in template order.

    Only queue notifications are read (the design has no topic or Lambda notifications). A
    missing prefix or suffix filter is ``""`` (matches every key), as in S3. Filter rule names
    are case-insensitive, as S3 treats them.
    """
    properties = resource_properties(template, bucket_logical_id, "AWS::S3::Bucket")
    configuration = properties.get("NotificationConfiguration") or {}
    if not isinstance(configuration, dict):
        raise ValueError(f"{bucket_logical_id}.NotificationConfiguration: expected a mapping")
    rules: list[NotificationRule] = []
    for index, queue_configuration in enumerate(configuration.get("QueueConfigurations") or []):
        where = f"{bucket_logical_id}.QueueConfigurations[{index}]"
        filters = {"prefix": "", "suffix": ""}
        key_filter = (queue_configuration.get("Filter") or {}).get("S3Key") or {}
        for rule in key_filter.get("Rules") or []:
            name = str(rule.get("Name", "")).lower()
            if name not in filters:
                raise ValueError(f"{where}: unknown filter rule {rule!r}")
            filters[name] = str(rule.get("Value", ""))
        rules.append(
            NotificationRule(
                events=(str(queue_configuration["Event"]),),
                prefix=filters["prefix"],
                suffix=filters["suffix"],
                queue_logical_id=arn_of_resource(template, queue_configuration.get("Queue"), where),
            )
        )
    return rules
