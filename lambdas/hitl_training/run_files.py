"""The training-data bucket as the training steps use it: manifests in, run files and records out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.training_dataset import SourceManifest

_GENERATION = re.compile(r"(\d{8})\.manifest$")
POINTER_NAME = "open.json"


def _missing(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class RunFiles:
    s3: Any
    bucket: str

    def read_text(self, key: str, bucket: str | None = None) -> str | None:
        """An object's text, or None when there is none."""
        try:
            body = self.s3.get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if _missing(err):
                return None
            raise
        return body.decode("utf-8")

    def read_uri(self, uri: str) -> str | None:
        bucket, key = parse_s3_uri(uri)
        return self.read_text(key, bucket)

    def read_json(self, key: str) -> dict[str, Any] | None:
        text = self.read_text(key)
        return None if text is None else json.loads(text)

    def write_text(self, key: str, text: str, content_type: str = "application/x-ndjson") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)

    def write_json(self, key: str, value: dict[str, Any]) -> None:
        self.write_text(key, json.dumps(value, indent=2, sort_keys=True) + "\n", "application/json")

    def create_json(self, key: str, value: dict[str, Any]) -> bool:
        """Write `value` only if `key` does not exist yet; False when someone else wrote it first."""
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=(json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if err.response.get("Error", {}).get("Code") in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                return False
            if status in (409, 412):
                return False
            raise
        return True

    def sealed_manifests(self, prefix: str, *, include_open: bool = False) -> list[SourceManifest]:
        """Every manifest under `prefix` older than the open one (or all of them), oldest first."""
        pointer = self.read_json(f"{prefix}{POINTER_NAME}")
        # No pointer yet: generation 1 is open (the rolling manifest's store starts there).
        open_generation = (int(pointer["generation"]) if pointer else 1) + (1 if include_open else 0)
        found: list[tuple[int, str]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                match = _GENERATION.search(item["Key"])
                if match and item["Key"] == f"{prefix}{match.group(1)}.manifest":
                    generation = int(match.group(1))
                    if generation < open_generation:
                        found.append((generation, item["Key"]))
        manifests = []
        for _, key in sorted(found):
            text = self.read_text(key)
            if text is not None:
                manifests.append(SourceManifest(f"s3://{self.bucket}/{key}", text))
        return manifests
