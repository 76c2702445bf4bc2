"""Load a SAM / CloudFormation template: cfn-lint's decoder, the one ``cfn-lint`` itself runs.

Short-form intrinsics come back in their long (JSON) form: ``!Ref X`` as ``{"Ref": "X"}``,
``!GetAtt A.B`` as ``{"Fn::GetAtt": ["A", "B"]}``, every other ``!Fn v`` as ``{"Fn::Fn": v}``,
and unquoted dates (``AWSTemplateFormatVersion: 2010-09-09``) as strings, as CloudFormation
reads them. Its nodes are ``dict`` / ``str`` subclasses that also carry line numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


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

    Returns a :class:`LoadedTemplate` (a ``dict``) that records the absolute path of the file.
    Raises ``ValueError`` if the file is not valid template YAML or not a template (no
    ``Resources`` mapping).
    """
    # Imported here, not at the top: cfn-lint takes 2 s and 60 MB to import, and every function
    # worker imports this package for the wiring it is handed, not to read the template.
    from cfnlint.decode.cfn_yaml import CfnParseError
    from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

    path = Path(path).resolve()
    try:
        content = load_cfn_yaml(str(path))
    except (CfnParseError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("Resources"), dict):
        raise ValueError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return LoadedTemplate(_plain(content), path)


def _plain(value: Any) -> Any:
    """The decoder's nodes as plain dicts, lists and strings: its node classes are created at
    run time and cannot be pickled, and wiring read from them travels to worker processes."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def resource_properties(
    template: Mapping[str, Any], logical_id: str, expected_type: str
) -> dict[str, Any]:
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
