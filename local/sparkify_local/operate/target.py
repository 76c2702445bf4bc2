"""What a ``sparkify`` command needs from the stack it operates, and nothing more: the local stack
(``local.LocalTarget``) and a deployed one (``deployed.DeployedTarget``) implement it, so each
command is written once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from sparkify_loader.completeness.landing import Landing
from sparkify_local.operate.merges import StateMachine
from sparkify_local.runtime.event_source import DrainStats
from sparkify_local.runtime.resources import QueueDepth


class QueryResult(NamedTuple):
    columns: list[str]
    rows: list[tuple[Any, ...]]


class StackTarget(Landing, Protocol):
    @property
    def description(self) -> str:
        """Which stack, for messages: the local home, or the stack name and region."""
        ...

    @property
    def environment(self) -> str:
        """The stack's Environment (dev, staging, prod; the local stack is "local")."""
        ...

    def state_machine(self) -> StateMachine: ...

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run one of our SQL files' statements (pyformat parameters); return its rows."""
        ...

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one of our statements that returns no rows, committed on its own; return how
        many rows it changed."""
        ...

    def query(self, statement: str) -> QueryResult:
        """Run the user's own statement as typed; return its columns and rows."""
        ...

    def stage_queue_depth(self) -> QueueDepth: ...

    def dead_letter_depth(self) -> int: ...

    def settle(
        self, versions: Mapping[str, str], progress: bool, merge_on_arrival: bool
    ) -> DrainStats | None:
        """Return once the stage function has handled the notifications of these versions
        (key -> etag): the local stack runs the real handler over its queue; a deployed stack's
        Lambda does it and the command waits for the ledger. None: not seen by the command."""
        ...
