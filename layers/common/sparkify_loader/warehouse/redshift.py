"""Amazon Redshift engine (redshift-connector): the production warehouse.

A batch's files reach Redshift through one ``COPY … MANIFEST`` per dataset into a session-private
copy target, whose rows move into the staging table tagged with the batch's load_id. S3 keys
only ever appear inside the manifest (JSON), never in SQL; the few values that do reach SQL (the
manifest and JSONPaths URIs, the COPY role) go in as quoted literals built by ``quote_literal``.

Redshift aborts the whole transaction when COPY meets a bad file. The engine then rolls back,
reads ``stl_load_errors`` to name the bad files (running the same COPY again with NOLOAD and a
large MAXERROR, so every bad file is named in one go) and raises ``RetryWithout``: the caller
reruns its transaction without them.

The pieces that need no connection (literal quoting, statement rendering, manifests, the S3
pre-check, mapping Redshift's file names back to object versions, error translation) are module
functions and a ``ManifestWriter``, so they are tested without a Redshift.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache, partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote

import boto3
import redshift_connector
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import BotoCoreError, ClientError

from sparkify_loader.observability import logger
from sparkify_loader.sqlfiles import load_sql, schema_files, sql_path
from sparkify_loader.warehouse.base import FileLoad, ObjectVersion, Session, Warehouse
from sparkify_loader.warehouse.errors import (
    RetryWithout,
    SerializationConflict,
    TransientError,
    TransientWarehouseError,
    WarehouseError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify_loader.config import WarehouseSettings
    from sparkify_loader.datasets import Dataset
    from sparkify_loader.events import LandedObject

# Redshift's upper bound for MAXERROR: the diagnostic NOLOAD run tolerates every bad row so that
# stl_load_errors names every bad file, not just the first one.
DIAGNOSTIC_MAXERROR = 100_000
DEFAULT_MANIFEST_PREFIX = "_loader/manifests/"
# Outside the manifests prefix on purpose: the bucket's lifecycle rule expires manifests, and a
# long-lived process must never point COPY at a JSONPaths file that has been expired under it.
DEFAULT_JSONPATHS_PREFIX = "_loader/config/"
SECRET_MAX_AGE_SECONDS = 300
# A warm Lambda's connection may have been dropped by Redshift while the sandbox was frozen;
# after this long without use, a cheap ping decides whether to reconnect.
IDLE_PING_SECONDS = 30.0
# HEAD requests of one batch run in parallel; S3 takes thousands per second per prefix.
HEAD_CONCURRENCY = 16

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Line-anchored: the COPY files mention "MAXERROR 0" in their header comments too.
_MAXERROR_CLAUSE = re.compile(r"^MAXERROR\s+\d+\s*$", re.MULTILINE)
_COPY_COLUMNS = re.compile(r"COPY\s+\{copy_target\}\s*\(([^)]*)\)", re.IGNORECASE)
_S3_GONE = {"404", "NoSuchKey", "NotFound"}
_S3_CHANGED = {"412", "PreconditionFailed"}
_AUTH_FAILURE = "28000"
_SERIALIZATION_VIOLATION = "serializable isolation violation"
_SERIALIZATION_CODE = re.compile(r"^\s*(?:ERROR:\s*)?1023\b")
# stl_load_errors.filename and stl_load_commits.filename are CHAR(256): longer URLs come back cut.
_STL_FILENAME_BYTES = 256


class ObjectChangedDuringCopy(SerializationConflict):
    """An object was overwritten or deleted between the pre-check and the end of its COPY.

    COPY cannot pin an object version, so nobody knows which bytes it read. Like a lost
    serialization race, the transaction is rolled back and run again; the next pre-check then
    classifies the object as superseded or missing, and its newer version loads on its own event.
    """


# -- SQL text -----------------------------------------------------------------------------------


def quote_literal(value: str) -> str:
    """``value`` as a Redshift string literal: wrapped in single quotes, each ``'`` doubled.

    Redshift treats a backslash inside a literal as an escape character, and a NUL cannot be
    sent at all; rather than guess at escaping rules, such values are refused.
    """
    if "\\" in value or "\x00" in value:
        raise ValueError(f"refusing to quote a value with a backslash or NUL: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Substitute every ``{name}`` of ``template`` in one pass (inserted text is not re-scanned).

    A placeholder without a value raises KeyError, so a renamed placeholder cannot slip through
    as literal braces. Callers pass identifiers from our own constants, or quoted literals.
    """
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def copy_target(dataset: Dataset) -> str:
    """The session-private table a dataset's COPY loads into."""
    name = f"copy_{dataset.name}"
    assert _IDENTIFIER.match(name), name  # identifiers come from our own constants only
    return name


