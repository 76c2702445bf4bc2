"""The functions' handler modules, imported from their files as Lambda imports them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sparkify_local.sam.template import function_wiring


def handler_path(template: dict[str, Any], logical_id: str) -> Path:
    """The file of the function's handler, as the template names it."""
    wiring = function_wiring(template, logical_id)
    return wiring.code_uri / f"{wiring.module_name.replace('.', '/')}.py"


def import_handler_module(template: dict[str, Any], logical_id: str) -> ModuleType:
    """Import the handler's module afresh (a cold start: its settings are read now)."""
    spec = importlib.util.spec_from_file_location(
        f"handler_of_{logical_id}", handler_path(template, logical_id)
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_unreachable_local_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a local function whose warehouse the test never reaches."""
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://unused")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
