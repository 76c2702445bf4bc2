"""Warehouse engines behind one interface; ``connect_warehouse`` picks one from settings."""

from __future__ import annotations

from sparkify_loader.config import WarehouseSettings
from sparkify_loader.warehouse.base import FileLoad, Session, Warehouse
from sparkify_loader.warehouse.errors import (
    RetryWithout,
    SerializationConflict,
    TransientError,
    TransientWarehouseError,
    WarehouseError,
)
from sparkify_loader.warehouse.s3 import s3_client

__all__ = [
    "FileLoad",
    "RetryWithout",
    "SerializationConflict",
    "Session",
    "TransientError",
    "TransientWarehouseError",
    "Warehouse",
    "WarehouseError",
    "connect_warehouse",
]


def connect_warehouse(settings: WarehouseSettings) -> Warehouse:
    """The engine the settings name, with an S3 client configured by this process's environment
    (inside a function: the function's own, as its template sets it). Drivers are imported
    lazily: the Lambda layer ships redshift-connector only, the local runtime psycopg only."""
    s3 = s3_client()
    if settings.warehouse_engine == "postgres":
        from sparkify_loader.warehouse.postgres import PostgresWarehouse

        assert settings.warehouse_url is not None  # checked by the settings model
        return PostgresWarehouse(
            settings.warehouse_url, s3=s3, isolation=settings.warehouse_isolation
        )
    from sparkify_loader.warehouse.redshift import RedshiftWarehouse

    return RedshiftWarehouse(settings, s3=s3)
