"""Runs inside the moto server process: the part of Logs Insights the dashboard's queries use.

moto 5.2.5's StartQuery knows ``fields``, ``sort`` and ``limit`` over ``@``-fields only: it
ignores ``filter`` (every event matches) and does not discover the fields of JSON log events,
so the dashboard's rejected-files table would list every log line with empty columns. This
replaces its query executor with one that does what CloudWatch does for these commands:
fields discovered from JSON messages (nested keys joined with ``.``), ``filter`` with ``=`` and
``!=`` against a quoted string or a number, ``sort`` and ``limit``. Any other command is refused
with an error naming it, never ignored.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from datetime import UTC, datetime
from typing import Any

from moto.logs import models as logs_models
from moto.logs.exceptions import InvalidParameterException

_FILTER = re.compile(r"^\s*([@\w.]+)\s*(=|!=)\s*(.+?)\s*$")


def _fields(event: Any, stream: Any, group: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "@ptr": event.event_id,
        "@timestamp": datetime.fromtimestamp(event.timestamp / 1000, UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f"
        )[:-3],
        "@message": event.message,
        "@logStream": stream.log_stream_name,
        "@log": group.name,
        "@epoch": event.timestamp,  # for sorting; never returned
    }
    try:
        document = json.loads(event.message)
    except ValueError:
        return fields

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                flatten(f"{prefix}{key}.", inner)
        else:
            fields[prefix[:-1]] = value

    if isinstance(document, dict):
        flatten("", document)
    return fields


def _literal(text: str) -> Any:
    if text[:1] in {'"', "'"}:
        return shlex.split(text)[0]
    try:
        return float(text)
    except ValueError:
        raise InvalidParameterException(f"cannot compare with {text!r} locally") from None


def _matches(fields: dict[str, Any], condition: str) -> bool:
    match = _FILTER.match(condition)
    if match is None:
        raise InvalidParameterException(
            f"local Logs Insights filters only with field = value or field != value: {condition!r}"
        )
    name, operator, literal = match.groups()
    expected = _literal(literal)
    value = fields.get(name)
    if isinstance(expected, float) and isinstance(value, int | float | str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return (value == expected) == (operator == "=")


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers before text, missing values last (in ascending order), as Logs Insights sorts."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, "") if value is None else (0, 0.0, str(value))


def _commands(query: str) -> list[tuple[str, str]]:
    """``(command, argument)`` per pipe-separated part; a ``|`` inside quotes is text."""
    parts = re.split(r"""\|(?=(?:[^"']*["'][^"']*["'])*[^"']*$)""", query)
    commands = []
    for part in parts:
        command, _, argument = part.strip().partition(" ")
        commands.append((command.lower(), argument.strip()))
    return commands


def execute_query(
    log_groups: list[Any], query: str, start_time: int, end_time: int
) -> list[dict[str, Any]]:
    rows = [
        _fields(event, stream, group)
        for group in log_groups
        for stream in group.streams.values()
        for event in stream.events
        # Start and end are epoch seconds, event timestamps epoch milliseconds.
        if start_time * 1000 <= event.timestamp <= end_time * 1000
    ]
    shown: list[str] | None = None
    limit: int | None = None
    for command, argument in _commands(query):
        if command == "fields":
            shown = [name.strip() for name in argument.split(",")]
        elif command == "filter":
            rows = [row for row in rows if _matches(row, argument)]
        elif command == "sort":
            name, _, order = argument.partition(" ")
            key = "@epoch" if name == "@timestamp" else name
            rows.sort(key=lambda row: _sort_key(row.get(key)), reverse=order != "asc")
        elif command == "limit":
            limit = int(argument)
        else:
            raise InvalidParameterException(
                f"local Logs Insights runs fields, filter, sort and limit; not {command!r}"
            )
    if limit is not None:
        rows = rows[:limit]
    return [
        {
            name: row[name]
            for name in ["@ptr", *(shown or ["@timestamp", "@message"])]
            if name in row
        }
        for row in rows
    ]


def apply() -> None:
    logs_models.execute_query = execute_query
