"""Test inputs for the review service: task contents, API Gateway HTTP API (2.0) requests, a clock,
and the moto world its functions run against."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from hitl_core.wiring import REVIEW_API_STAGE, REVIEW_TASK_TABLE

REGION = "us-east-1"
TABLE = "review-tasks"
IMAGE_BUCKET = "hitl-input"
OUTPUT_BUCKET = "hitl-review-output"
BUS = "hitl-bus"
SERVICE_NAME = "hitl"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_pool"
T0 = datetime(2024, 3, 4, 5, 0, 0, tzinfo=UTC)
LEASE_SECONDS = 600
AVAILABILITY_SECONDS = 3600
LABELS = ["person", "bicycle", "car", "cat", "dog"]
CAT = {"label": "cat", "left": 10, "top": 20, "width": 200, "height": 150}


@contextmanager
def review_service_aws() -> Iterator[None]:
    """moto with the task table, the image and output buckets and the project bus."""
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            **REVIEW_TASK_TABLE.create_table_request(TABLE)
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (IMAGE_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        yield


def input_content(image: str = "cat.jpg") -> dict[str, Any]:
    """InputContent as ingest builds it (`hitl_core.human_loop.build_input_content`)."""
    return {
        "taskObject": f"s3://{IMAGE_BUCKET}/incoming/{image}",
        "labels": LABELS,
        "initialValue": [CAT],
        "initialScores": [0.41],
        "imageLabels": [],
        "imageSize": {"width": 640, "height": 480, "depth": 3},
        "source": {"bucket": IMAGE_BUCKET, "key": f"incoming/{image}", "version": "v1"},
        "model": {"adapter": "sagemaker-object-detection"},
    }


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class User:
    sub: str
    groups: Any = field(default="[reviewers]")
    email: str | None = None

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": self.sub, "iss": ISSUER, "token_use": "access"}
        if self.groups is not None:
            claims["cognito:groups"] = self.groups
        if self.email:
            claims["email"] = self.email
        return claims


ANA = User("sub-ana")
BEN = User("sub-ben")
BOSS = User("sub-boss", groups="[reviewers review-admins]")
STRANGER = User("sub-nobody", groups=None)


def http_event(
    method: str, path: str, user: User | None, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event behind a JWT authorizer, as the stage CloudFront's
    `/api/*` reaches delivers it: the stage name stays in the path."""
    staged = f"/{REVIEW_API_STAGE}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": staged,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {"method": method, "path": staged, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": REVIEW_API_STAGE,
            "time": "04/Mar/2024:05:00:00 +0000",
            "timeEpoch": 1709528400000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if user is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": user.claims(), "scopes": None}}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def answer_body(boxes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """What the review page posts to /answer."""
    result = {
        "boundingBoxes": [CAT] if boxes is None else boxes,
        "inputImageProperties": {"width": 640, "height": 480},
    }
    return {"answerContent": {"annotatedResult": result}, "timeSpentInSeconds": 7, **extra}