@cache
def copy_columns(dataset: Dataset) -> tuple[str, ...]:
    """The staging columns COPY fills, in order, parsed from the dataset's COPY file.

    The COPY file's column list is the one source: the INSERT that moves rows into staging uses
    the same list, so the two cannot disagree.
    """
    match = _COPY_COLUMNS.search(load_sql(dataset.copy_statement))
    if match is None:
        raise ValueError(f"{dataset.copy_statement} has no column list after COPY {{copy_target}}")
    columns = tuple(column.strip() for column in match.group(1).split(",") if column.strip())
    for column in columns:
        assert _IDENTIFIER.match(column), column
    return columns


def render_copy(
    dataset: Dataset,
    *,
    manifest_uri: str,
    copy_role_arn: str,
    jsonpaths_uri: str | None = None,
    noload: bool = False,
) -> str:
    """The dataset's COPY statement with every value as a quoted literal.

    ``noload`` renders the diagnostic run: it checks every file without loading a row and
    tolerates up to DIAGNOSTIC_MAXERROR bad rows, so stl_load_errors names every bad file.
    """
    template = load_sql(dataset.copy_statement)
    if dataset.jsonpaths_file and jsonpaths_uri is None:
        raise ValueError(f"dataset {dataset.name!r} needs the S3 URI of its JSONPaths file")
    if noload:
        # Edit the template, not the rendered text, so a literal can never be rewritten.
        template, replaced = _MAXERROR_CLAUSE.subn(f"MAXERROR {DIAGNOSTIC_MAXERROR}", template)
        if replaced != 1:
            raise ValueError(f"{dataset.copy_statement} must have one MAXERROR line")
    values = {
        "copy_target": copy_target(dataset),
        "manifest_uri": quote_literal(manifest_uri),
        "copy_role_arn": quote_literal(copy_role_arn),
        "noload": "NOLOAD" if noload else "",
    }
    if jsonpaths_uri is not None:
        values["jsonpaths_uri"] = quote_literal(jsonpaths_uri)
    return fill_template(template, values)


def s3_url(bucket: str, key: str) -> str:
    """The URL COPY manifests use, and the form Redshift's load tables report files by."""
    return f"s3://{bucket}/{key}"


# -- S3: pre-check and manifests ----------------------------------------------------------------


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """S3 faults other than the ones a caller classifies are worth a retry of the batch."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise TransientError(f"S3 {action} failed: {code or error}") from error
    except BotoCoreError as error:
        raise TransientError(f"S3 {action} failed: {error}") from error


def _current_version_problem(s3: S3Client, obj: LandedObject) -> FileLoad | None:
    """None when the announced version is still the object's current one; else why not."""
    try:
        # S3 compares If-Match against the quoted entity tag (moto insists on the quotes).
        s3.head_object(Bucket=obj.bucket, Key=obj.key, IfMatch=f'"{obj.etag}"')
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _S3_GONE:
            return FileLoad("missing", 0, "the object was deleted before it could be loaded")
        if code in _S3_CHANGED:
            return FileLoad("superseded", 0, "the key was overwritten before this version loaded")
        raise TransientError(f"S3 HeadObject {obj.key!r} failed: {code or error}") from error
    except BotoCoreError as error:
        raise TransientError(f"S3 HeadObject {obj.key!r} failed: {error}") from error
    return None


