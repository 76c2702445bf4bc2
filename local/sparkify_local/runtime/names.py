"""What a template's ``${Ref}`` or ``${Resource.Attribute}`` is on the local stack: its
resources' local names and ARNs, the parameters' defaults, the pseudo parameters. A reference
the local stack has no value for is an error that names it, never a guess."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sparkify_local.runtime.clients import ACCOUNT_ID, REGION
from sparkify_local.runtime.resources import STACK_NAME, LocalResources
from sparkify_local.sam.intrinsics import get_att_target, resolve_environment

_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")


def substitute(sub: str, value_of: Callable[[str], str]) -> str:
    """Expand an ``Fn::Sub`` string, each ``${reference}`` taking ``value_of(reference)``."""
    names = {match.group(1).strip() for match in _REFERENCE.finditer(sub)}
    substitutions = {name: value_of(name) for name in names}
    return resolve_environment({"value": {"Fn::Sub": sub}}, substitutions)["value"]


class LocalNames:
    """What a ``${Ref}`` or ``${Resource.Attribute}`` of the template is on the local stack."""

    def __init__(self, stack: LocalResources) -> None:
        self._stack = stack
        self._resources: dict[str, Any] = stack.template["Resources"]
        self._parameters: dict[str, Any] = stack.template.get("Parameters", {})
        self._mappings: dict[str, Any] = stack.template.get("Mappings", {})

    def __call__(self, name: str) -> str:
        pseudo = {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
        if name in pseudo:
            return pseudo[name]
        if name in self._parameters:
            return str(self._parameters[name]["Default"])
        logical_id, _, attribute = name.partition(".")
        resource = self._resources.get(logical_id)
        if resource is None:
            raise KeyError(f"the template defines no {logical_id!r} (in ${{{name}}})")
        kind = resource["Type"]
        value = self._value(logical_id, kind, attribute)
        if value is None:
            what = f"{kind} {attribute or 'Ref'}"
            raise KeyError(f"the local stack has no value for ${{{name}}} ({what})")
        return value

    def _value(self, logical_id: str, kind: str, attribute: str) -> str | None:
        stack = self._stack
        if kind == "AWS::Serverless::Function":
            return {"": logical_id, "Arn": stack.function_arn(logical_id)}.get(attribute)
        if kind == "AWS::Serverless::StateMachine":
            return stack.state_machine_arn if attribute in {"", "Arn"} else None
        if kind == "AWS::SQS::Queue":
            return {
                "QueueName": stack.queue_name(logical_id),
                "Arn": stack.queue_arn(logical_id),
            }.get(attribute)
        if kind == "AWS::Logs::LogGroup" and attribute == "":
            return stack.physical_name(logical_id)
        if kind == "AWS::CloudWatch::Alarm":
            name = self.alarm_name(logical_id)
            arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"
            return {"": name, "Arn": arn}.get(attribute)
        return None

    def alarm_name(self, logical_id: str) -> str:
        """The alarm's ``AlarmName`` (an ``Fn::Sub`` of the stack name), resolved locally."""
        return str(self.resolve(self._resources[logical_id]["Properties"]["AlarmName"]))

    def resolve(self, value: Any) -> Any:
        """A template value with its intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``,
        ``Fn::FindInMap``) resolved; lists and mappings are resolved item by item. Any other
        intrinsic is an error naming it."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self(str(value["Ref"]))
        if (target := get_att_target(value)) is not None:
            return self(f"{target[0]}.{target[1]}")
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return self.substitute(value["Fn::Sub"])
        if set(value) == {"Fn::FindInMap"}:
            mapping, first, second = (str(self.resolve(key)) for key in value["Fn::FindInMap"])
            return self._mappings[mapping][first][second]
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            raise KeyError(f"the local stack cannot resolve {value!r}")
        return {key: self.resolve(item) for key, item in value.items()}

    def substitute(self, sub: str) -> str:
        """An ``Fn::Sub`` string expanded with the local values."""
        return substitute(sub, self)
