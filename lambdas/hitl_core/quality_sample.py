"""The images the quality measures are computed from: each prediction record, how it was selected for a
person, and (when a person answered) the model's boxes compared with theirs.

Prediction records and review records are told apart by content, so one folder or S3 prefix holding
both (the training-data bucket's `predictions/` and `reviews/`) is enough. A review record joins its
prediction record by loop name; review records come one per document or, as the review-complete
function stores them, many per JSON Lines document (`.jsonl`), where a retried answer may appear twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from hitl_core.detections import ImageDetections
from hitl_core.quality_estimates import Selection, UnknownSelection, selection_of
from hitl_core.records import PredictionRecord
from hitl_core.review_comparison import ReviewComparison

JSON_LINES = ".jsonl"


@dataclass(frozen=True, slots=True)
class ReviewAnswer:
    """A completed review's comparison, from its review record."""

    loop_name: str
    answered_at: datetime
    comparison: ReviewComparison


@dataclass(frozen=True, slots=True)
class ScoredImage:
    """One image the model scored: when, what it found, how a person came to see it, and their verdict."""

    image: str
    processed_at: datetime
    outcome: Literal["accept", "review"]
    detections: ImageDetections
    selection: Selection
    loop_name: str | None = None
    answer: ReviewAnswer | None = None

    @property
    def comparison(self) -> ReviewComparison | None:
        return self.answer.comparison if self.answer else None


@dataclass
class QualitySample:
    """Every scored image found, and each document left out with the reason."""

    images: list[ScoredImage] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def answered(self) -> list[ScoredImage]:
        """The images a person answered (threshold reviews and audits)."""
        return [image for image in self.images if image.answer is not None]


def parse_time(value: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def review_answer(data: Mapping[str, Any]) -> ReviewAnswer | None:
    """The answer a review record holds, or None for a loop that ended without one (or unmatched)."""
    comparison = data.get("comparison")
    if not comparison or "loop_name" not in data or "submission_time" not in data:
        return None
    return ReviewAnswer(
        loop_name=str(data["loop_name"]),
        answered_at=parse_time(str(data["submission_time"])),
        comparison=ReviewComparison.from_dict(comparison),
    )


def _scored_image(record: PredictionRecord, data: Mapping[str, Any]) -> ScoredImage:
    """The image of a validated record; its detections are read from the record's JSON (`data`),
    which the validation has just checked, instead of dumping the models back to dicts."""
    return ScoredImage(
        image=f"{record.source.uri}#{record.source.version}",
        processed_at=parse_time(record.timestamps.processed_at),
        outcome=record.decision.outcome,
        detections=ImageDetections.from_dict(data),
        selection=selection_of(record.decision.condition_results),
        loop_name=record.human_loop.name if record.human_loop else None,
    )


def _is_review_record(data: Mapping[str, Any]) -> bool:
    return "loop_name" in data and "record_version" not in data


def _split_json_lines(documents: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    """Each JSON Lines document as one document per non-empty line (named `name#line`); others as they are."""
    for name, raw in documents:
        if not name.endswith(JSON_LINES):
            yield name, raw
            continue
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                yield f"{name}#{number}", line


def build_sample(documents: Iterable[tuple[str, bytes]]) -> QualitySample:
    """Read prediction and review records from `(name, JSON or JSON Lines bytes)` documents and join
    them; a loop recorded more than once (its answer retried in another batch) counts once."""
    sample = QualitySample()
    answers: dict[str, ReviewAnswer] = {}
    images: list[ScoredImage] = []
    for name, raw in _split_json_lines(documents):
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            sample.skipped.append((name, "not JSON"))
            continue
        if not isinstance(data, dict) or data.get("status") == "rejected":
            continue
        try:
            if _is_review_record(data):
                answer = review_answer(data)
                if answer is not None:
                    answers.setdefault(answer.loop_name, answer)
                continue
            images.append(_scored_image(PredictionRecord.model_validate(data), data))
        except ValidationError as err:
            sample.skipped.append((name, f"not a prediction record ({err.error_count()} problem(s))"))
        except (UnknownSelection, KeyError, TypeError, ValueError) as err:
            sample.skipped.append((name, str(err)))
    for image in images:
        answer = answers.get(image.loop_name) if image.loop_name else None
        sample.images.append(image if answer is None else replace(image, answer=answer))
    return sample
