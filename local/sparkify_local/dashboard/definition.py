"""The dashboard body template.yaml deploys, resolved for the local stack.

One source: the ``DashboardBody`` ``Fn::Sub`` of the template's ``Dashboard`` resource, with
every ``${...}`` taking the value the local stack has for it (its resources' local names and
ARNs, the parameters' defaults). A reference the local stack has no value for is an error that
names it, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sparkify_local.runtime.names import LocalNames, substitute
from sparkify_local.runtime.resources import LocalResources

DASHBOARD_RESOURCE = "Dashboard"


def dashboard_sub(template: Mapping[str, Any]) -> str:
    """The dashboard body as the template writes it (an ``Fn::Sub`` string)."""
    body = template["Resources"][DASHBOARD_RESOURCE]["Properties"]["DashboardBody"]
    if not (isinstance(body, dict) and isinstance(body.get("Fn::Sub"), str)):
        raise ValueError("the Dashboard's DashboardBody is expected as one Fn::Sub string")
    return str(body["Fn::Sub"])


def resolve_body(sub: str, value_of: Callable[[str], str]) -> dict[str, Any]:
    """Expand the body's ``Fn::Sub`` with ``value_of(reference)`` and parse the JSON."""
    return dict(json.loads(substitute(sub, value_of)))


def local_body(stack: LocalResources) -> dict[str, Any]:
    """The template's dashboard body with the local stack's names."""
    return resolve_body(dashboard_sub(stack.template), LocalNames(stack))