def precheck_objects(
    s3: S3Client, objects: Sequence[LandedObject]
) -> tuple[list[LandedObject], dict[ObjectVersion, FileLoad]]:
    """Split objects into those still current in S3 and the missing or superseded ones.

    Redshift's COPY cannot pin an object version: it reads whatever the key holds when it runs.
    This HEAD (If-Match the announced ETag) only narrows that race; ``RedshiftSession`` closes it
    by checking again after COPY (see ObjectChangedDuringCopy).
    """
    if not objects:
        return [], {}
    workers = min(HEAD_CONCURRENCY, len(objects))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-head") as pool:
        problems = list(pool.map(lambda obj: _current_version_problem(s3, obj), objects))
    current = [obj for obj, problem in zip(objects, problems, strict=True) if problem is None]
    outcomes = {
        obj.version: problem
        for obj, problem in zip(objects, problems, strict=True)
        if problem is not None
    }
    return current, outcomes


class ManifestWriter:
    """Writes COPY manifests under one S3 prefix, and the JSONPaths files COPY needs under
    another (manifests expire by lifecycle rule; JSONPaths files must not).

    One writer lives as long as the warehouse (a Lambda process), so each JSONPaths file is put
    once per process: whatever an older deployment left there is replaced on the first COPY.
    """

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        prefix: str = DEFAULT_MANIFEST_PREFIX,
        jsonpaths_prefix: str = DEFAULT_JSONPATHS_PREFIX,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.jsonpaths_prefix = jsonpaths_prefix
        self._jsonpaths_put: set[str] = set()
        self._lock = threading.Lock()

    def manifest_key(self, dataset: Dataset, load_id: str) -> str:
        return f"{self.prefix}{load_id}-{dataset.name}.manifest"

    @staticmethod
    def manifest_document(objects: Iterable[LandedObject]) -> dict[str, Any]:
        """Every file mandatory: a file that vanished after the pre-check fails the COPY loudly
        instead of loading nothing."""
        return {
            "entries": [{"url": s3_url(obj.bucket, obj.key), "mandatory": True} for obj in objects]
        }

    def write_manifest(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> str:
        """Put the batch's manifest; return its S3 URI. Keys travel in JSON, never in SQL."""
        key = self.manifest_key(dataset, load_id)
        # Raw UTF-8 rather than \\u escapes: the manifest holds the keys exactly as S3 has them.
        body = json.dumps(self.manifest_document(objects), ensure_ascii=False).encode("utf-8")
        with _s3_errors(f"PutObject {key!r}"):
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )
        return s3_url(self.bucket, key)

    def jsonpaths_uri(self, dataset: Dataset) -> str | None:
        """The S3 URI of the dataset's JSONPaths file, put there first if this process has not
        yet; None for a dataset loaded with JSON 'auto'."""
        if dataset.jsonpaths_file is None:
            return None
        key = f"{self.jsonpaths_prefix}{PurePosixPath(dataset.jsonpaths_file).name}"
        with self._lock:
            if key not in self._jsonpaths_put:
                with _s3_errors(f"PutObject {key!r}"):
                    self._s3.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=sql_path(dataset.jsonpaths_file).read_bytes(),
                        ContentType="application/json",
                    )
                self._jsonpaths_put.add(key)
        return s3_url(self.bucket, key)


# -- Redshift's file names back to object versions ----------------------------------------------


def _url_forms(url: str) -> set[str]:
    """The ways a URL may come back from a CHAR column: as is, or with each multibyte character
    replaced by periods (stl_load_errors does so in raw_line; filename is not documented)."""
    return {
        url,
        "".join(char if char.isascii() else "." for char in url),
        "".join(char if char.isascii() else "." * len(char.encode()) for char in url),
    }


