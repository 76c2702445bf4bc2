"""What a Redshift COPY reads from S3: the pre-check of a batch's objects, the manifest of the
batch's files, and the JSONPaths files. S3 keys travel inside the manifest (JSON), never in SQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sparkify_loader.config import DEFAULT_JSONPATHS_PREFIX, DEFAULT_MANIFEST_PREFIX
from sparkify_loader.sqlfiles import sql_path
from sparkify_loader.warehouse.base import FileLoad, ObjectVersion
from sparkify_loader.warehouse.s3 import (
    S3_READ_CONCURRENCY,
    transient_s3_errors,
    unreadable_version,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sparkify_loader.datasets import Dataset
    from sparkify_loader.events import LandedObject


def s3_url(bucket: str, key: str) -> str:
    """The URL COPY manifests use, and the form Redshift's load tables report files by."""
    return f"s3://{bucket}/{key}"


def _current_version_problem(s3: S3Client, obj: LandedObject) -> FileLoad | None:
    """None when the announced version is still the object's current one; else why not."""
    try:
        # S3 compares If-Match against the quoted entity tag (moto insists on the quotes).
        s3.head_object(Bucket=obj.bucket, Key=obj.key, IfMatch=f'"{obj.etag}"')
    except (ClientError, BotoCoreError) as error:
        return unreadable_version(error, f"HeadObject {obj.key!r}")
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
    workers = min(S3_READ_CONCURRENCY, len(objects))
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

    def manifest_key(self, dataset: Dataset, load_id: str, file_no: int | None = None) -> str:
        """The batch's manifest of a dataset, or of one of its files (``file_no``)."""
        part = "" if file_no is None else f"-{file_no}"
        return f"{self.prefix}{load_id}-{dataset.name}{part}.manifest"

    @staticmethod
    def manifest_document(objects: Iterable[LandedObject]) -> dict[str, Any]:
        """Every file mandatory: a file that vanished after the pre-check fails the COPY loudly
        instead of loading nothing."""
        return {
            "entries": [{"url": s3_url(obj.bucket, obj.key), "mandatory": True} for obj in objects]
        }

    def write_manifest(
        self,
        dataset: Dataset,
        objects: Sequence[LandedObject],
        load_id: str,
        file_no: int | None = None,
    ) -> str:
        """Put the manifest of the objects (the batch's, or its file ``file_no``'s); return its
        S3 URI. Keys travel in JSON, never in SQL."""
        key = self.manifest_key(dataset, load_id, file_no)
        # Raw UTF-8 rather than \\u escapes: the manifest holds the keys exactly as S3 has them.
        body = json.dumps(self.manifest_document(objects), ensure_ascii=False).encode("utf-8")
        with transient_s3_errors(f"PutObject {key!r}"):
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
                with transient_s3_errors(f"PutObject {key!r}"):
                    self._s3.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=sql_path(dataset.jsonpaths_file).read_bytes(),
                        ContentType="application/json",
                    )
                self._jsonpaths_put.add(key)
        return s3_url(self.bucket, key)
