"""Read the records the report needs from S3: every JSON or JSON Lines object under some prefixes
written since a time.

Records are written once (prediction records at scoring, review records at the answer), so an
object's LastModified says whether it can fall in the report's windows; review records are kept
by batch in a folder per day, so only the windows' days are listed. The GETs run on a few
threads: one at a time, 100,000 small objects would outlast the function's timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from hitl_aws.s3_uri import s3_uri
from hitl_core.config import Prefixes
from hitl_core.quality_sample import JSON_LINES
from hitl_core.review_batches import day_prefixes

READ_THREADS = 16


class RecordReader:
    """Lists and reads JSON objects of one bucket with one (thread-safe) S3 client."""

    def __init__(self, s3: Any, bucket: str, threads: int = READ_THREADS) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._threads = threads

    def keys(self, prefix: str, since: datetime) -> Iterator[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith((".json", JSON_LINES)) and item["LastModified"] >= since:
                    yield item["Key"]

    def _read(self, key: str) -> tuple[str, bytes]:
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return s3_uri(self._bucket, key), body

    def documents(self, prefixes: tuple[str, ...], since: datetime) -> list[tuple[str, bytes]]:
        """(s3:// URI, bytes) of every JSON object under `prefixes` modified at or after `since`."""
        keys = [key for prefix in prefixes for key in self.keys(prefix, since)]
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            return list(pool.map(self._read, keys))

    def quality_documents(
        self, prefixes: Prefixes, since: datetime, until: datetime
    ) -> list[tuple[str, bytes]]:
        """The prediction records and the review-record batches of the windows from `since` to `until`."""
        return self.documents((prefixes.predictions, *day_prefixes(prefixes.reviews, since, until)), since)
