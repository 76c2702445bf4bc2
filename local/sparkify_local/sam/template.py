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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FunctionWiring",
    "LoadedTemplate",
    "NotificationRule",
    "QueueWiring",
    "bucket_notifications",
    "evaluate_conditions",
    "function_wiring",
    "load_template",
    "queue_wiring",
    "resolve_environment",
]

# AWS defaults, used when the template leaves a setting out (so local behaves like AWS would).
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
SQS_EVENT_DEFAULT_BATCH_SIZE = 10
SQS_EVENT_DEFAULT_BATCHING_WINDOW_SECONDS = 0

# --- YAML with CloudFormation short tags -----------------------------------------------------

# Short tags that map to ``{"Fn::<Name>": value}``; Ref, GetAtt and Condition are special.
_FN_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    # Rule-specific functions (the template's Rules section).
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
)


class _CloudFormationLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that turns CloudFormation short tags into their long (JSON) form.

    A subclass, so registering the tags never changes the behaviour of ``yaml.safe_load``
    elsewhere in the process.
    """


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Construct a tagged node's value as plain YAML, whatever its kind."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(
        None, None, f"unexpected node {node!r}", node.start_mark
    )


def _fn_constructor(name: str) -> Any:
    """Build the constructor for ``!<name> value`` -> ``{"Fn::<name>": value}``."""

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _node_value(loader, node)}

    return construct


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _construct_condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _node_value(loader, node)}


def _construct_get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        # CloudFormation splits at the first dot only: "Stack.Outputs.Name" is attribute
        # "Outputs.Name" of resource "Stack".
        resource, dot, attribute = value.partition(".")
        if not dot or not resource or not attribute:
            raise yaml.constructor.ConstructorError(
                None, None, f"!GetAtt needs 'Resource.Attribute', got {value!r}", node.start_mark
            )
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


def _construct_plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation treats unquoted dates (AWSTemplateFormatVersion: 2010-09-09) as strings.
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


for _name in _FN_TAGS:
    _CloudFormationLoader.add_constructor(f"!{_name}", _fn_constructor(_name))
_CloudFormationLoader.add_constructor("!Ref", _construct_ref)
_CloudFormationLoader.add_constructor("!GetAtt", _construct_get_att)
_CloudFormationLoader.add_constructor("!Condition", _construct_condition)
_CloudFormationLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_plain_string)


class LoadedTemplate(dict[str, Any]):
    """A parsed template that remembers the file it came from.

    It is a plain ``dict`` for every other purpose; the path lets :func:`function_wiring`
    resolve relative ``CodeUri`` values against the template's folder, as SAM does.
    """

    def __init__(self, content: Mapping[str, Any], path: Path) -> None:
        super().__init__(content)
        self.path = path


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation / SAM YAML template, short-form intrinsics included.

    ``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
    ``!Condition C`` becomes ``{"Condition": "C"}`` and every other ``!Fn v`` becomes
    ``{"Fn::Fn": v}`` -- the JSON form CloudFormation itself uses.

    Returns a :class:`LoadedTemplate` (a ``dict``) that records the absolute path of the file.
    Raises ``ValueError`` if the document is not a template (no ``Resources`` mapping).
    """
    path = Path(path).resolve()
    with path.open(encoding="utf-8") as stream:
        content = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - safe subclass
    if not isinstance(content, dict) or not isinstance(content.get("Resources"), dict):
        raise ValueError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return LoadedTemplate(content, path)


# --- Shared helpers --------------------------------------------------------------------------


def _resource(template: Mapping[str, Any], logical_id: str, expected_type: str) -> dict[str, Any]:
    """Return a resource's ``Properties`` after checking that it exists with the right type."""
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, dict):
        raise KeyError(f"resource {logical_id!r} is not in the template")
    if resource.get("Type") != expected_type:
        raise ValueError(
            f"resource {logical_id!r} is a {resource.get('Type')!r}, expected {expected_type!r}"
        )
    properties = resource.get("Properties", {})
    if not isinstance(properties, dict):
        raise ValueError(f"resource {logical_id!r}: Properties must be a mapping")
    return properties


