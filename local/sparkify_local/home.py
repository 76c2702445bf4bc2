"""SPARKIFY_HOME: where one local stack keeps its state (warehouse data, endpoints, logs)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class StateFileError(RuntimeError):
    """The home's state file cannot be read; the message names it."""


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get("SPARKIFY_HOME", ".sparkify")).resolve())

    @property
    def pg_data(self) -> Path:
        return self.root / "warehouse"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state_file(self) -> Path:
        return self.root / "services.json"

    def read_state(self) -> dict[str, Any]:
        """The recorded services; empty for a home that never started any."""
        try:
            state = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            # An empty state would start a second set of services next to the recorded ones.
            raise StateFileError(
                f"state file {self.state_file} is unreadable ({error}); "
                "`sparkify down` stops this home's services and removes it"
            ) from error
        if not isinstance(state, dict):
            raise StateFileError(
                f"state file {self.state_file} holds no JSON object; "
                "`sparkify down` stops this home's services and removes it"
            )
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        # Write-then-rename: a command killed mid-write never leaves a torn state file.
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(self.state_file)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize service start/stop between commands sharing this home."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        with open(self.root / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