def attribute_files(
    reported: Iterable[str], objects: Sequence[LandedObject]
) -> dict[str, ObjectVersion]:
    """Map file names from stl_load_errors / stl_load_commits to the batch's object versions.

    Exact matches first; then the forms a CHAR(256) column may have made of the URL (multibyte
    characters as periods, cut at 256 bytes, trailing blanks trimmed), accepted only when they
    point at exactly one object of the batch. Names that match nothing are left out.
    """
    forms = {
        obj.version: {form.rstrip() for form in _url_forms(s3_url(obj.bucket, obj.key))}
        for obj in objects
    }
    exact = {s3_url(obj.bucket, obj.key).rstrip(): obj.version for obj in objects}
    attributed: dict[str, ObjectVersion] = {}
    for name in reported:
        candidates = {name.rstrip(), unquote(name).rstrip()}
        hit = next((exact[candidate] for candidate in candidates if candidate in exact), None)
        if hit is None:
            matches = {
                version
                for version, url_forms in forms.items()
                for form in url_forms
                for candidate in candidates
                if form == candidate
                or (
                    len(candidate.encode()) >= _STL_FILENAME_BYTES - 8
                    and form.startswith(candidate)
                )
            }
            hit = matches.pop() if len(matches) == 1 else None
        if hit is not None:
            attributed[name] = hit
    return attributed


def load_error_reasons(
    rows: Iterable[Sequence[Any]], objects: Sequence[LandedObject]
) -> tuple[dict[ObjectVersion, str], list[str]]:
    """Rejection reasons per object version from load_errors.sql rows, and the file names that
    could not be attributed to any object of the batch.

    A row is (filename, line_number, colname, err_reason): the first error of one file.
    """
    rows = list(rows)
    attributed = attribute_files((str(row[0]) for row in rows), objects)
    reasons: dict[ObjectVersion, str] = {}
    unattributed: list[str] = []
    for filename, line_number, colname, reason in rows:
        version = attributed.get(str(filename))
        if version is None:
            unattributed.append(str(filename))
            continue
        where = f"line {line_number}"
        if colname and str(colname).strip():
            where += f", column {str(colname).strip()}"
        reasons.setdefault(version, f"{where}: {str(reason or '').strip()}")
    return reasons, unattributed


def rows_by_version(
    rows: Iterable[Sequence[Any]], objects: Sequence[LandedObject], inserted: int
) -> dict[ObjectVersion, int]:
    """Rows per object version from rows_per_file.sql, checked against the rows inserted.

    A file that stl_load_commits does not list contributed no rows. When the per-file figures do
    not add up to what the INSERT moved, a one-file COPY takes the INSERT's count (exact); for
    several files the disagreement is logged, as only Redshift's per-file figures exist.
    """
    rows = list(rows)
    attributed = attribute_files((str(row[0]) for row in rows), objects)
    counts = {obj.version: 0 for obj in objects}
    for filename, lines in rows:
        version = attributed.get(str(filename))
        if version is not None:
            counts[version] += int(lines or 0)
    if sum(counts.values()) != inserted:
        if len(objects) == 1:
            counts[objects[0].version] = inserted
        else:
            logger.warning(
                "per-file row counts from stl_load_commits disagree with rows inserted",
                extra={"per_file_total": sum(counts.values()), "inserted": inserted},
            )
    return counts


# -- Driver errors ------------------------------------------------------------------------------


def _error_fields(error: BaseException) -> dict[str, str]:
    """The server's ErrorResponse fields (S, C, M, D, …) the driver puts in args[0], if any."""
    first = error.args[0] if error.args else None
    return {str(k): str(v) for k, v in first.items()} if isinstance(first, dict) else {}


def describe_error(error: BaseException) -> str:
    """A readable one-line message: Redshift's message and detail, not the driver's dict."""
    fields = _error_fields(error)
    if fields:
        message = fields.get("M", "").strip()
        detail = fields.get("D", "").strip()
        return f"{message} DETAIL: {detail}" if detail else message or str(fields)
    return ": ".join(str(arg) for arg in error.args).strip() or type(error).__name__


def is_serialization_violation(error: BaseException) -> bool:
    """Redshift reports a lost serializable race as ``ERROR: 1023 DETAIL: Serializable
    isolation violation on table …``; the code sits in the message field, not the SQLSTATE."""
    fields = _error_fields(error)
    message = fields.get("M", "") if fields else describe_error(error)
    texts = fields.values() if fields else [message]
    return bool(_SERIALIZATION_CODE.match(message)) or any(
        _SERIALIZATION_VIOLATION in text.lower() for text in texts
    )