def _parameter_value(
    template: Mapping[str, Any], name: str, parameters: Mapping[str, str] | None
) -> str:
    """Value of template parameter ``name``: the override if given, else its ``Default``.

    The value is checked against the parameter's declared constraints, so a local override
    that CloudFormation would refuse (say ``StageMaxConcurrency=1``) is refused here as well.
    """
    declared = template.get("Parameters", {}).get(name)
    if not isinstance(declared, dict):
        raise KeyError(f"parameter {name!r} is not declared in the template")
    if parameters is not None and name in parameters:
        value = str(parameters[name])
    elif "Default" in declared:
        value = str(declared["Default"])
    else:
        raise KeyError(f"parameter {name!r} has no Default and no value was given")
    _check_parameter(name, declared, value)
    return value


def _check_parameter(name: str, declared: Mapping[str, Any], value: str) -> None:
    """Apply CloudFormation's parameter constraints; raise ``ValueError`` on a violation."""
    allowed = declared.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise ValueError(f"parameter {name}={value!r} is not one of {allowed}")
    if declared.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"parameter {name}={value!r} is not a number") from None
        if "MinValue" in declared and number < float(declared["MinValue"]):
            raise ValueError(f"parameter {name}={value} is below MinValue {declared['MinValue']}")
        if "MaxValue" in declared and number > float(declared["MaxValue"]):
            raise ValueError(f"parameter {name}={value} is above MaxValue {declared['MaxValue']}")
    if "MinLength" in declared and len(value) < int(declared["MinLength"]):
        raise ValueError(f"parameter {name}={value!r} is shorter than {declared['MinLength']}")
    if "MaxLength" in declared and len(value) > int(declared["MaxLength"]):
        raise ValueError(f"parameter {name}={value!r} is longer than {declared['MaxLength']}")
    pattern = declared.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        raise ValueError(f"parameter {name}={value!r} does not match {pattern!r}")


def _resolve_int(
    value: Any, template: Mapping[str, Any], parameters: Mapping[str, str] | None, what: str
) -> int:
    """An integer setting given literally or as ``!Ref Parameter``."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        value = _parameter_value(template, value["Ref"], parameters)
    if isinstance(value, bool):  # YAML true/false is an int subclass; never a count.
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ValueError(f"{what}: cannot resolve {value!r} to an integer locally")


def _get_att_target(value: Any) -> tuple[str, str] | None:
    """``(resource, attribute)`` of a ``Fn::GetAtt`` in list or dotted-string form, else None."""
    if not isinstance(value, dict) or set(value) != {"Fn::GetAtt"}:
        return None
    target = value["Fn::GetAtt"]
    if isinstance(target, str):
        resource, _, attribute = target.partition(".")
        return resource, attribute
    if isinstance(target, list) and len(target) == 2 and all(isinstance(t, str) for t in target):
        return target[0], target[1]
    return None


def _arn_of_resource(template: Mapping[str, Any], value: Any, what: str) -> str:
    """Logical id of the template resource whose ARN ``value`` is (``!GetAtt X.Arn``).

    The local runtime can only emulate resources it creates from this template, so an ARN
    given literally or through a parameter is an error, not something to skip silently.
    """
    target = _get_att_target(value)
    if target is None or target[1] != "Arn" or target[0] not in template.get("Resources", {}):
        raise ValueError(f"{what}: expected !GetAtt <Resource>.Arn of this template, got {value!r}")
    return target[0]


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
        template, _resource(template, logical_id, "AWS::Serverless::Function")
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

    timeout = _resolve_int(
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
        queue_logical_id = _arn_of_resource(template, event_properties.get("Queue"), where)
        batch_size = _resolve_int(
            event_properties.get("BatchSize", SQS_EVENT_DEFAULT_BATCH_SIZE),
            template,
            parameters,
            f"{where}.BatchSize",
        )
        batching_window = _resolve_int(
            event_properties.get(
                "MaximumBatchingWindowInSeconds", SQS_EVENT_DEFAULT_BATCHING_WINDOW_SECONDS
            ),
            template,
            parameters,
            f"{where}.MaximumBatchingWindowInSeconds",
        )
        scaling = event_properties.get("ScalingConfig") or {}
        if "MaximumConcurrency" in scaling:
            max_concurrency = _resolve_int(
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


# --- Conditions ------------------------------------------------------------------------------


def _parameter_list(
    template: Mapping[str, Any], name: str, parameters: Mapping[str, str] | None
) -> str | list[str]:
    """A parameter's value as CloudFormation hands it to intrinsics: a list for list types."""
    value = _parameter_value(template, name, parameters)
    declared_type = str(template["Parameters"][name].get("Type", ""))
    if declared_type == "CommaDelimitedList" or declared_type.startswith("List<"):
        return [item.strip() for item in value.split(",")]
    return value


