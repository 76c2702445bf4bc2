"""CloudFormation's intrinsics, evaluated locally the way CloudFormation would for the same
parameters: parameter values with their constraints, ``Conditions``, and environment values
(``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``, ``AWS::NoValue``).

Anything else is an error rather than a guess, so an unsupported construct fails loudly instead
of being wired differently from AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


def parameter_value(
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


def resolve_int(
    value: Any, template: Mapping[str, Any], parameters: Mapping[str, str] | None, what: str
) -> int:
    """An integer setting given literally or as ``!Ref Parameter``."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        value = parameter_value(template, value["Ref"], parameters)
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


def get_att_target(value: Any) -> tuple[str, str] | None:
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


def arn_of_resource(template: Mapping[str, Any], value: Any, what: str) -> str:
    """Logical id of the template resource whose ARN ``value`` is (``!GetAtt X.Arn``).

    The local runtime can only emulate resources it creates from this template, so an ARN
    given literally or through a parameter is an error, not something to skip silently.
    """
    target = get_att_target(value)
    if target is None or target[1] != "Arn" or target[0] not in template.get("Resources", {}):
        raise ValueError(f"{what}: expected !GetAtt <Resource>.Arn of this template, got {value!r}")
    return target[0]


# --- Conditions ------------------------------------------------------------------------------


def _parameter_list(
    template: Mapping[str, Any], name: str, parameters: Mapping[str, str] | None
) -> str | list[str]:
    """A parameter's value as CloudFormation hands it to intrinsics: a list for list types."""
    value = parameter_value(template, name, parameters)
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
        get_att = get_att_target(value)
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
