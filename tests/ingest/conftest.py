"""Fixtures for the ingest function: moto AWS, stubbed A2I and endpoint, and the events it publishes.

moto's sagemaker-runtime cannot take a binary (image) body, so the endpoint is a Stubber too.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig
from hitl_core.events import EVENT_SOURCE, EVENT_TYPES
from hitl_ingest.dependencies import IngestDependencies
from hitl_ingest.detector import SageMakerEndpointDetector
from hitl_ingest.human_review import HumanReviewStarter
from hitl_ingest.ingest import Ingestor, IngestResult
from hitl_ingest.record_store import RecordStore
from hitl_ingest.s3_event import parse_object_created
from ingest.builders import INPUT_BUCKET, REGION, object_created

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAINING_BUCKET = "hitl-training"
BUS = "hitl-bus"
ENDPOINT = "detector"
FLOW_ARN = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:flow-definition/hitl-review"
SCHEMAS = {
    t.detail_type: json.loads((PROJECT_ROOT / "schemas/events" / f"{t.schema_name}.json").read_text())
    for t in EVENT_TYPES
    if (PROJECT_ROOT / "schemas/events" / f"{t.schema_name}.json").exists()
}


class RecordedMetrics:
    """Collects what the code would emit as CloudWatch metrics."""

    def __init__(self) -> None:
        self.values: list[tuple[str, float]] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.values.append((name, value))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.values if n == name)


@dataclass
class IngestWorld:
    """A moto account with the function's buckets, bus and endpoint, and a stubbed A2I."""

    s3: Any
    sqs: Any
    a2i_stub: Stubber
    endpoint_stub: Stubber
    deps: IngestDependencies
    events_queue_url: str
    config: PipelineConfig
    sagemaker_runtime: Any
    metrics: RecordedMetrics = dataclasses.field(default_factory=lambda: RecordedMetrics())

    def reconfigure(self, **changes: Any) -> None:
        """Run with configuration keys changed (e.g. max_image_bytes)."""
        self.config = self.config.model_copy(update=changes)
        settings = dataclasses.replace(self.deps.settings, config=self.config)
        self.deps = dataclasses.replace(self.deps, settings=settings)
        if isinstance(self.deps.detector, SageMakerEndpointDetector):
            self.deps = dataclasses.replace(
                self.deps,
                detector=SageMakerEndpointDetector(
                    self.sagemaker_runtime, ENDPOINT, self.config.adapter, self.config.labels
                ),
            )

    def ingest(self, event: dict[str, Any]) -> IngestResult:
        """Run one Object Created event through the Ingestor, as the handler does."""
        return Ingestor(self.deps, self.metrics).ingest(parse_object_created(json.dumps(event)))

    def upload(self, key: str, data: bytes) -> dict[str, Any]:
        """Put an image and return the Object Created event S3 would announce for it."""
        response = self.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=data)
        return object_created(
            key, size=len(data), etag=response["ETag"].strip('"'), version_id=response.get("VersionId")
        )

    def queue_endpoint_answer(self, answer: Any, content_type: str = "image/jpeg") -> None:
        """The endpoint's next InvokeEndpoint answers `answer` (JSON) to an image of `content_type`."""
        body = json.dumps(answer).encode()
        self.endpoint_stub.add_response(
            "invoke_endpoint",
            {
                "Body": StreamingBody(io.BytesIO(body), len(body)),
                "ContentType": "application/json",
                "InvokedProductionVariant": "AllTraffic",
            },
            {
                "EndpointName": ENDPOINT,
                "ContentType": content_type,
                "Accept": "application/json",
                "Body": ANY,
            },
        )

    def published(self) -> list[dict[str, Any]]:
        """Every event put on the project's bus so far, each checked against its JSON Schema."""
        events = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = json.loads(message["Body"])
                jsonschema.validate(event["detail"], SCHEMAS[event["detail-type"]])
                events.append(event)
                self.sqs.delete_message(
                    QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return events

    def record(self, key: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=TRAINING_BUCKET, Key=key)["Body"].read()
        return json.loads(body)

    def record_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=TRAINING_BUCKET)
        return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def world(pipeline_config: PipelineConfig) -> Iterator[IngestWorld]:
    with ingest_world(pipeline_config) as built:
        yield built


@contextmanager
def ingest_world(pipeline_config: PipelineConfig) -> Iterator[IngestWorld]:
    """The moto account and stubs of `world` (also used by the permission tests)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT_BUCKET, TRAINING_BUCKET):
            s3.create_bucket(Bucket=bucket)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="published-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        events.put_targets(Rule="everything", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        a2i = boto3.client("sagemaker-a2i-runtime", region_name=REGION)
        sagemaker_runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        settings = FunctionSettings(
            config=pipeline_config,
            event_bus_name=BUS,
            training_bucket=TRAINING_BUCKET,
            flow_definition_arn=FLOW_ARN,
            endpoint_name=ENDPOINT,
        )
        deps = IngestDependencies(
            settings=settings,
            s3=s3,
            records=RecordStore(s3, TRAINING_BUCKET),
            detector=SageMakerEndpointDetector(
                sagemaker_runtime,
                ENDPOINT,
                pipeline_config.adapter,
                pipeline_config.labels,
            ),
            reviews=HumanReviewStarter(a2i, FLOW_ARN),
            publisher=EventPublisher(events, BUS),
        )
        with Stubber(a2i) as a2i_stub, Stubber(sagemaker_runtime) as endpoint_stub:
            yield IngestWorld(
                s3, sqs, a2i_stub, endpoint_stub, deps, queue_url, pipeline_config, sagemaker_runtime
            )
            a2i_stub.assert_no_pending_responses()
            endpoint_stub.assert_no_pending_responses()
