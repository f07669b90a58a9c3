"""A local copy of the archive bucket's `events/` (and `errors/`) objects, kept in a folder with the same
keys, so that DuckDB reads them as files: only objects not copied yet are fetched (their keys never change:
Firehose writes each object once, under a new name), and `--since`/`--until` fetch only the day partitions
the query will read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["SyncReport", "sync_archive"]


@dataclass(frozen=True, slots=True)
class SyncReport:
    objects: int  # in the bucket, within the bounds
    fetched: int  # copied by this sync
    bytes_fetched: int


def _day_of(key: str) -> str | None:
    for part in key.split("/"):
        if part.startswith("day="):
            return part.removeprefix("day=")
    return None


def sync_archive(
    s3: Any,
    bucket: str,
    into: Path,
    *,
    prefixes: tuple[str, ...] = ("events/",),
    since: str | None = None,
    until: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> SyncReport:
    objects = fetched = size = 0
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                day = _day_of(key)
                if day is not None and ((since and day < since) or (until and day > until)):
                    continue
                objects += 1
                target = into / key
                if target.exists() and target.stat().st_size == item["Size"]:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                s3.download_file(bucket, key, str(partial))
                partial.replace(target)
                fetched += 1
                size += item["Size"]
                if fetched % 100 == 0:
                    progress(f"archive: {fetched} objects fetched")
    progress(f"archive: {objects} objects in s3://{bucket}, {fetched} new ones fetched ({size} bytes)")
    return SyncReport(objects, fetched, size)
