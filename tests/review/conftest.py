"""Fixtures for the review-complete function: faked AWS, the function's environment, an event tap."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from hitl_core.config import PipelineConfig, config_to_env

from .builders import BUS_NAME, FLOW_ARN, OUTPUT_BUCKET, REGION, TRAINING_BUCKET, EventTap


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (TRAINING_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield


@pytest.fixture
def event_tap(aws: None) -> EventTap:
    return EventTap()


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, aws: None) -> Iterator[Callable[[PipelineConfig], None]]:
    """Set the function's environment for a configuration, and forget the one built before."""
    from hitl_review import handler

    def configure(config: PipelineConfig) -> None:
        monkeypatch.setenv("HITL_CONFIG", config_to_env(config))
        monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
        monkeypatch.setenv("TRAINING_BUCKET", TRAINING_BUCKET)
        monkeypatch.setenv("FLOW_DEFINITION_ARN", FLOW_ARN)
        handler.completion.cache_clear()

    yield configure
    handler.completion.cache_clear()
