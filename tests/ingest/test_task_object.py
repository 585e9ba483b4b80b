"""The task's `taskObject` names the exact uploaded object, whatever characters its key holds.

The image travels as: S3 event -> ingest -> InputContent (JSON) -> a reviewer's browser via a
presigned GET (the built-in service, the local review page) or A2I's `grant_read_access`
(which takes the same `s3://bucket/key` string; AWS's side is not testable offline).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest

from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.detections import ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content, serialize_input_content
from hitl_ingest.s3_event import parse_object_created
from ingest.builders import REGION, object_created
from ingest.test_s3_event import AWKWARD_KEYS

BUCKET = "task-object-round-trip"
# Beyond the ingest tests' keys: characters a URL gives a meaning to.
KEYS = [*AWKWARD_KEYS, "incoming/a#b?c=d.jpg", "incoming/%2B already-encoded%20name.jpg"]


@pytest.fixture(scope="module")
def s3(moto_server_url: str) -> Any:
    client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_server_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.mark.parametrize("key", KEYS)
def test_a_browser_gets_the_exact_object_the_task_names(s3: Any, key: str) -> None:
    body = f"image bytes of {key}".encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=BUCKET, Key=key + ".decoy", Body=b"a neighbour")
    event = parse_object_created(json.dumps(object_created(key, size=len(body), etag="e", bucket=BUCKET)))
    content = build_input_content(
        task_object=event.uri,
        shown=ImageDetections(ImageSize(8, 8), ()),
        labels=["cat"],
        source={},
        model={},
    )

    task_object = json.loads(serialize_input_content(content))["taskObject"]
    bucket, parsed_key = parse_s3_uri(task_object)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": parsed_key}, ExpiresIn=60)
    with urllib.request.urlopen(url) as response:  # what a browser does with the URL
        assert response.read() == body

    assert (bucket, parsed_key) == (BUCKET, key)
    assert task_object == f"s3://{BUCKET}/{key}", "the raw key, as Ground Truth's source-ref needs it"
