"""Packaging tier: builds the Lambda layer the way `sam build` does (no Docker) and reports its
size at the end of the run."""

from __future__ import annotations

import pytest

_REPORT: list[str] = []


@pytest.fixture
def size_report() -> list[str]:
    """Lines a test wants shown in the terminal summary (sizes are worth seeing on success)."""
    return _REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORT:
        terminalreporter.section("Lambda package size")
        for line in _REPORT:
            terminalreporter.write_line(line)
