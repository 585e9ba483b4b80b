"""What the function reads and keeps in S3 besides the manifest: A2I outputs, quarantine, review records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hitl_aws.s3_create import put_new_object
from hitl_aws.s3_uri import parse_s3_uri, s3_uri
from hitl_core.review_batches import batch_object
from hitl_review.answers import ConvertedAnswer, QuarantineCode
from hitl_review.manifest_store import CONTENT_TYPE as JSON_LINES_TYPE
from hitl_review.status_event import HumanLoopStatusChange

OUTPUT_NAME = "output.json"
REASON_NAME = "reason.json"


class ReviewRecords:
    """S3 I/O for one function: reads any output.json URI, writes under the training bucket's prefixes."""

    def __init__(self, s3: Any, bucket: str, *, quarantine_prefix: str, reviews_prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._quarantine = quarantine_prefix
        self._reviews = reviews_prefix

    def read_output(self, uri: str) -> bytes | None:
        """The output.json bytes, or None when there is no object at `uri`."""
        bucket, key = parse_s3_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None

    def quarantine(
        self,
        event: HumanLoopStatusChange,
        raw: bytes | None,
        code: QuarantineCode,
        reason: str,
    ) -> str:
        """Keep the answer byte for byte beside the reason and the event; returns the folder URI.

        The keys depend only on the loop name, so a redelivery rewrites the same objects.
        """
        folder = f"{self._quarantine}{event.detail.human_loop_name}/"
        if raw is not None:
            self._s3.put_object(Bucket=self._bucket, Key=folder + OUTPUT_NAME, Body=raw)
        reason_doc = {
            "reason_code": code,
            "reason": reason,
            "output_uri": _output_uri(event),
            "event": event.model_dump(mode="json", by_alias=True),
        }
        self._s3.put_object(
            Bucket=self._bucket,
            Key=folder + REASON_NAME,
            Body=json.dumps(reason_doc, indent=2).encode(),
            ContentType="application/json",
        )
        return s3_uri(self._bucket, folder)

    def record_completed(self, answers: Sequence[ConvertedAnswer], attribute: str) -> bool:
        """Write one object with the records of a batch's Completed loops, once: False when it is there.

        Its key and content depend only on the answers' output.json, so a redelivered batch finds
        the first delivery's object (`review_batches` says how readers find it).
        """
        key, body = batch_object(self._reviews, [completed_record(a, attribute) for a in answers])
        return put_new_object(self._s3, self._bucket, key, body, JSON_LINES_TYPE)

    def review_key(self, loop_name: str) -> str:
        """A Failed or Stopped loop's review record (Completed ones are kept by batch)."""
        return f"{self._reviews}{loop_name}.json"

    def record_unfinished(self, event: HumanLoopStatusChange) -> str:
        """Write the record of a Failed or Stopped loop; returns its URI."""
        detail = event.detail
        key = self.review_key(detail.human_loop_name)
        record = {
            "loop_name": detail.human_loop_name,
            "human_loop_arn": detail.human_loop_arn,
            "flow_definition_arn": detail.flow_definition_arn,
            "status": detail.human_loop_status,
            "failure_code": detail.failure_code,
            "failure_reason": detail.failure_reason,
            "creation_time": detail.creation_time,
            "event_time": event.time,
        }
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(record, indent=2).encode(),
            ContentType="application/json",
        )
        return s3_uri(self._bucket, key)


def completed_record(converted: ConvertedAnswer, attribute: str) -> dict[str, Any]:
    """A Completed loop's review record: its answer, the model's shown boxes and their comparison."""
    meta = converted.line[f"{attribute}-metadata"]
    comparison = converted.comparison
    return {
        "loop_name": converted.loop_name,
        "status": "Completed",
        "output_uri": converted.output_uri,
        "source_ref": converted.line["source-ref"],
        "submission_time": meta["creation-date"],
        "reviewer_count": converted.reviewer_count,
        "initial_value_modified": converted.initial_value_modified,
        "model_boxes": [d.to_dict() for d in converted.shown],
        "reviewer_boxes": [b.model_dump() for b in converted.boxes(attribute)],
        "comparison": comparison.to_dict() if comparison else None,
        "comparison_error": converted.comparison_error,
    }


def _output_uri(event: HumanLoopStatusChange) -> str | None:
    output = event.detail.human_loop_output
    return output.output_s3_uri if output else None
