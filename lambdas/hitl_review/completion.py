"""One batch of review status changes (A2I's or the built-in service's): answers into the manifest,
the rest recorded, all announced.

Each message is handled on its own (a bad one fails alone); the answers of the whole batch
are then appended with one manifest write, and if that fails exactly their messages are retried.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import FunctionSettings
from hitl_core.events import AnswerQuarantined, ManifestSealed, ReviewFailed
from hitl_core.review_comparison import ReviewComparison
from hitl_core.review_tasks import review_service_id
from hitl_core.wiring import owns_flow_definition
from hitl_review.answers import ConvertedAnswer, QuarantineCode, Unconvertible, convert_output
from hitl_review.manifest_plan import Outcome
from hitl_review.manifest_store import Placed, RollingManifest
from hitl_review.review_records import ReviewRecords
from hitl_review.status_event import HumanLoopStatusChange

if TYPE_CHECKING:  # imports boto3's DynamoDB helpers: built on the first message, with gold only
    from hitl_review.gold_answers import GoldAnswers

SERVICE = "review-complete"
METRIC_NAMESPACE = "HitlPipeline"
COUNTED = frozenset({Outcome.ADDED, Outcome.REPLACED})
"""Manifest outcomes whose answers the metrics count: the delivery that placed them."""

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRIC_NAMESPACE, service=SERVICE)


@dataclass(frozen=True)
class PendingAnswer:
    """A converted answer waiting for the batch's manifest write; `key` is its message id."""

    key: str
    converted: ConvertedAnswer


