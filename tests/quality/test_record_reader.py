"""The records of the report's windows: prediction records by LastModified, review batches by day folder."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from hitl_quality.record_reader import RecordReader
from moto import mock_aws
from review.builders import REGION, TRAINING_BUCKET

from hitl_core.config import Prefixes

NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)


def test_only_the_windows_days_of_review_batches_are_listed_and_read():
    inside = "reviews/batches/date=2026-12-01/in.jsonl"
    objects = {
        "predictions/incoming/a.jpg/v1.json": b"{}",
        inside: b'{"loop_name": "a"}\n',
        "reviews/batches/date=2026-12-07/today.jsonl": b'{"loop_name": "b"}\n',
        "reviews/batches/date=2026-11-30/before.jsonl": b'{"loop_name": "c"}\n',
        "reviews/gone-loop.json": b'{"loop_name": "gone", "status": "Failed"}',
    }
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=TRAINING_BUCKET)
        for key, body in objects.items():
            s3.put_object(Bucket=TRAINING_BUCKET, Key=key, Body=body)
        listed: list[str] = []
        s3.meta.events.register(
            "provide-client-params.s3.ListObjectsV2", lambda params, **_: listed.append(params["Prefix"])
        )

        since = datetime(2026, 12, 1, 12, tzinfo=UTC)  # every object's LastModified is later (now)
        documents = RecordReader(s3, TRAINING_BUCKET).quality_documents(Prefixes(), since, NOW)

    assert sorted(name for name, _ in documents) == [
        f"s3://{TRAINING_BUCKET}/predictions/incoming/a.jpg/v1.json",
        f"s3://{TRAINING_BUCKET}/{inside}",
        f"s3://{TRAINING_BUCKET}/reviews/batches/date=2026-12-07/today.jsonl",
    ]
    assert listed[0] == "predictions/"
    assert listed[1:] == [f"reviews/batches/date=2026-12-0{day}/" for day in range(1, 8)]
