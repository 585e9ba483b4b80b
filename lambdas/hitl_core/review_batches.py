"""Review records as stored: one JSON Lines object per batch of answers, in a folder per UTC day,
so that a writer makes one request per batch and a reader lists only the days it needs.

`{reviews}batches/date=YYYY-MM-DD/{digest}.jsonl`: the day is the batch's latest submission day
and the digest hashes its loop names, so a redelivered batch names the same object. An answer
retried in another batch is stored twice (identical lines): readers keep one record per loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hitl_core.quality_sample import JSON_LINES, parse_time

BATCHES_FOLDER = "batches/"


def batches_prefix(reviews_prefix: str) -> str:
    """The folder of every batch object (the daily quality function reads nothing else of `reviews`)."""
    return f"{reviews_prefix}{BATCHES_FOLDER}"


def day_prefix(reviews_prefix: str, day: date) -> str:
    """The folder of the batches whose latest answer was submitted on `day` (UTC)."""
    return f"{batches_prefix(reviews_prefix)}date={day.isoformat()}/"


def day_prefixes(reviews_prefix: str, since: datetime, until: datetime) -> list[str]:
    """The day folders that can hold an answer to an image scored from `since` to `until`.

    A batch is dated by its latest answer, and an image is answered after it is scored, so a batch
    holding any such answer is dated on or after `since`'s day.
    """
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return [day_prefix(reviews_prefix, first + timedelta(days=n)) for n in range((last - first).days + 1)]


def batch_object(reviews_prefix: str, records: Sequence[Mapping[str, Any]]) -> tuple[str, bytes]:
    """The key and body of a batch's review records (one line per loop, in loop-name order)."""
    if not records:
        raise ValueError("a batch object holds at least one review record")
    by_loop = {str(record["loop_name"]): record for record in records}
    names = sorted(by_loop)
    day = max(parse_time(str(record["submission_time"])) for record in records).date()
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]
    body = "".join(json.dumps(by_loop[name], separators=(",", ":")) + "\n" for name in names)
    return f"{day_prefix(reviews_prefix, day)}{digest}{JSON_LINES}", body.encode()
