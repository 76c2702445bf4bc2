"""Amazon Redshift engine (redshift-connector): the production warehouse.

S3 keys only ever appear inside the COPY manifest (JSON), never in SQL; the few values that do
reach SQL (the manifest and JSONPaths URIs, the COPY role) go in as quoted literals.

The parts that need no connection are modules of their own, tested without a Redshift:
``copy_sql`` (the COPY statements), ``manifests`` (the S3 pre-check, manifests, JSONPaths
files), ``attribution`` (the load tables' file names back to object versions), ``driver_errors``
(driver errors to the project's) and ``connect`` (connection options, the secret). ``session``
holds the session and the warehouse.
"""

from sparkify_loader.warehouse.redshift.attribution import (
    attribute_files,
    load_error_reasons,
    rows_by_version,
)
from sparkify_loader.warehouse.redshift.connect import connection_options
from sparkify_loader.warehouse.redshift.copy_sql import (
    copy_columns,
    copy_target,
    create_copy_target_sql,
    drop_copy_target_sql,
    insert_from_copy_target_sql,
    render_copy,
)
from sparkify_loader.warehouse.redshift.driver_errors import (
    ObjectChangedDuringCopy,
    translate_error,
    translated_errors,
)
from sparkify_loader.warehouse.redshift.manifests import ManifestWriter, precheck_objects, s3_url
from sparkify_loader.warehouse.redshift.session import RedshiftSession, RedshiftWarehouse

__all__ = [
    "ManifestWriter",
    "ObjectChangedDuringCopy",
    "RedshiftSession",
    "RedshiftWarehouse",
    "attribute_files",
    "connection_options",
    "copy_columns",
    "copy_target",
    "create_copy_target_sql",
    "drop_copy_target_sql",
    "insert_from_copy_target_sql",
    "load_error_reasons",
    "precheck_objects",
    "render_copy",
    "rows_by_version",
    "s3_url",
    "translate_error",
    "translated_errors",
]
