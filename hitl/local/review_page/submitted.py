"""The boxes a completed loop's answer holds, read from its output.json, for the read-only task page."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hitl_aws.s3_uri import parse_s3_uri


class SubmittedAnswers:
    """Reads the latest answer's boxes of a loop's output.json through a boto3 S3 client."""

    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def boxes(self, output_s3_uri: str | None) -> list[dict[str, Any]] | None:
        """The last reviewer's bounding boxes, or None when there is no readable answer."""
        if not output_s3_uri:
            return None
        bucket, key = parse_s3_uri(output_s3_uri)
        try:
            output = json.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            answers = output["humanAnswers"]
            return list(answers[-1]["answerContent"]["annotatedResult"]["boundingBoxes"])
        except (BotoCoreError, ClientError, ValueError, KeyError, IndexError, TypeError):
            return None
