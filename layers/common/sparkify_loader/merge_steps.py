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

# Every table the merge publishes (the merge function knows each one's work table and key).
PublishedTable = Literal["users", "songs", "artists", "time", "songplays"]
# What one write step builds: a dimension's work table, or the plays with their time rows and
# the earlier plays whose song changes (they need the batch's songs written first).
WorkSet = Literal["users", "songs", "artists", "songplays"]
# merge_lease.merge_id and friends are VARCHAR(32).
MergeId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
# An audit check's name (its file in sql/merge/audit) -> rows that break it.
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


class WriteStep(_Contract):
    """Write one part of the batch into its work tables (nothing visible to analysts)."""

    step: Literal["write"] = "write"
    table: WorkSet
    merge_id: MergeId


class AuditStep(_Contract):
    """Check the work tables; any failed check stops the run before anything is published."""

    step: Literal["audit"] = "audit"
    merge_id: MergeId


class PublishStep(_Contract):
    """Publish the audited batch in one transaction: all five tables, the rematch, the ledger
    status and the staging cleanup."""

    step: Literal["publish"] = "publish"
    merge_id: MergeId


class FinalizeStep(_Contract):
    """Remove the published merge's work rows."""

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
    LeaseStep | DryRunStep | WriteStep | AuditStep | PublishStep | FinalizeStep | FailStep
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
    # Another merge holds the lease: an execution started on arrival waits for it (WaitForLease).
    busy: bool = False

    @model_validator(mode="after")
    def _merge_id_when_acquired(self) -> Self:
        if self.acquired != (self.merge_id is not None):
            raise ValueError("merge_id is set exactly when the lease was acquired")
        return self

    def describe(self) -> str:
        if self.acquired:
            return f"claimed {self.files} files in {self.loads} loads"
        return f"no merge: {self.reason}"


class WriteResult(StepResult):
    step: Literal["write"] = "write"
    table: WorkSet
    rows: dict[str, int]  # work table -> rows this merge wrote into it

    def describe(self) -> str:
        return ", ".join(f"{table}: {rows} rows" for table, rows in self.rows.items())


class AuditResult(StepResult):
    step: Literal["audit"] = "audit"
    checks: CheckCounts

    def describe(self) -> str:
        return f"{len(self.checks)} checks passed"


class TablePublished(_Contract):
    """What publishing did to one table."""

    table: PublishedTable
    inserted: int
    updated: int
    deleted: int = 0  # rows only an older version of a republished file had

    def describe(self) -> str:
        deleted = f", {self.deleted} deleted" if self.deleted else ""
        return f"{self.table}: {self.inserted} inserted, {self.updated} updated{deleted}"


class PublishResult(StepResult):
    step: Literal["publish"] = "publish"
    tables: list[TablePublished]
    rematched: int  # earlier plays whose song changed (matched, re-matched or un-matched)
    files_merged: int
    # Seconds from the oldest (newest) published file's S3 event to the publish; None when no
    # file had an event time.
    latency_max_s: float | None
    latency_min_s: float | None

    def describe(self) -> str:
        tables = "; ".join(table.describe() for table in self.tables)
        latency = f", latency max {self.latency_max_s}s" if self.latency_max_s is not None else ""
        return (
            f"{self.files_merged} files published ({tables}; rematched {self.rematched} "
            f"earlier plays){latency}"
        )


class FinalizeResult(StepResult):
    step: Literal["finalize"] = "finalize"
    work_rows_removed: int

    def describe(self) -> str:
        return f"{self.work_rows_removed} work rows removed"


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
    writes: list[WriteResult]
    checks: CheckCounts
    publish: PublishResult | None  # None when a check failed: nothing would be published

    def describe(self) -> str:
        if not self.files:
            return "dry run: nothing staged, nothing would change"
        failed = [name for name, count in self.checks.items() if count]
        if failed or self.publish is None:
            return f"dry run over {self.files} staged files: audit would FAIL: {', '.join(failed)}"
        return f"dry run over {self.files} staged files: {self.publish.describe()}; audit passes"


MergeStepResult = (
    LeaseResult
    | DryRunReport
    | WriteResult
    | AuditResult
    | PublishResult
    | FinalizeResult
    | FailureResult
)
# Reads a result back from JSON (an execution's history), whichever step returned it.
STEP_RESULT: TypeAdapter[MergeStepResult] = TypeAdapter(
    Annotated[MergeStepResult, Field(discriminator="step")]
)
