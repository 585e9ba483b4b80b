"""Writing output.json to S3 (moto's server)."""

from __future__ import annotations

import json

import pytest

from hitl.local.a2i.output import S3OutputWriter

from .conftest import AwsClients


def test_the_document_is_written_as_json_at_the_uri_and_rewritten_on_retry(
    aws: AwsClients, output_bucket: str
) -> None:
    writer = S3OutputWriter(aws.s3)
    key = "a2i-output/flow/2024/01/02/03/04/05/pets/output.json"
    writer.write(f"s3://{output_bucket}/{key}", {"humanLoopName": "pets", "try": 1})
    writer.write(f"s3://{output_bucket}/{key}", {"humanLoopName": "pets", "try": 2})
    stored = aws.s3.get_object(Bucket=output_bucket, Key=key)
    assert stored["ContentType"] == "application/json"
    assert json.loads(stored["Body"].read()) == {"humanLoopName": "pets", "try": 2}


def test_a_uri_that_is_not_s3_is_refused(aws: AwsClients) -> None:
    with pytest.raises(ValueError, match="s3://"):
        S3OutputWriter(aws.s3).write("https://example.invalid/x.json", {})
