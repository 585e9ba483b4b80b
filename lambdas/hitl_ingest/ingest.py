"""One image from upload to decision: read, check, detect, route, record, review, announce.

Safe to run again for the same upload (S3, EventBridge and SQS deliver at least once): the
record is written once (a conditional put, which is also how a redelivery is recognised,
without a lookup before it) and holds the decision and the review's exact InputContent. A
redelivery finishes from the stored record: it starts no second loop (same deterministic name)
and publishes the record's event again, since it cannot tell whether the first delivery got
that far (events are at least once; consumers deduplicate on `record_uri`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from hitl_core.adapters import DetectorResponseError
from hitl_core.events import (
    DetectionOut,
    EventDetail,
    HumanReviewStarted,
    ImageRef,
    InputRejected,
    PredictionAccepted,
    RejectionCode,
    Size,
)
from hitl_core.human_loop import (
    build_input_content,
    image_identity,
    loop_name,
    serialize_input_content,
    split_by_labels,
)
from hitl_core.records import (
    Decision,
    HumanLoopRef,
    Inference,
    PredictionRecord,
    RejectedRecord,
    SourceObject,
    Timestamps,
    record_key,
)
from hitl_core.review_budget import OVER_BUDGET
from hitl_core.routing import decide
from hitl_ingest.dependencies import IngestDependencies
from hitl_ingest.detector import DetectorRefusedInput, DetectorResult
from hitl_ingest.image_input import ImageRejected, PreparedImage, check_decodes, prepare_image
from hitl_ingest.record_store import Record
from hitl_ingest.s3_event import ObjectCreated

SERVICE = "hitl-ingest"  # as POWERTOOLS_SERVICE_NAME in the CDK stack
logger = Logger(service=SERVICE)

Status = Literal["accepted", "review", "rejected", "skipped", "redelivered"]
_OBJECT_GONE = {"NoSuchKey", "NoSuchVersion", "404", "PreconditionFailed", "412"}


class ObjectGone(LookupError):
    """The object version the event names is no longer there (deleted or overwritten)."""


@dataclass(frozen=True)
class IngestResult:
    status: Status
    record_uri: str | None = None
    loop_name: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _source(event: ObjectCreated) -> SourceObject:
    return SourceObject(
        bucket=event.bucket,
        key=event.key,
        version=event.version,
        uri=event.uri,
        etag=event.etag,
        version_id=event.version_id,
        size_bytes=event.size,
    )


def _image_ref(source: SourceObject) -> ImageRef:
    return ImageRef(bucket=source.bucket, key=source.key, version=source.version, uri=source.uri)


class Ingestor:
    """Runs one Object Created event through the pipeline's first half."""

    def __init__(self, deps: IngestDependencies, metrics: Any) -> None:
        self._deps = deps
        self._config = deps.settings.config
        self._metrics = metrics

    def ingest(self, event: ObjectCreated, *, try_decoded_key: bool = True) -> IngestResult:
        if event.is_folder_marker:
            logger.info("skipping a folder marker", extra={"s3_uri": event.uri})
            return IngestResult("skipped")
        if event.size == 0:
            logger.info("skipping a zero-byte object", extra={"s3_uri": event.uri})
            return IngestResult("skipped")
        if event.size is not None and event.size > self._config.max_image_bytes:
            return self._reject(
                event,
                "too-large",
                f"{event.size:,} bytes is over the {self._config.max_image_bytes:,}-byte maximum",
            )
        try:
            data = self._read(event)
        except ObjectGone as gone:
            decoded = event.url_decoded() if try_decoded_key else None
            if decoded is not None:
                logger.info(
                    "key not found as given; trying it URL-decoded", extra={"decoded_key": decoded.key}
                )
                return self.ingest(decoded, try_decoded_key=False)
            return self._reject(event, "not-found", str(gone))
        if not data:
            logger.info("skipping a zero-byte object", extra={"s3_uri": event.uri})
            return IngestResult("skipped")
        try:
            image = prepare_image(
                data,
                max_bytes=self._config.max_image_bytes,
                payload_limit=self._config.endpoint_payload_limit,
            )
            result = self._detect(image, data, event)
        except ImageRejected as rejected:
            return self._reject(event, rejected.code, rejected.reason)
        except DetectorRefusedInput as refused:
            return self._reject(event, "detector-refused", str(refused))
        except DetectorResponseError as unreadable:
            return self._reject(event, "detector-response", str(unreadable))
        self._metrics.add_metric(
            name="DetectorLatency", unit=MetricUnit.Milliseconds, value=result.latency_ms
        )
        return self._predict(event, image, result)

    def _detect(self, image: PreparedImage, data: bytes, event: ObjectCreated) -> DetectorResult:
        """The detector's answer; an image it refuses is `corrupt` when Pillow cannot decode it either."""
        try:
            return self._deps.detector.detect(image, event)
        except DetectorRefusedInput:
            check_decodes(data)
            raise

    def _count(self, name: str) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def _read(self, event: ObjectCreated) -> bytes:
        """The exact version announced: by version id, else only while its ETag still matches."""
        request: dict[str, Any] = {"Bucket": event.bucket, "Key": event.key}
        if event.version_id:
            request["VersionId"] = event.version_id
        elif event.etag:
            request["IfMatch"] = f'"{event.etag}"'
        try:
            response = self._deps.s3.get_object(**request)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _OBJECT_GONE:
                raise ObjectGone(f"{event.uri} version {event.version} is gone ({code})") from None
            raise
        with response["Body"] as body:
            return body.read(self._config.max_image_bytes + 1)

    def _predict(self, event: ObjectCreated, image: PreparedImage, result: DetectorResult) -> IngestResult:
        identity = image_identity(event.bucket, event.key, event.version)
        policy = self._config.policy
        decision = decide(policy, result.detections, identity)
        source = _source(event)
        human_loop = None
        over_budget = decision.outcome == "review" and self._deps.reviews.over_budget(
            decision.condition_results
        )
        if decision.outcome == "review" and not over_budget:
            labels = self._config.offered_labels
            content = build_input_content(
                task_object=event.uri,
                shown=decision.shown,
                labels=labels,
                source=_image_ref(source).model_dump(),
                model=result.model,
            )
            _, hidden = split_by_labels(labels, decision.shown)
            human_loop = HumanLoopRef(
                name=loop_name(event.bucket, event.key, event.version),
                flow_definition_arn=self._deps.reviews.flow_definition_arn,
                input_content=content,
                hidden_detections=[DetectionOut(**d.to_dict()) for d in hidden],
            )
        record = PredictionRecord(
            status="review" if human_loop else "accepted",
            source=source,
            image_size=Size(**image.size.to_dict()),
            detections=[DetectionOut(**d.to_dict()) for d in result.detections.detections],
            decision=Decision(
                outcome="review" if human_loop else "accept",
                min_display_score=policy.MinDisplayScore,
                hidden_count=decision.hidden_count,
                condition_results=decision.condition_results,
                reason=OVER_BUDGET if over_budget else None,
            ),
            human_loop=human_loop,
            model=result.model,
            inference=Inference(
                content_type=image.inference_content_type,
                size=Size(**image.inference_size.to_dict()),
                scale=image.scale,
                exif_orientation=image.orientation,
            ),
            timestamps=Timestamps(
                event_time=event.event_time, processed_at=_now(), detector_latency_ms=result.latency_ms
            ),
        )
        key = record_key(self._config.prefixes.predictions, event.key, event.version)
        if self._deps.records.create(key, record):
            self._count_recorded("ImagesSentToReview" if human_loop else "ImagesAccepted")
            if over_budget:
                self._count("ImagesAcceptedOverBudget")
            return self._finish_prediction(key, record, record.status)
        logger.info("the record was already written; finishing from it", extra={"record_key": key})
        return self._finish_prediction(key, self._existing(key, PredictionRecord), "redelivered")

    def _count_recorded(self, outcome: str) -> None:
        """Counted once per image, by the delivery that wrote its record."""
        self._count("ImagesReceived")
        self._count(outcome)

    def _existing(self, key: str, model: type[Record]) -> Record:
        """The record a conditional write found in place."""
        record = self._deps.records.load(key, model)
        if record is None:
            raise RuntimeError(f"record {key} reported present but cannot be read")
        return record

    def _finish_prediction(self, key: str, record: PredictionRecord, status: Status) -> IngestResult:
        """Start the record's loop (if any) and publish its event: both safe to repeat."""
        record_uri = self._deps.records.uri(key)
        name = record.human_loop.name if record.human_loop else None
        if name:
            logger.append_keys(loop_name=name)
        common = {
            "image": _image_ref(record.source),
            "record_uri": record_uri,
            "image_size": record.image_size,
            "detections": record.shown_detections(),
            "condition_results": record.decision.condition_results,
            "model": record.model,
        }
        detail: EventDetail
        loop_started = None
        if record.human_loop is not None:
            loop = record.human_loop
            loop_started = self._deps.reviews.start(
                loop.name, serialize_input_content(loop.input_content), record_uri
            )
            hidden = loop.hidden_detections
            common["detections"] = [d for d in record.shown_detections() if d not in hidden]
            detail = HumanReviewStarted(
                loop_name=loop.name,
                flow_definition_arn=loop.flow_definition_arn,
                hidden_detections=hidden,
                **common,
            )
        else:
            detail = PredictionAccepted(**common, reason=record.decision.reason)
        self._deps.publisher.publish([detail])
        logger.info(
            "image routed",
            extra={"outcome": record.status, "record_uri": record_uri, "loop_started": loop_started},
        )
        return IngestResult(status, record_uri, name)

    def _reject(self, event: ObjectCreated, code: RejectionCode, reason: str) -> IngestResult:
        """Record and announce a rejection, unless an earlier delivery already scored the image.

        The prediction lookup keeps one record per image when a redelivery fails where the first
        delivery succeeded (the image deleted since); rejections are rare, so it costs little.
        """
        prefixes = self._config.prefixes
        prediction_key = record_key(prefixes.predictions, event.key, event.version)
        scored = self._deps.records.load(prediction_key, PredictionRecord)
        if scored is not None:
            logger.info("an earlier delivery scored this image", extra={"reason_code": code})
            return self._finish_prediction(prediction_key, scored, "redelivered")
        logger.warning("input rejected", extra={"reason_code": code, "reason": reason})
        record = RejectedRecord(
            source=_source(event),
            reason_code=code,
            reason=reason,
            timestamps=Timestamps(event_time=event.event_time, processed_at=_now()),
        )
        key = record_key(prefixes.rejected, event.key, event.version)
        status: Status = "rejected"
        if self._deps.records.create(key, record):
            self._count_recorded("ImagesRejected")
        else:
            record, status = self._existing(key, RejectedRecord), "redelivered"
        detail = InputRejected(
            image=_image_ref(record.source),
            record_uri=self._deps.records.uri(key),
            reason_code=record.reason_code,
            reason=record.reason,
        )
        self._deps.publisher.publish([detail])
        return IngestResult(status, detail.record_uri)
