"""The merge state machine's contract with the merge function, as pydantic models.

Each Task of ``statemachine/merge.asl.json`` sends one step's payload (``MergeStep``: a union
discriminated on ``step``, parsed by Powertools' parser in the handler) and gets back that step's
result model, dumped to JSON. The state machine reads results at ``$.<ResultPath>.result``
(e.g. ``$.lease.result.merge_id``), the local runner and the metrics read the same models, so
the shape is written down once, here.

Every result carries its ``step`` too, so anything holding a result (an execution's history, a
dry run's report) can parse it back without knowing which state produced it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

# Every table the merge upserts (the merge function knows each one's batch table and key).
UpsertTable = Literal["users", "songs", "artists", "time", "songplays"]
# merge_lease.merge_id and friends are VARCHAR(32).
MergeId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
# A quality check's name (its file in sql/merge/quality) -> rows that break it.
CheckCounts = dict[str, int]


class _Contract(BaseModel):
    # A field the other side does not know is a contract drift: fail on it, naming it.
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- What each Task sends ---------------------------------------------------------------------


class LeaseStep(_Contract):
    """Take the one-merge-at-a-time lease and claim the loads staged so far."""

    step: Literal["lease"] = "lease"
    execution: str | None = None  # the execution's ARN, kept with the run for operators


class DryRunStep(_Contract):
    """Compute everything a merge would change now, and roll it back."""

    step: Literal["dry_run"] = "dry_run"


class UpsertStep(_Contract):
    step: Literal["upsert"] = "upsert"
    table: UpsertTable
    merge_id: MergeId


class RematchStep(_Contract):
    step: Literal["rematch"] = "rematch"
    merge_id: MergeId


class QualityStep(_Contract):
    step: Literal["quality"] = "quality"
    merge_id: MergeId


class FinalizeStep(_Contract):
    step: Literal["finalize"] = "finalize"
    merge_id: MergeId


class CaughtError(_Contract):
    """The error object a Catch puts at its ResultPath: the failed Task's ``Error`` (for a
    function error, the exception's class name) and ``Cause``."""

    name: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")

    def one_line(self) -> str:
        return f"{self.name}: {self.cause}"


class FailStep(_Contract):
    """Record a failed run and free its lease. ``merge_id`` is absent when no lease was taken."""

    step: Literal["fail"] = "fail"
    merge_id: MergeId | None = None
    error: CaughtError


MergeStepInput = (
    LeaseStep | DryRunStep | UpsertStep | RematchStep | QualityStep | FinalizeStep | FailStep
)


class MergeStep(RootModel[Annotated[MergeStepInput, Field(discriminator="step")]]):
    """One Task's payload: its ``step`` names the model the rest must fit."""


# -- What each step returns -------------------------------------------------------------------


class StepResult(_Contract, ABC):
    @abstractmethod
    def describe(self) -> str:
        """One line for a person following the merge (``sparkify merge``)."""


class LeaseResult(StepResult):
    """``acquired`` and ``merge_id`` are what the state machine reads (``HasWork``, every later
    Task's payload)."""

    step: Literal["lease"] = "lease"
    acquired: bool
    merge_id: MergeId | None = None
    files: int | None = None  # None: another merge holds the lease, nothing was counted
    loads: int | None = None
    reason: str | None = None  # why no lease was taken

    @model_validator(mode="after")
    def _merge_id_when_acquired(self) -> Self:
        if self.acquired != (self.merge_id is not None):
            raise ValueError("merge_id is set exactly when the lease was acquired")
        return self

    def describe(self) -> str:
        if self.acquired:
            return f"claimed {self.files} files in {self.loads} loads"
        return f"no merge: {self.reason}"


class UpsertResult(StepResult):
    step: Literal["upsert"] = "upsert"
    table: UpsertTable
    rows: int  # de-duplicated rows in the batch
    inserted: int
    updated: int

    def describe(self) -> str:
        return f"{self.table}: {self.inserted} inserted, {self.updated} updated"


class RematchResult(StepResult):
    step: Literal["rematch"] = "rematch"
    table: Literal["songplays"] = "songplays"
    rematched: int
    reason: str | None = None  # why nothing was tried

    def describe(self) -> str:
        because = f" ({self.reason})" if self.reason else ""
        return f"rematched {self.rematched} earlier plays{because}"


class QualityResult(StepResult):
    step: Literal["quality"] = "quality"
    checks: CheckCounts

    def describe(self) -> str:
        return "checks passed: " + ", ".join(sorted(self.checks))


class FinalizeResult(StepResult):
    step: Literal["finalize"] = "finalize"
    files_merged: int
    # Seconds from the oldest (average) merged file's staging to now; None when none merged.
    latency_max_s: float | None
    latency_avg_s: float | None

    def describe(self) -> str:
        if self.latency_max_s is None:
            return f"{self.files_merged} files merged"
        return f"{self.files_merged} files merged, latency max {self.latency_max_s}s"


class FailureResult(StepResult):
    step: Literal["fail"] = "fail"
    merge_id: MergeId | None
    released: bool  # the run's lease was given back
    error: str  # the caught error as one line
    error_type: str  # the caught error's name (its exception class for a function error)

    def describe(self) -> str:
        return "failure recorded, lease released" if self.released else "failure recorded"


class DryRunReport(StepResult):
    step: Literal["dry_run"] = "dry_run"
    dry_run: Literal[True] = True
    files: int
    loads: int
    tables: list[UpsertResult]
    rematch: RematchResult
    checks: CheckCounts

    def describe(self) -> str:
        if not self.files:
            return "dry run: nothing staged, nothing would change"
        tables = "; ".join(table.describe() for table in self.tables)
        failed = [name for name, count in self.checks.items() if count]
        checks = f"checks would FAIL: {', '.join(failed)}" if failed else "checks would pass"
        return (
            f"dry run over {self.files} staged files: {tables}; {self.rematch.describe()}; {checks}"
        )


MergeStepResult = (
    LeaseResult
    | DryRunReport
    | UpsertResult
    | RematchResult
    | QualityResult
    | FinalizeResult
    | FailureResult
)
# Reads a result back from JSON (an execution's history), whichever step returned it.
STEP_RESULT: TypeAdapter[MergeStepResult] = TypeAdapter(
    Annotated[MergeStepResult, Field(discriminator="step")]
)
