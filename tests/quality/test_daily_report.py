"""The daily run: the report and its figures written by day, the events that crossed a line, the metrics."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
from hitl_quality.daily_report import DailyReport, metrics
from hitl_quality.settings import QualitySettings
from review.builders import BUS_NAME, REGION, TRAINING_BUCKET

from hitl_aws.publisher import EventPublisher


def _report(world) -> DailyReport:
    settings = QualitySettings(world.config, BUS_NAME, TRAINING_BUCKET)
    publisher = EventPublisher(boto3.client("events", region_name=REGION), BUS_NAME)
    return DailyReport(settings, boto3.client("s3", region_name=REGION), publisher)


def _read(key: str) -> bytes:
    return boto3.client("s3", region_name=REGION).get_object(Bucket=TRAINING_BUCKET, Key=key)["Body"].read()


def test_the_run_writes_the_days_report_and_announces_the_drop_and_the_errors(quality_world):
    result = _report(quality_world).run(quality_world.now)

    day = f"{quality_world.now:%Y-%m-%d}"
    assert result["report_uri"] == f"s3://{TRAINING_BUCKET}/quality-reports/{day}.html"
    html = _read(f"quality-reports/{day}.html").decode()
    assert html == _read("quality-reports/latest.html").decode()
    assert f"from {quality_world.records} scored image(s)" in html
    summary = json.loads(_read(f"quality-reports/{day}.json"))
    assert summary["summary"] == result["summary"] and summary["skipped"] == 0
    events = quality_world.tap.drain()  # each validated against its schema
    kinds = [e["detail-type"] for e in events]
    assert kinds.count("Accepted Error Rate Exceeded") == 1, result["summary"]
    exceeded = next(e["detail"] for e in events if e["detail-type"] == "Accepted Error Rate Exceeded")
    assert exceeded["low"] > 0.01 and exceeded["report_date"] == day
    degraded = [e["detail"] for e in events if e["detail-type"] == "Model Quality Degraded"]
    assert "dog" in {d["label"] for d in degraded}  # the traffic's planted drop (others may be noise)
    assert all(d["drop"] > d["margin"] and d["report_date"] == day for d in degraded)
    assert result["events"] == len(events)


def test_a_rerun_the_same_day_rewrites_the_same_keys(quality_world):
    report = _report(quality_world)
    report.run(quality_world.now)
    report.run(quality_world.now)  # the schedule's event delivered twice
    keys = [
        item["Key"]
        for item in boto3.client("s3", region_name=REGION).list_objects_v2(
            Bucket=TRAINING_BUCKET, Prefix="quality-reports/"
        )["Contents"]
    ]
    day = f"{quality_world.now:%Y-%m-%d}"
    expected = [f"quality-reports/{day}.html", f"quality-reports/{day}.json", "quality-reports/latest.html"]
    assert sorted(keys) == sorted(expected)


def test_the_metrics_hold_the_estimate_in_percent(quality_world):
    _report(quality_world).run(quality_world.now)
    recorded = metrics.serialize_metric_set()
    names = {m["Name"] for m in recorded["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"AcceptedErrorRateLowerBound", "AcceptedErrorRate", "AuditedImages", "ReviewRate"} <= names
    ((low,), (rate,), (high,)) = (recorded[f"AcceptedErrorRate{s}"] for s in ("LowerBound", "", "UpperBound"))
    assert 1 < low < rate < high < 100  # percent, one value each


def test_records_older_than_the_windows_are_not_read(quality_world):
    later = quality_world.now + timedelta(days=60)
    result = _report(quality_world).run(later)
    html = _read(f"quality-reports/{later:%Y-%m-%d}.html").decode()
    assert "from 0 scored image(s)" in html
    assert result["events"] == 0 and quality_world.tap.drain() == []
