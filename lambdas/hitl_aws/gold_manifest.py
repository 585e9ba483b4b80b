"""The gold manifest read from S3: its lines, each image under the manifest's folder, the only gold
objects the roles that show them (A2I's, the review API's) may read."""

from __future__ import annotations

from typing import Any

from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.gold_loops import check_gold_images, gold_image_folder
from hitl_core.gold_tasks import GoldLine, gold_lines


def read_gold_lines(s3: Any, manifest_uri: str) -> list[GoldLine]:
    """ValueError names a bad line or an image elsewhere; S3's ClientError when it cannot be read."""
    bucket, key = parse_s3_uri(manifest_uri)
    lines = gold_lines(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
    check_gold_images(lines, gold_image_folder(manifest_uri))
    return lines
