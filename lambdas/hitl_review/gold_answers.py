"""A2I gold loops' answers: scored per worker against the known boxes, kept in each worker's reviewer
record, never added to the training manifest; a worker whose mean falls below `min_score` is announced.

A gold loop is known by the record ingest wrote before starting it (`hitl_core.gold_loops`), not by
anything a worker saw or sent. The scores are added in one transaction that also marks the record
scored, so a redelivered status change adds nothing (it may announce a low score again: events are
delivered at least once).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.publisher import EventPublisher
from hitl_aws.review_task_table import (
    ReviewTaskTable,
    TeamRecords,
    WriteOutcome,
    cancelled_outcome,
    record_update,
)
from hitl_core.gold_loops import gold_loop_key, known_boxes, worker_scores
from hitl_core.gold_tasks import GoldRule, gold_answer_adds, gold_standing, reviewer_record_key
from hitl_core.pending_loops import PARTITION_KEY
from hitl_core.review_tasks import iso_millis
from hitl_review.answers import Unconvertible


class GoldAnswers:
    """Scores the answers of this deployment's A2I gold loops (their records in the pending-loop table)."""

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        rule: GoldRule,
        publisher: EventPublisher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = dynamodb_client
        self._table = table_name
        self._records = TeamRecords(ReviewTaskTable(dynamodb_client, table_name))
        self.rule = rule
        self._publisher = publisher
        self._clock = clock

    def score(self, loop_name: str, output: bytes) -> dict[str, float] | None:
        """Each worker's score when `loop_name` is a gold loop (None: it is not); Unconvertible when its
        output cannot be scored (it is quarantined as any answer would be)."""
        record = self._records.record(gold_loop_key(loop_name))
        if not record:
            return None
        try:
            scores = worker_scores(self.rule, known_boxes(record), json.loads(output))
        except json.JSONDecodeError as err:
            raise Unconvertible("malformed-json", f"output.json is not JSON: {err.msg}") from None
        except ValueError as err:
            raise Unconvertible("invalid-answer", f"gold loop answer: {err}") from None
        scored_at = self._keep(loop_name, scores) or str(record["scored_at"])
        for worker in scores:
            self._report_standing(worker, scored_at)
        return scores

    def _keep(self, loop_name: str, scores: dict[str, float]) -> str | None:
        """Mark the gold loop scored and add each worker's score to their record, all or nothing; the
        time scored, or None when an earlier delivery had scored it."""
        at = iso_millis(self._clock())
        mark = {
            "Update": {
                "TableName": self._table,
                "Key": {PARTITION_KEY: {"S": gold_loop_key(loop_name)}},
                "UpdateExpression": "SET #scored = :at, #scores = :scores",
                "ConditionExpression": "attribute_not_exists(#scored)",
                "ExpressionAttributeNames": {"#scored": "scored_at", "#scores": "scores"},
                "ExpressionAttributeValues": {
                    ":at": {"S": at},
                    ":scores": {"M": {w: {"N": str(s)} for w, s in scores.items()}},
                },
            }
        }
        adds = [
            record_update(self._table, reviewer_record_key(w), gold_answer_adds(s)) for w, s in scores.items()
        ]
        try:
            self._client.transact_write_items(TransactItems=[mark, *adds])
        except ClientError as err:
            if cancelled_outcome(err) is WriteOutcome.CHANGED:  # the mark: scored before
                return None
            raise
        return at

    def _report_standing(self, worker: str, scored_at: str) -> None:
        """The worker's mean gold score below the rule's raises Reviewer Gold Score Low (as with builtin)."""
        standing = gold_standing(self._records.record(reviewer_record_key(worker)))
        detail = self.rule.low_score(worker, standing, scored_at)
        if detail is not None:
            self._publisher.publish([detail])