def _condition_operand(
    value: Any,
    template: Mapping[str, Any],
    parameters: Mapping[str, str] | None,
    where: str,
) -> str | list[str]:
    """A value inside a condition: a literal, a parameter ``Ref`` or an ``Fn::Join`` of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        items = [_condition_operand(item, template, parameters, where) for item in value]
        if not all(isinstance(item, str) for item in items):
            raise ValueError(f"{where}: a list inside a list is not a CloudFormation value")
        return [str(item) for item in items]
    if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return _parameter_list(template, value["Ref"], parameters)
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        resolved = _condition_operand(items, template, parameters, where)
        return str(separator).join(resolved if isinstance(resolved, list) else [resolved])
    raise ValueError(f"{where}: cannot evaluate {value!r} locally (Ref to a parameter, Fn::Join)")


def evaluate_conditions(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> dict[str, bool]:
    """Every entry of the template's ``Conditions``, for the given parameter overrides (else
    each parameter's ``Default``), as CloudFormation would evaluate it.

    Supports ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition``; operands
    may be literals, ``Ref`` to a parameter and ``Fn::Join``. Anything else is an error rather
    than a guess: ``KeyError`` for a ``Ref`` that is not a declared parameter (pseudo parameters
    such as ``AWS::Region`` included), ``ValueError`` for an unsupported function.
    """
    declared = template.get("Conditions") or {}
    results: dict[str, bool] = {}

    def evaluate(name: str, chain: tuple[str, ...]) -> bool:
        if name in results:
            return results[name]
        if name in chain:
            raise ValueError(f"condition {name!r} refers to itself: {' -> '.join(chain)}")
        if name not in declared:
            raise KeyError(f"condition {name!r} is not declared in the template")
        results[name] = expression(declared[name], (*chain, name), f"Conditions.{name}")
        return results[name]

    def expression(node: Any, chain: tuple[str, ...], where: str) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"{where}: not a condition function: {node!r}")
        ((function, argument),) = node.items()
        if function == "Condition" and isinstance(argument, str):
            return evaluate(argument, chain)
        if function == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
            left, right = (_condition_operand(a, template, parameters, where) for a in argument)
            return left == right
        if function == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
            return not expression(argument[0], chain, where)
        if function in ("Fn::And", "Fn::Or") and isinstance(argument, list):
            values = [expression(item, chain, where) for item in argument]
            return all(values) if function == "Fn::And" else any(values)
        raise ValueError(f"{where}: cannot evaluate {function} locally")

    for name in declared:
        evaluate(name, ())
    return results


# --- Environment -----------------------------------------------------------------------------


class _NoValue:
    """Marker for ``!Ref AWS::NoValue``: CloudFormation drops the variable altogether."""


_NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Unresolved(Exception):
    """Internal: why one value could not be resolved (becomes part of the ``KeyError``)."""


def _lookup(name: str, substitutions: Mapping[str, str]) -> str:
    """Value of a Ref target or ``Resource.Attribute``; the attribute form falls back to the
    resource's own entry, so ``{"LandingBucket": ...}`` serves ``!GetAtt LandingBucket.X``."""
    if name in substitutions:
        return str(substitutions[name])
    resource, dot, _ = name.partition(".")
    if dot and resource in substitutions:
        return str(substitutions[resource])
    raise _Unresolved(f"no substitution for {name!r}")


