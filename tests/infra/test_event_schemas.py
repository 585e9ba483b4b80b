"""The event schemas in an EventBridge schema registry: a Draft 4 schema per detail-type; events pass."""

from __future__ import annotations

import json

import pytest
from cdk_scenarios import only, resources
from jsonschema import Draft4Validator

from hitl_core.detections import Box, Detection
from hitl_core.events import (
    EVENT_SOURCE,
    EVENT_TYPES,
    HumanReviewStarted,
    ReviewCompleted,
    ReviewFailed,
    event_schema,
    put_events_entry,
)
from hitl_core.review_comparison import compare_boxes
from infra.event_schemas import SCHEMAS_DIR, event_schema_draft4, registry_schema_name

pytestmark = pytest.mark.xdist_group("cdk")


def test_every_checked_in_schema_is_published_in_the_stacks_registry(synthesized) -> None:
    for scenario in ("Default", "Builtin"):
        template = synthesized.templates[scenario]
        registry = only(template, "AWS::EventSchemas::Registry")
        schemas = resources(template, "AWS::EventSchemas::Schema").values()

        assert registry["Properties"]["RegistryName"] == "hitl-pipeline-events"
        assert sorted(s["Properties"]["SchemaName"] for s in schemas) == sorted(
            f"{EVENT_SOURCE}@{t.detail_type.replace(' ', '')}" for t in EVENT_TYPES
        )
        assert len(list(SCHEMAS_DIR.glob("*.json"))) == len(EVENT_TYPES)
        for schema in schemas:
            assert schema["Properties"]["Type"] == "JSONSchemaDraft4"
            Draft4Validator.check_schema(json.loads(schema["Properties"]["Content"]))


def test_a_published_event_validates_against_its_registry_schema_and_a_wrong_one_does_not() -> None:
    detail = HumanReviewStarted(
        image={"bucket": "in", "key": "incoming/a.jpg", "version": "v1", "uri": "s3://in/incoming/a.jpg"},
        record_uri="s3://training/predictions/incoming/a.jpg/v1.json",
        loop_name="a-0123",
        flow_definition_arn="arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl-flow-0123456789ab",
        image_size={"width": 64, "height": 48, "depth": 3},
        detections=[{"label": "person", "score": 0.3, "left": 0, "top": 0, "width": 32, "height": 24}],
        hidden_detections=[{"label": "bottle", "score": 0.4, "left": 1, "top": 1, "width": 2, "height": 2}],
        condition_results={},
        model={"endpoint": "detector"},
    )
    entry = put_events_entry(detail, "bus")
    event = {
        "version": "0",
        "id": "1",
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "123456789012",
        "time": "2026-12-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    validator = Draft4Validator(event_schema_draft4(event_schema(HumanReviewStarted)))

    assert list(validator.iter_errors(event)) == []
    event["detail"]["image_size"]["width"] = 0  # exclusiveMinimum 0, rewritten for Draft 4
    assert list(validator.iter_errors(event))
    other = Draft4Validator(event_schema_draft4(event_schema(ReviewFailed)))
    assert not other.is_valid({**event, "detail": json.loads(entry["Detail"])})


def test_a_review_completed_event_with_its_comparison_validates_against_its_registry_schema() -> None:
    comparison = compare_boxes(
        [Detection("cat", 0.5, Box(0, 0, 10, 10)), Detection("dog", 0.4, Box(40, 40, 10, 10))],
        [("dog", Box(1, 0, 10, 10))],
    )
    detail = ReviewCompleted(
        loop_name="a-0123",
        source_ref="s3://in/incoming/a.jpg",
        output_uri="s3://out/a-0123/output.json",
        manifest_action="added",
        manifest_uri="s3://training/manifests/00000001.manifest",
        image_size={"width": 64, "height": 48, "depth": 3},
        boxes=[{"label": "dog", "left": 1, "top": 0, "width": 10, "height": 10}],
        reviewer_count=1,
        initial_value_modified=True,
        submission_time="2026-12-01T12:00:00.000Z",
        comparison=comparison.to_dict(),
    )
    validator = Draft4Validator(event_schema_draft4(event_schema(ReviewCompleted)))
    event = {
        "detail-type": "Review Completed",
        "source": EVENT_SOURCE,
        "detail": json.loads(detail.model_dump_json()),
    }

    assert list(validator.iter_errors(event)) == []
    event["detail"]["comparison"]["per_class"]["cat"]["false_positives"] = -1
    assert list(validator.iter_errors(event))
    event["detail"]["comparison"] = None
    assert list(validator.iter_errors(event)) == []


def test_names_follow_eventbridges_source_at_detail_type_convention() -> None:
    assert registry_schema_name("Human Review Started") == "hitl.pipeline@HumanReviewStarted"
