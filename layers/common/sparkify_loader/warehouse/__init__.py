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


def connect_warehouse(settings: WarehouseSettings, **redshift_options: object) -> Warehouse:
    """The engine the settings name. Drivers are imported lazily: the Lambda layer ships
    redshift-connector only, the local runtime psycopg only."""
    if settings.warehouse_engine == "postgres":
        from sparkify_loader.warehouse.postgres import PostgresWarehouse

        assert settings.warehouse_url is not None  # checked by the settings model
        return PostgresWarehouse(settings.warehouse_url)
    from sparkify_loader.warehouse.redshift import RedshiftWarehouse

    return RedshiftWarehouse(settings, **redshift_options)  # type: ignore[arg-type]
