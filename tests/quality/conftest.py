"""Fixtures for the quality-report function: faked S3 and bus holding synthetic records, an event tap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from review.builders import REGION, TRAINING_BUCKET, EventTap

from hitl.quality_traffic import Traffic, traffic_objects
from hitl_core.config import PipelineConfig, load_config

QUALITY_CONFIG = {
    "labels": ["person", "car", "dog"],
    "routing": {"preset": "top-score-below", "sampling_percentage": 30},
    "quality": {"max_accepted_error_rate": 0.01, "min_audited": 10},
}


@dataclass(frozen=True)
class QualityWorld:
    config: PipelineConfig
    now: datetime
    tap: EventTap
    records: int


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    """The function's metrics start empty in each test (Powertools keeps them module-wide)."""
    from hitl_quality.daily_report import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def quality_world() -> Iterator[QualityWorld]:
    """Five weeks of synthetic traffic up to now (a drop in 'dog' over the last week) in a moto bucket."""
    now = datetime.now(UTC)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=TRAINING_BUCKET)
        tap = EventTap()
        records = 0
        for name, raw in traffic_objects(Traffic(800, end=now, audit_percentage=30, drift_extra=0.5)):
            s3.put_object(Bucket=TRAINING_BUCKET, Key=name, Body=raw)
            records += name.startswith("predictions/")
        s3.put_object(Bucket=TRAINING_BUCKET, Key="manifests/not-a-record.json", Body=b"{}")
        yield QualityWorld(load_config(QUALITY_CONFIG), now, tap, records)
