"""Write-once S3 objects: a conditional put that says whether it wrote (redeliveries find the first)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

_ALREADY_WRITTEN = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


def put_new_object(
    s3: Any, bucket: str, key: str, body: bytes, content_type: str = "application/json"
) -> bool:
    """Put an object unless one is at `key` already; False (nothing written) when one is."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
    except ClientError as err:
        if str(err.response.get("Error", {}).get("Code", "")) in _ALREADY_WRITTEN:
            return False
        raise
    return True
