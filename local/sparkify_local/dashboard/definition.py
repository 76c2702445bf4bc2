"""The dashboard body template.yaml deploys, resolved for the local stack.

One source: the ``DashboardBody`` ``Fn::Sub`` of the template's ``Dashboard`` resource, with
every ``${...}`` taking the value the local stack has for it (its resources' local names and
ARNs, the parameters' defaults). A reference the local stack has no value for is an error that
names it, never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sparkify_local.runtime.resources import ACCOUNT_ID, REGION, STACK_NAME, LocalResources
from sparkify_local.sam.intrinsics import resolve_environment

DASHBOARD_RESOURCE = "Dashboard"
_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")


def dashboard_sub(template: Mapping[str, Any]) -> str:
    """The dashboard body as the template writes it (an ``Fn::Sub`` string)."""
    body = template["Resources"][DASHBOARD_RESOURCE]["Properties"]["DashboardBody"]
    if not (isinstance(body, dict) and isinstance(body.get("Fn::Sub"), str)):
        raise ValueError("the Dashboard's DashboardBody is expected as one Fn::Sub string")
    return str(body["Fn::Sub"])


def resolve_body(sub: str, value_of: Callable[[str], str]) -> dict[str, Any]:
    """Expand the body's ``Fn::Sub`` with ``value_of(reference)`` and parse the JSON."""
    names = {match.group(1).strip() for match in _REFERENCE.finditer(sub)}
    substitutions = {name: value_of(name) for name in names}
    return dict(json.loads(resolve_environment({"body": {"Fn::Sub": sub}}, substitutions)["body"]))


class LocalNames:
    """What a ``${Ref}`` or ``${Resource.Attribute}`` of the template is on the local stack."""

    def __init__(self, stack: LocalResources) -> None:
        self._stack = stack
        self._resources: dict[str, Any] = stack.template["Resources"]
        self._parameters: dict[str, Any] = stack.template.get("Parameters", {})

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
        name = self._resources[logical_id]["Properties"]["AlarmName"]
        sub = name["Fn::Sub"] if isinstance(name, dict) else str(name)
        resolved = resolve_environment({"name": {"Fn::Sub": sub}}, {"AWS::StackName": STACK_NAME})
        return resolved["name"]


def local_body(stack: LocalResources) -> dict[str, Any]:
    """The template's dashboard body with the local stack's names."""
    return resolve_body(dashboard_sub(stack.template), LocalNames(stack))
