"""Writing a loop's `output.json` to S3, where A2I writes it."""

from __future__ import annotations

import json
from typing import Any

from hitl_aws.s3_uri import parse_s3_uri


class S3OutputWriter:
    """Writes output documents with a boto3 `s3` client (any endpoint: AWS or the local moto)."""

    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def write(self, uri: str, document: dict[str, Any]) -> None:
        """Put `document` as JSON at the s3:// `uri` (a rewrite replaces it: retries are safe)."""
        bucket, key = parse_s3_uri(uri)
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )
