"""Prediction and rejected-input records: layout of their keys, and reading them back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import image_identity
from hitl_core.records import MAX_S3_KEY_BYTES, PredictionRecord, RejectedRecord, record_key


def prediction(scores: list[float], min_display_score: float = 0.0) -> PredictionRecord:
    return PredictionRecord.model_validate(
        {
            "status": "accepted",
            "source": {
                "bucket": "in",
                "key": "incoming/a b.jpg",
                "version": "etag1",
                "uri": "s3://in/incoming/a b.jpg",
                "etag": "etag1",
            },
            "image_size": {"width": 100, "height": 50, "depth": 3},
            "detections": [
                {"label": "cat", "score": s, "left": 10, "top": 5, "width": 20, "height": 10} for s in scores
            ]
            + [{"label": "indoor", "score": 0.5}],
            "decision": {
                "outcome": "accept",
                "min_display_score": min_display_score,
                "hidden_count": 0,
                "condition_results": {"Conditions": []},
            },
            "model": {"detector": "sagemaker-endpoint"},
            "inference": {"content_type": "image/jpeg", "size": {"width": 100, "height": 50}, "scale": 1.0},
            "timestamps": {"processed_at": "2026-11-22T10:00:00.000Z"},
        }
    )


def test_record_key_is_the_prefix_the_image_key_and_its_version() -> None:
    assert (
        record_key("predictions/", "incoming/x/ü y+z.jpg", "v1") == "predictions/incoming/x/ü y+z.jpg/v1.json"
    )


def test_record_key_for_an_image_key_near_s3s_limit_stays_within_it() -> None:
    long_key = "incoming/" + "é" * 500 + ".jpg"

    key = record_key("predictions/", long_key, "3858f62230ac3c915f300c664312c11f-9")

    assert len(key.encode()) <= MAX_S3_KEY_BYTES
    assert key.startswith("predictions/_hashed/")
    assert key == record_key("predictions/", long_key, "3858f62230ac3c915f300c664312c11f-9")
    assert key != record_key("predictions/", long_key + "x", "3858f62230ac3c915f300c664312c11f-9")


def test_prediction_record_gives_back_detections_and_identity() -> None:
    record = prediction([0.9])

    assert record.image_detections() == ImageDetections(
        ImageSize(100, 50), (Detection("cat", 0.9, Box(10, 5, 20, 10)), Detection("indoor", 0.5, None))
    )
    assert record.identity == image_identity("in", "incoming/a b.jpg", "etag1")


def test_shown_detections_leave_out_those_below_the_display_score() -> None:
    shown = prediction([0.9, 0.2], min_display_score=0.4).shown_detections()

    assert [d.score for d in shown] == [0.9, 0.5]


def test_round_trip_through_json_is_lossless() -> None:
    record = prediction([0.75])

    assert PredictionRecord.model_validate_json(record.model_dump_json()) == record


def test_unknown_reason_codes_are_refused() -> None:
    with pytest.raises(ValidationError):
        RejectedRecord.model_validate(
            {
                "source": {"bucket": "in", "key": "k", "version": "v", "uri": "s3://in/k"},
                "reason_code": "bad-vibes",
                "reason": "?",
                "timestamps": {"processed_at": "2026-11-22T10:00:00.000Z"},
            }
        )