class ReviewCompletion:
    """The function's work, given its settings and clients (the handler builds it once)."""

    def __init__(
        self, settings: FunctionSettings, s3: Any, publisher: EventPublisher, gold: GoldAnswers | None = None
    ) -> None:
        config = settings.config
        self._settings = settings
        self._publisher = publisher
        self._gold = gold
        self._attribute = config.manifest_attribute
        self._records = ReviewRecords(
            s3,
            settings.training_bucket,
            quarantine_prefix=config.prefixes.quarantine,
            reviews_prefix=config.prefixes.reviews,
        )
        self.manifest = RollingManifest(
            s3,
            settings.training_bucket,
            config.prefixes.manifests,
            config.rotation,
            config.manifest_attribute,
            announce=self._announce_sealed,
        )

    def handle(self, key: str, body: str) -> PendingAnswer | None:
        """One SQS message; a body that is not an A2I status change raises (and ends in the DLQ)."""
        event = HumanLoopStatusChange.model_validate_json(body)
        detail = event.detail
        if not self._from_this_deployment(event):
            logger.warning(
                "status change of another flow definition or review service ignored",
                extra={
                    "flow_definition_arn": detail.flow_definition_arn,
                    "loop_name": detail.human_loop_name,
                },
            )
            metrics.add_metric(name="StatusChangesIgnored", unit=MetricUnit.Count, value=1)
            return None
        if detail.human_loop_status == "Completed":
            return self._completed(key, event)
        self._unfinished(event)
        return None

    def _from_this_deployment(self, event: HumanLoopStatusChange) -> bool:
        """The built-in service's events must name this deployment's service, A2I's our flow definition."""
        if event.from_review_service:
            name = self._settings.review_service_name
            return name is not None and event.detail.flow_definition_arn == review_service_id(name)
        return self._is_our_flow_definition(event.detail.flow_definition_arn)

    def _is_our_flow_definition(self, flow_definition_arn: str) -> bool:
        """This deployment's current flow definition or a replaced one (same prefix, then a content hash)."""
        prefix = self._settings.flow_definition_arn_prefix or self._settings.flow_definition_arn
        return prefix is not None and owns_flow_definition(flow_definition_arn, prefix)

    def append(self, pending: list[PendingAnswer]) -> None:
        """Write the batch's answers to the manifest and their review records, then announce each one.

        The records go into one object, written beside the manifest's read-modify-write, so the
        batch waits for one more request at most. If either write fails, SQS retries the batch.
        """
        with ThreadPoolExecutor(max_workers=1) as pool:
            recorded = pool.submit(
                self._records.record_completed, [p.converted for p in pending], self._attribute
            )
            placed = self.manifest.append([p.converted.answer(p.key, self._attribute) for p in pending])
            _count_compared(pending, placed)
            recorded.result()
        self._publisher.publish(
            [
                p.converted.completed_event(
                    self._attribute, placed[p.key].outcome.value, placed[p.key].manifest_uri
                )
                for p in pending
            ]
        )
        for p in pending:
            outcome, manifest_uri = placed[p.key].outcome.value, placed[p.key].manifest_uri
            metrics.add_metric(name=f"Answers{outcome.title()}", unit=MetricUnit.Count, value=1)
            logger.info(
                "answer appended",
                extra={
                    "loop_name": p.converted.loop_name,
                    "manifest_action": outcome,
                    "manifest_uri": manifest_uri,
                },
            )

    def _completed(self, key: str, event: HumanLoopStatusChange) -> PendingAnswer | None:
        output = event.detail.human_loop_output
        if output is None:
            self._quarantine(event, None, "missing-output", "the Completed event names no output.json")
            return None
        raw = self._records.read_output(output.output_s3_uri)
        if raw is None:
            self._quarantine(event, None, "missing-output", f"no object at {output.output_s3_uri}")
            return None
        try:
            if self._gold is not None and self._gold_scored(event.detail.human_loop_name, raw):
                return None
            converted = convert_output(
                raw,
                loop_name=event.detail.human_loop_name,
                output_uri=output.output_s3_uri,
                attribute=self._attribute,
                labels=self._settings.config.labels,
                iou_threshold=self._settings.config.quality.iou_threshold,
            )
        except Unconvertible as err:
            self._quarantine(event, raw, err.code, err.reason)
            return None
        return PendingAnswer(key, converted)

    def _gold_scored(self, loop_name: str, raw: bytes) -> bool:
        """True when the loop is an A2I gold loop: its answers scored per worker, kept out of the manifest."""
        assert self._gold is not None
        scores = self._gold.score(loop_name, raw)
        if scores is None:
            return False
        metrics.add_metric(name="GoldAnswersScored", unit=MetricUnit.Count, value=len(scores))
        logger.info("gold loop answers scored", extra={"loop_name": loop_name, "scores": scores})
        return True

    def _quarantine(
        self, event: HumanLoopStatusChange, raw: bytes | None, code: QuarantineCode, reason: str
    ) -> None:
        folder = self._records.quarantine(event, raw, code, reason)
        output = event.detail.human_loop_output
        self._publisher.publish(
            [
                AnswerQuarantined(
                    loop_name=event.detail.human_loop_name,
                    reason_code=code,
                    reason=reason,
                    output_uri=output.output_s3_uri if output else "",
                    quarantine_uri=folder,
                )
            ]
        )
        metrics.add_metric(name="AnswersQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("answer quarantined", extra={"quarantine_uri": folder, "reason": reason})

    def _unfinished(self, event: HumanLoopStatusChange) -> None:
        detail = event.detail
        record_uri = self._records.record_unfinished(event)
        self._publisher.publish(
            [
                ReviewFailed(
                    loop_name=detail.human_loop_name,
                    human_loop_arn=detail.human_loop_arn,
                    status=detail.human_loop_status,
                    failure_code=detail.failure_code,
                    failure_reason=detail.failure_reason,
                    record_uri=record_uri,
                )
            ]
        )
        metrics.add_metric(name="ReviewsFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "human loop ended without an answer",
            extra={"loop_name": detail.human_loop_name, "status": detail.human_loop_status},
        )

    def _announce_sealed(self, sealed: ManifestSealed) -> None:
        self._publisher.publish([sealed])
        metrics.add_metric(name="ManifestsSealed", unit=MetricUnit.Count, value=1)
        logger.info("manifest sealed", extra={"manifest_uri": sealed.manifest_uri})


def _count_compared(pending: list[PendingAnswer], placed: Mapping[str, Placed]) -> None:
    """Publish the comparison of each answer this delivery put into the manifest (added or replaced
    its image's line). A redelivery finds its answer there unchanged, so each answer counts once."""
    seen: set[str] = set()
    comparisons: list[ReviewComparison] = []
    for p in pending:
        converted = p.converted
        if placed[p.key].outcome not in COUNTED or converted.loop_name in seen:
            continue
        seen.add(converted.loop_name)
        if converted.comparison is not None:
            comparisons.append(converted.comparison)
        else:
            logger.warning(
                "answer not compared with the model",
                extra={"loop_name": converted.loop_name, "reason": converted.comparison_error},
            )
    _publish_comparisons(comparisons)


def _publish_comparisons(comparisons: list[ReviewComparison]) -> None:
    """ReviewChangedModel per answer (0 or 1: its average is the share of reviews that changed the
    boxes), and per label one document for the batch holding each answer's counts as a value of its
    own, with the one dimension `label` (the configured labels bound its values)."""
    by_label: dict[str, EphemeralMetrics] = {}
    for comparison in comparisons:
        metrics.add_metric(name="ReviewChangedModel", unit=MetricUnit.Count, value=int(comparison.changed))
        for label, counts in comparison.per_class.items():
            if label not in by_label:
                by_label[label] = EphemeralMetrics(namespace=METRIC_NAMESPACE, service=SERVICE)
                by_label[label].add_dimension(name="label", value=label)
            document = by_label[label]
            document.add_metric(name="TruePositives", unit=MetricUnit.Count, value=counts.true_positives)
            document.add_metric(name="FalsePositives", unit=MetricUnit.Count, value=counts.false_positives)
            document.add_metric(name="FalseNegatives", unit=MetricUnit.Count, value=counts.false_negatives)
    for document in by_label.values():
        document.flush_metrics()


class ManifestBatchProcessor(BatchProcessor):
    """An SQS BatchProcessor that appends all the batch's answers at once, after every record ran.

    Records whose handler returned a PendingAnswer succeed only if `append` does; when it
    raises, exactly those records are reported in batchItemFailures, so SQS retries them.
    """

    def __init__(self, append: Callable[[list[PendingAnswer]], None]) -> None:
        super().__init__(event_type=EventType.SQS, logger=logger)
        self._append = append

    def process(self) -> list[tuple]:
        results = super().process()
        pending = [(result, raw) for status, result, raw in results if status == "success" and result]
        if pending:
            try:
                self._append([answer for answer, _ in pending])
            except Exception:
                failure = sys.exc_info()
                for _, raw in pending:
                    self.success_messages.remove(raw)
                    self.failure_handler(record=SQSRecord(raw), exception=failure)
        return results