def _substitute(template_string: str, variables: Mapping[str, str], subs: Mapping[str, str]) -> str:
    """Expand a ``Fn::Sub`` string (``${!Literal}`` is the escape for a literal ``${Literal}``)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return variables[name]
        return _lookup(name, subs)

    return _SUB_VARIABLE.sub(replace, template_string)


def _resolve_value(
    value: object, substitutions: Mapping[str, str], conditions: Mapping[str, bool]
) -> str | _NoValue:
    """Resolve one environment value the way CloudFormation would render it (a string)."""
    if isinstance(value, bool):  # before int: bool is an int subclass; CFN renders "true".
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((intrinsic, argument),) = value.items()
        if intrinsic == "Ref" and isinstance(argument, str):
            if argument == "AWS::NoValue":
                return _NO_VALUE
            return _lookup(argument, substitutions)
        get_att = _get_att_target(value)
        if get_att is not None:
            return _lookup(f"{get_att[0]}.{get_att[1]}", substitutions)
        if intrinsic == "Fn::Sub":
            if isinstance(argument, str):
                return _substitute(argument, {}, substitutions)
            if (
                isinstance(argument, list)
                and len(argument) == 2
                and isinstance(argument[0], str)
                and isinstance(argument[1], dict)
            ):
                variables: dict[str, str] = {}
                for name, raw in argument[1].items():
                    resolved = _resolve_value(raw, substitutions, conditions)
                    if isinstance(resolved, _NoValue):
                        raise _Unresolved(f"Fn::Sub variable {name!r} is AWS::NoValue")
                    variables[name] = resolved
                return _substitute(argument[0], variables, substitutions)
        if intrinsic == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            condition, when_true, when_false = argument
            if condition not in conditions:
                raise _Unresolved(f"condition {condition!r} was not evaluated")
            # Only the branch CloudFormation takes is resolved, as only it is deployed.
            chosen = when_true if conditions[condition] else when_false
            return _resolve_value(chosen, substitutions, conditions)
    raise _Unresolved(
        "not resolvable locally (supported: literals, Ref, Fn::GetAtt, Fn::Sub, Fn::If)"
    )


def resolve_environment(
    wiring_env: Mapping[str, object],
    substitutions: Mapping[str, str],
    conditions: Mapping[str, bool] | None = None,
) -> dict[str, str]:
    """Turn a function's raw template environment into the strings its process will see.

    Plain strings and numbers are kept (as strings, as Lambda would). ``{"Ref": X}`` and
    ``{"Fn::GetAtt": [X, Attr]}`` take ``substitutions["X.Attr"]`` (GetAtt only) else
    ``substitutions[X]``; pseudo parameters work the same way (``substitutions["AWS::Region"]``).
    ``Fn::Sub`` strings are expanded with the same lookups. ``!Ref AWS::NoValue`` removes the
    variable, as CloudFormation does. ``Fn::If`` takes the branch its condition selects in
    ``conditions`` (see :func:`evaluate_conditions`); a condition not in it is unresolvable.

    Raises ``KeyError`` naming every variable that cannot be resolved and its intrinsic, so a
    local stack never starts with a value that would differ from the deployed one.
    """
    resolved: dict[str, str] = {}
    problems: list[str] = []
    for name, value in wiring_env.items():
        try:
            result = _resolve_value(value, substitutions, conditions or {})
        except _Unresolved as reason:
            problems.append(f"{name}: {json.dumps(value, default=str)} -> {reason}")
            continue
        if not isinstance(result, _NoValue):
            resolved[name] = result
    if problems:
        raise KeyError("cannot resolve environment variables: " + "; ".join(problems))
    return resolved


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
    properties = _resource(template, logical_id, "AWS::SQS::Queue")
    visibility = _resolve_int(
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
    dead_letter = _arn_of_resource(
        template, redrive.get("deadLetterTargetArn"), f"{logical_id}.RedrivePolicy"
    )
    max_receive = _resolve_int(
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
    properties = _resource(template, bucket_logical_id, "AWS::S3::Bucket")
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
                queue_logical_id=_arn_of_resource(
                    template, queue_configuration.get("Queue"), where
                ),
            )
        )
    return rules
