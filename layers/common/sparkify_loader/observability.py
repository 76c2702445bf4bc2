"""One place that creates the logger, metrics and tracer every handler uses.

Metric names live in ``MetricName`` so the dashboard, the alarms and the code share one list.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()


class MetricName(StrEnum):
    FILES_STAGED = "FilesStaged"
    FILES_REJECTED = "FilesRejected"
    FILES_SKIPPED_DUPLICATE = "FilesSkippedDuplicate"
    FILES_SUPERSEDED = "FilesSuperseded"
    FILES_MISSING = "FilesMissing"
    UNKNOWN_PREFIX_SKIPPED = "UnknownPrefixSkipped"
    TEST_EVENTS_IGNORED = "TestEventsIgnored"
    EVENT_ROWS_STAGED = "EventRowsStaged"
    SONG_ROWS_STAGED = "SongRowsStaged"
    STAGE_SERIALIZATION_RETRIES = "StageSerializationRetries"
    COPY_DURATION_MS = "CopyDurationMs"
    FILES_MERGED = "FilesMerged"
    ROWS_INSERTED = "RowsInserted"
    ROWS_UPDATED = "RowsUpdated"
    PLAYS_REMATCHED = "PlaysRematched"
    STEP_DURATION_MS = "MergeStepDurationMs"
    END_TO_END_LATENCY_S = "EndToEndLatencySeconds"
    QUALITY_CHECK_FAILURES = "QualityCheckFailures"
    MERGE_FAILED = "MergeFailed"
    FILES_LISTED = "FilesListed"
    FILES_IN_FLIGHT = "FilesInFlight"
    FILES_UNACCOUNTED = "FilesUnaccounted"
    FILES_REANNOUNCED = "FilesReannounced"
