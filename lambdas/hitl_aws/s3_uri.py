"""s3:// URIs to and from (bucket, key)."""

from __future__ import annotations


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key') of an s3://bucket/key URI; ValueError for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"an s3 URI needs a bucket and a key: {uri!r}")
    return bucket, key


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
