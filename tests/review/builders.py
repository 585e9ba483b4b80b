"""Builders for the review-complete tests: A2I's output.json and status event, readers of results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import jsonschema

from hitl_core.config import PipelineConfig, Rotation, load_config
from hitl_core.events import EVENT_SOURCE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
FLOW_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/hitl-review"
TRAINING_BUCKET = "hitl-training-test"
OUTPUT_BUCKET = "hitl-review-output-test"
IMAGE_BUCKET = "hitl-input-test"
BUS_NAME = "hitl-test-bus"
LABELS = ["person", "bicycle", "car", "cat", "dog"]


def make_config(**rotation: int) -> PipelineConfig:
    return load_config({"labels": LABELS, "rotation": Rotation(**rotation).model_dump()})


def box(label: str, left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {"label": label, "left": left, "top": top, "width": width, "height": height}


def human_answer(boxes: list[dict[str, Any]], submitted: str, *, modified: bool = True) -> dict[str, Any]:
    """One entry of humanAnswers, as A2I writes it for a crowd-bounding-box named annotatedResult."""
    return {
        "acceptanceTime": "2020-05-01T18:20:00.000Z",
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": boxes,
                "initialValueModified": modified,
                "inputImageProperties": {"width": 640, "height": 480},
            }
        },
        "submissionTime": submitted,
        "timeSpentInSeconds": 12.5,
        "workerId": "a1b2c3d4e5f6",
        "workerMetadata": {
            "identityData": {
                "identityProviderType": "Cognito",
                "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example",
                "sub": "1a2b3c4d-0000-0000-0000-000000000000",
            }
        },
    }


def output_json(
    loop: str,
    image: str,
    answers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A2I's output.json for one human loop of this project's flow definition."""
    if answers is None:
        answers = [human_answer([box("cat", 10, 20, 100, 80)], "2020-05-01T18:24:53.742Z")]
    return {
        "flowDefinitionArn": FLOW_ARN,
        "humanAnswers": answers,
        "humanLoopName": loop,
        "inputContent": {
            "taskObject": f"s3://{IMAGE_BUCKET}/incoming/{image}",
            "labels": LABELS,
            "initialValue": [box("cat", 12, 22, 96, 78)],
            "initialScores": [0.41],
            "imageLabels": [],
            "imageSize": {"width": 640, "height": 480, "depth": 3},
            "source": {"bucket": IMAGE_BUCKET, "key": f"incoming/{image}", "version": "v1"},
            "model": {"adapter": "sagemaker-object-detection", "endpoint": "detector"},
        },
    }


def output_uri(loop: str) -> str:
    return f"s3://{OUTPUT_BUCKET}/a2i-output/hitl-review/2020/05/01/18/24/53/{loop}/output.json"


def status_event(
    loop: str,
    status: str = "Completed",
    *,
    failure_reason: str | None = None,
    flow_arn: str = FLOW_ARN,
    event_id: str = "7bf73129-1428-4cd3-a780-95db273d1602",
) -> dict[str, Any]:
    """The EventBridge event A2I sends, as the SQS message body carries it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "SageMaker A2I HumanLoop Status Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2020-05-01T18:24:54Z",
        "region": REGION,
        "resources": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-loop/{loop}"],
        "detail": {
            "creationTime": "2020-05-01T18:08:47.000Z",
            "failureCode": "ValidationError" if failure_reason else None,
            "failureReason": failure_reason,
            "flowDefinitionArn": flow_arn,
            "humanLoopArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-loop/{loop}",
            "humanLoopName": loop,
            "humanLoopOutput": {"outputS3Uri": output_uri(loop)},
            "humanLoopStatus": status,
        },
    }


def sqs_record(body: dict[str, Any] | str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:review-complete",
        "awsRegion": REGION,
    }


class LambdaContext:
    function_name = "review-complete"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:review-complete"
    memory_limit_in_mb = 512
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def validate_event(detail_type: str, detail: dict[str, Any]) -> None:
    """Check an event's detail against the schema file checked into the repository."""
    for path in (PROJECT_ROOT / "schemas" / "events").glob("*.json"):
        schema = json.loads(path.read_text())
        if schema["title"] == detail_type:
            jsonschema.validate(detail, schema)
            return
    raise AssertionError(f"no schema file for {detail_type!r}")


class EventTap:
    """Everything published on the project's bus, read back through a rule targeting a queue."""

    def __init__(self) -> None:
        self._sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS_NAME)
        self._url = self._sqs.create_queue(QueueName="event-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="tap", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        events.put_targets(Rule="tap", EventBusName=BUS_NAME, Targets=[{"Id": "queue", "Arn": arn}])

    def drain(self) -> list[dict[str, Any]]:
        """Events since the last drain, each validated against its schema."""
        found = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                event = json.loads(message["Body"])
                validate_event(event["detail-type"], event["detail"])
                found.append(event)
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return found


def put_output(loop: str, document: dict[str, Any] | bytes) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    bucket, _, key = output_uri(loop)[len("s3://") :].partition("/")
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body)


def read_object(bucket: str, key: str) -> bytes:
    return boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()


def review_batches() -> dict[str, list[dict[str, Any]]]:
    """Every review-record batch object in the training bucket: key -> its records, in order."""
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=TRAINING_BUCKET, Prefix="reviews/batches/").get("Contents", [])
    return {
        item["Key"]: [json.loads(line) for line in read_object(TRAINING_BUCKET, item["Key"]).splitlines()]
        for item in listed
    }


def review_record(loop: str) -> dict[str, Any]:
    """A Completed loop's review record, from the one batch object that holds it."""
    [found] = [r for records in review_batches().values() for r in records if r["loop_name"] == loop]
    return found
