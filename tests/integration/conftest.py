"""The real local stack for integration tests: moto server + embedded PostgreSQL.

One stack per test session (they start in about a second); every test starts from an empty
bucket, empty queues and empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkify_loader.config import StageSettings
from sparkify_loader.observability import metrics
from sparkify_loader.warehouse.postgres import PostgresWarehouse
from sparkify_local import services
from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    home = Home(tmp_path_factory.mktemp("sparkify-home"))
    saved = dict(os.environ)
    pipeline = LocalPipeline.start(home)
    yield pipeline
    pipeline.close()
    services.down(home)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def pipeline(stack: LocalPipeline) -> LocalPipeline:
    """The stack, emptied: no objects, no messages, no rows."""
    reset(stack)
    return stack


def reset(stack: LocalPipeline) -> None:
    stack.reset()


@pytest.fixture
def warehouse(stack: LocalPipeline) -> PostgresWarehouse:
    return stack.warehouse


@pytest.fixture
def stage_settings(stack: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> StageSettings:
    """Settings as the stage function reads them locally (postgres engine)."""
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv("WAREHOUSE_URL", stack.endpoints.warehouse_url)
    return StageSettings()


@pytest.fixture(autouse=True)
def _reset_metrics() -> Iterator[None]:
    yield
    metrics.clear_metrics()


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def staging_snapshot(pipeline: LocalPipeline) -> dict[str, list[tuple]]:
    """Every row of the staging tables and the ledger, in a stable order."""
    session = pipeline.warehouse.session()
    return {
        table: sorted(session.query(f"SELECT * FROM {table}"), key=repr)
        for table in ("staging_events", "staging_songs", "load_ledger")
    }