def _is_auth_failure(error: BaseException) -> bool:
    return _error_fields(error).get("C") == _AUTH_FAILURE


def translate_error(error: BaseException) -> WarehouseError:
    """The project's exception for a driver (or socket) error."""
    message = describe_error(error)
    if is_serialization_violation(error):
        return SerializationConflict(message)
    if isinstance(
        error, redshift_connector.InterfaceError | redshift_connector.OperationalError | OSError
    ):
        return TransientWarehouseError(message)
    return WarehouseError(message)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become the project's own at this boundary."""
    try:
        yield
    except (redshift_connector.Error, OSError) as error:
        raise translate_error(error) from error


# -- Connecting ---------------------------------------------------------------------------------


def connection_options(
    settings: WarehouseSettings, secret: Mapping[str, Any] | None, region: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``redshift_connector.connect``. Holds the password when a secret is
    used: never log the result."""
    options: dict[str, Any] = {
        "host": settings.redshift_host,
        "port": settings.redshift_port,
        "database": settings.redshift_database,
        "application_name": "sparkify-loader",
    }
    if secret is not None:
        # The layout of RDS/Redshift secrets that Secrets Manager rotates.
        missing = [name for name in ("username", "password") if not secret.get(name)]
        if missing:
            raise WarehouseError(f"Redshift secret lacks {', '.join(missing)}")
        options.update(user=secret["username"], password=secret["password"])
        return options
    # IAM auth: the driver asks Redshift (Serverless) for temporary credentials with the
    # function's own role, so no password exists anywhere.
    options.update(iam=True, db_user=settings.redshift_db_user)
    if region:
        options["region"] = region
    if settings.redshift_workgroup_name:
        options.update(is_serverless=True, serverless_work_group=settings.redshift_workgroup_name)
    else:
        options["cluster_identifier"] = settings.redshift_cluster_identifier
    return options


# -- Session and warehouse ----------------------------------------------------------------------


class RedshiftSession(Session):
    """One connection. Outside ``transaction()`` every statement commits on its own, as on the
    PostgreSQL engine, so a stray query never leaves a snapshot open in a warm Lambda."""

    def __init__(
        self,
        connection: redshift_connector.Connection,
        *,
        s3: S3Client,
        manifests: ManifestWriter | None,
        copy_role_arn: str,
    ) -> None:
        self.connection = connection
        self._cursor = connection.cursor()
        self._cursor.paramstyle = "pyformat"  # our statements use %(name)s
        self._s3 = s3
        self._manifests = manifests
        self._copy_role_arn = copy_role_arn
        self._in_transaction = False
        self.broken = False
        self.closed = False
        self.last_used = time.monotonic()

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _driver_calls(self) -> Iterator[None]:
        """Translate driver errors; a connection that failed at the transport is not reused."""
        self.last_used = time.monotonic()
        try:
            with translated_errors():
                yield
        except TransientWarehouseError as error:
            if not isinstance(error, SerializationConflict):
                self.broken = True
            raise

    def _statement_scope(self) -> AbstractContextManager[None]:
        return nullcontext() if self._in_transaction else self.transaction()

    def _rollback(self) -> None:
        with self._driver_calls():
            self.connection.rollback()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:
            raise WarehouseError("transactions do not nest")
        self._in_transaction = True
        try:
            yield
            with self._driver_calls():
                self.connection.commit()
        except BaseException as error:
            # A failed COMMIT (e.g. Redshift's 1023 at commit time) lands here too.
            try:
                self._rollback()
            except WarehouseError as rollback_error:
                error.add_note(f"rollback failed as well: {rollback_error}")
                self.broken = True
            raise
        finally:
            self._in_transaction = False

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        # Without params the driver sends the text as is: no placeholder parsing at all.
        with self._statement_scope(), self._driver_calls():
            self._cursor.execute(statement, params)
            return self._cursor.rowcount

    def query(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        with self._statement_scope(), self._driver_calls():
            self._cursor.execute(statement, params)
            return [tuple(row) for row in self._cursor.fetchall()]

    def reclaim_space(self, table: str) -> None:
        """Nothing to do: Redshift's automatic VACUUM DELETE reclaims deleted rows in the
        background, and an explicit VACUUM would queue behind the cluster's one vacuum."""

    def apply_schema(self) -> None:
        """The schema files run unchanged: they are Redshift dialect already."""
        with self.transaction():
            for name in schema_files():
                self.execute(load_sql(name))

    def ping(self) -> bool:
        """Whether the connection still answers; a failure marks it broken."""
        try:
            self.query("SELECT 1")
        except TransientWarehouseError as error:
            logger.info(
                "warehouse connection went stale; reconnecting", extra={"error": str(error)}
            )
            return False
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.connection.close()
        except (redshift_connector.InterfaceError, OSError) as error:
            # Closing a connection the server already dropped: there is nothing left to release.
            logger.debug("closing a dead warehouse connection", extra={"error": str(error)})

    # -- COPY -----------------------------------------------------------------------------------

    def copy_into_staging(
        self, dataset: Dataset, objects: Sequence[LandedObject], load_id: str
    ) -> dict[ObjectVersion, FileLoad]:
        if not self._in_transaction:
            raise WarehouseError("copy_into_staging must run inside transaction()")
        if self._manifests is None:
            raise WarehouseError("MANIFEST_BUCKET is not set: Redshift COPY needs a manifest")
        current, outcomes = precheck_objects(self._s3, objects)
        if not current:
            return outcomes
        manifest_uri = self._manifests.write_manifest(dataset, current, load_id)
        jsonpaths_uri = self._manifests.jsonpaths_uri(dataset)
        target = copy_target(dataset)
        create_target = fill_template(
            load_sql("stage/redshift/create_copy_target.sql"),
            {"copy_target": target, "staging_table": dataset.staging_table},
        )
        render = partial(
            render_copy,
            dataset,
            manifest_uri=manifest_uri,
            copy_role_arn=self._copy_role_arn,
            jsonpaths_uri=jsonpaths_uri,
        )
        self.execute(create_target)
        try:
            self.execute(render())
        except TransientWarehouseError:
            raise  # connection trouble or a lost serializable race: the caller retries
        except WarehouseError as copy_error:
            self._name_bad_files(dataset, current, create_target, render, copy_error)
        inserted = self.execute(
            fill_template(
                load_sql("stage/redshift/insert_from_copy_target.sql"),
                {
                    "staging_table": dataset.staging_table,
                    "columns": ", ".join(copy_columns(dataset)),
                    "copy_target": target,
                },
            ),
            {"load_id": load_id},
        )
        per_file = self.query(load_sql("stage/redshift/rows_per_file.sql"))
        # The session outlives the batch in a warm Lambda, and the next batch creates the copy
        # target again; the name is one of our own identifiers (copy_target).
        self.execute(f"DROP TABLE {target}")
        self._raise_if_changed(current)
        for version, rows in rows_by_version(per_file, current, inserted).items():
            outcomes[version] = FileLoad.staged(rows)
        return outcomes

    def _raise_if_changed(self, loaded: Sequence[LandedObject]) -> None:
        """Close the race the pre-check only narrows: if any object changed while COPY ran,
        nobody knows which version COPY read, so the transaction is run again."""
        _, changed = precheck_objects(self._s3, loaded)
        if changed:
            raise ObjectChangedDuringCopy(
                f"{len(changed)} object(s) changed while COPY ran: "
                + ", ".join(repr(key) for _, key, _ in changed)
            )

    def _name_bad_files(
        self,
        dataset: Dataset,
        objects: Sequence[LandedObject],
        create_target: str,
        render: Callable[..., str],
        copy_error: WarehouseError,
    ) -> NoReturn:
        """After a failed COPY: raise RetryWithout naming every bad file, or the COPY's error
        when no file is to blame (permissions, a malformed manifest, …). Never returns."""
        # The failed COPY aborted the transaction: nothing else runs until it is rolled back.
        self._rollback()
        first_errors = self.query(load_sql("stage/redshift/load_errors.sql"))
        rejections, unattributed = load_error_reasons(first_errors, objects)
        try:
            self.execute(create_target)
            self.execute(render(noload=True))
        except TransientWarehouseError:
            raise
        except WarehouseError as diagnosis_error:
            # The NOLOAD run failed too; its own load errors may still name further files.
            logger.warning("diagnostic NOLOAD COPY failed", extra={"error": str(diagnosis_error)})
            self._rollback()
        all_rejections, more_unattributed = load_error_reasons(
            self.query(load_sql("stage/redshift/load_errors.sql")), objects
        )
        self._rollback()
        rejections = {**all_rejections, **rejections}
        if unattributed or more_unattributed:
            logger.warning(
                "load errors name files outside the batch's manifest",
                extra={"files": sorted(set(unattributed + more_unattributed))},
            )
        if rejections:
            raise RetryWithout(rejections) from copy_error
        self._raise_if_changed(objects)  # a file vanished or changed after the pre-check
        raise WarehouseError(
            f"COPY into {copy_target(dataset)} failed: {copy_error}"
        ) from copy_error


class RedshiftWarehouse(Warehouse):
    """Connects with a Secrets Manager secret, or with IAM auth (provisioned or Serverless)."""

    def __init__(
        self,
        settings: WarehouseSettings,
        *,
        s3_client: S3Client | None = None,
        fetch_secret: Callable[..., Any] = parameters.get_secret,
    ) -> None:
        super().__init__()
        if not settings.redshift_copy_role_arn:
            raise WarehouseError("REDSHIFT_COPY_ROLE_ARN is not set")
        self._settings = settings
        self._copy_role_arn = settings.redshift_copy_role_arn
        self._fetch_secret = fetch_secret
        self._s3 = s3_client or boto3.client("s3")
        # Only the stage function's settings (StageSettings) say where manifests go.
        manifest_bucket = getattr(settings, "manifest_bucket", None)
        self._manifests = (
            ManifestWriter(
                self._s3,
                manifest_bucket,
                getattr(settings, "manifest_prefix", DEFAULT_MANIFEST_PREFIX),
                getattr(settings, "jsonpaths_prefix", DEFAULT_JSONPATHS_PREFIX),
            )
            if manifest_bucket
            else None
        )

    def _secret(self, *, force_fetch: bool) -> Mapping[str, Any] | None:
        arn = self._settings.redshift_secret_arn
        if not arn:
            return None
        try:
            secret = self._fetch_secret(
                arn, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force_fetch
            )
        except parameters.exceptions.TransformParameterError as error:
            raise WarehouseError(f"Redshift secret {arn} is not JSON") from error
        except parameters.exceptions.GetParameterError as error:
            raise TransientWarehouseError(f"cannot read Redshift secret {arn}: {error}") from error
        if not isinstance(secret, Mapping):
            raise WarehouseError(f"Redshift secret {arn} is not a JSON object")
        return secret

    def _connect(self, *, force_fetch: bool) -> redshift_connector.Connection:
        options = connection_options(
            self._settings,
            self._secret(force_fetch=force_fetch),
            region=boto3.session.Session().region_name,
        )
        connection = redshift_connector.connect(**options)
        connection.autocommit = False
        return connection

    def _open(self) -> Session:
        with translated_errors():
            try:
                connection = self._connect(force_fetch=False)
            except redshift_connector.InterfaceError as error:
                if not (self._settings.redshift_secret_arn and _is_auth_failure(error)):
                    raise
                # The cached secret may predate a rotation: read it afresh, once.
                logger.info("Redshift refused the cached secret; fetching it again")
                connection = self._connect(force_fetch=True)
        return RedshiftSession(
            connection, s3=self._s3, manifests=self._manifests, copy_role_arn=self._copy_role_arn
        )

    def _is_usable(self, session: Session) -> bool:
        assert isinstance(session, RedshiftSession)
        if session.broken or session.closed:
            return False
        if time.monotonic() - session.last_used < IDLE_PING_SECONDS:
            return True
        return session.ping()
