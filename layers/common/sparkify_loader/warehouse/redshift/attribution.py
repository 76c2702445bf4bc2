"""Redshift's load tables name files by URL, in CHAR(256) columns: the names a batch's files may
have there (to filter the load views by), and mapping those names back to the batch's object
versions, for the rejection reason of each bad file and the rows of each good one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sparkify_loader.observability import logger
from sparkify_loader.warehouse.base import ObjectVersion
from sparkify_loader.warehouse.redshift.manifests import s3_url

if TYPE_CHECKING:
    from sparkify_loader.events import LandedObject

# The file-name columns of stl_load_errors / stl_load_commits and sys_load_error_detail /
# sys_load_detail are CHAR(256): longer URLs come back cut.
_STL_FILENAME_BYTES = 256


def _url_forms(url: str) -> set[str]:
    """The ways a URL may come back from a CHAR column: as is, or with each multibyte character
    replaced by periods (stl_load_errors does so in raw_line; filename is not documented)."""
    return {
        url,
        "".join(char if char.isascii() else "." for char in url),
        "".join(char if char.isascii() else "." * len(char.encode()) for char in url),
    }


def stored_file_names(objects: Sequence[LandedObject]) -> list[str]:
    """Every name the load views' CHAR(256) file-name columns may hold for the batch's files,
    trimmed as the diagnostic queries trim them: the URL as is or with multibyte characters as
    periods, cut at 256 bytes (never inside a character)."""
    names = {
        form.encode("utf-8")[:_STL_FILENAME_BYTES].decode("utf-8", errors="ignore").rstrip()
        for obj in objects
        for form in _url_forms(s3_url(obj.bucket, obj.key))
    }
    return sorted(names)


def attribute_files(
    reported: Iterable[str], objects: Sequence[LandedObject]
) -> dict[str, ObjectVersion]:
    """Map file names from the load views (STL or SYS) to the batch's object versions.

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

    A file that the load view does not list contributed no rows. When the per-file figures do
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
                "per-file row counts from the load views disagree with rows inserted",
                extra={"per_file_total": sum(counts.values()), "inserted": inserted},
            )
    return counts
