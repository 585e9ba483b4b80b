"""`hitl policy replay`: a policy re-run over stored prediction records, from files or S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner
from moto import mock_aws

from hitl.cli import cli


def record(name: str, score: float, outcome: str) -> dict[str, Any]:
    """A prediction record as the ingest function writes it: one cat scored `score`."""
    key = f"incoming/{name}.jpg"
    return {
        "record_version": 1,
        "status": "accepted" if outcome == "accept" else "review",
        "source": {"bucket": "in", "key": key, "version": "e1", "uri": f"s3://in/{key}", "etag": "e1"},
        "image_size": {"width": 100, "height": 100, "depth": 3},
        "detections": [{"label": "cat", "score": score, "left": 1, "top": 1, "width": 50, "height": 50}],
        "decision": {
            "outcome": outcome,
            "min_display_score": 0.0,
            "hidden_count": 0,
            "condition_results": {"Conditions": []},
        },
        "model": {
            "detector": "sagemaker-endpoint",
            "endpoint_name": "ep",
            "adapter": "sagemaker-object-detection",
        },
        "inference": {"content_type": "image/jpeg", "size": {"width": 100, "height": 100}, "scale": 1.0},
        "timestamps": {"processed_at": "2026-11-22T10:00:00.000Z"},
        "event_published_at": "2026-11-22T10:00:01.000Z",
    }


# Decided at the time under top-score-below (review when the top score is under 0.5).
TRAFFIC = {
    "sure": record("sure", 0.95, "accept"),
    "middling": record("middling", 0.6, "accept"),
    "faint": record("faint", 0.3, "review"),
}
REJECTED = {
    "status": "rejected",
    "source": {"bucket": "in", "key": "incoming/t.jpg", "version": "e", "uri": "s3://in/incoming/t.jpg"},
    "reason_code": "not-an-image",
    "reason": "text",
    "timestamps": {"processed_at": "2026-11-22T10:00:00.000Z"},
}


def write_records(folder: Path) -> list[str]:
    paths = []
    for name, data in TRAFFIC.items():
        path = folder / "predictions" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return paths


def test_replay_over_files_counts_outcomes_and_names_the_changes(tmp_path: Path) -> None:
    paths = write_records(tmp_path)

    result = CliRunner().invoke(cli, ["policy", "replay", "--policy", "band", *paths])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "3 image(s) replayed with policy band" in lines
    # band: detections under 0.4 are hidden (so nothing doubtful is left for 'faint'),
    # anything shown under 0.9 goes to review.
    assert "accept: 2" in lines and "review: 1" in lines
    assert lines[lines.index("review: 1") + 1] == "  s3://in/incoming/middling.jpg#e1"
    assert "changed from the recorded decision: 2" in lines
    assert "  s3://in/incoming/middling.jpg#e1: accept -> review" in lines
    assert "  s3://in/incoming/faint.jpg#e1: review -> accept" in lines


def test_replay_of_the_live_policy_changes_nothing(tmp_path: Path) -> None:
    write_records(tmp_path)

    result = CliRunner().invoke(
        cli, ["policy", "replay", "--policy", "top-score-below", "--json", str(tmp_path)]
    )

    summary = json.loads(result.output)
    assert summary["counts"] == {"accept": 2, "review": 1}
    assert summary["changed"] == []


def test_rejected_records_and_other_files_are_skipped_and_said_so(tmp_path: Path) -> None:
    write_records(tmp_path)
    (tmp_path / "predictions" / "rejected.json").write_text(json.dumps(REJECTED))
    (tmp_path / "predictions" / "junk.json").write_text("{not json")
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "batch.jsonl").write_text('{"loop_name": "a"}\n{"loop_name": "b"}\n')

    result = CliRunner().invoke(cli, ["policy", "replay", "--policy", "band", "--json", str(tmp_path)])

    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert sum(summary["counts"].values()) == 3
    reasons = {Path(s["source"]).name: s["reason"] for s in summary["skipped"]}
    assert reasons == {
        "rejected.json": "rejected input (never scored)",
        "junk.json": "not JSON",
        "batch.jsonl": "review records (JSON Lines), not a prediction record",
    }


def test_replay_reads_every_record_under_an_s3_prefix() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="training")
        for name, data in TRAFFIC.items():
            s3.put_object(
                Bucket="training", Key=f"predictions/incoming/{name}.jpg/e1.json", Body=json.dumps(data)
            )
        s3.put_object(Bucket="training", Key="manifests/other.json", Body=json.dumps(TRAFFIC["sure"]))

        result = CliRunner().invoke(
            cli, ["policy", "replay", "--policy", "any-label-below", "--json", "s3://training/predictions/"]
        )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # any-label-below: review when any score is under 0.6; the record outside the prefix is not read
    assert summary["counts"] == {"accept": 2, "review": 1}
    assert summary["images"]["review"] == ["s3://in/incoming/faint.jpg#e1"]


def test_missing_input_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["policy", "replay", "--policy", "band", "nowhere/records"])

    assert result.exit_code != 0
    assert "nowhere/records: no such file or folder" in result.output
