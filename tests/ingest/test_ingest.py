"""One upload through the ingest steps: moto S3 and EventBridge, stubbed endpoint and A2I."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY
from PIL import Image

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core.config import Routing
from hitl_core.human_loop import loop_name
from hitl_core.records import PredictionRecord, RejectedRecord
from hitl_core.review_budget import OverBudgetRule, ReviewBudget, hour_key
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_ingest.human_review import TaskStoreReviewStarter
from hitl_ingest.image_input import EXIF_ORIENTATION_TAG
from ingest.builders import (
    INPUT_BUCKET,
    jpeg_bytes,
    object_created,
    png_with_undecodable_pixels,
    sagemaker_answer,
)
from ingest.conftest import FLOW_ARN, TRAINING_BUCKET, IngestWorld

MODEL = {
    "detector": "sagemaker-endpoint",
    "endpoint_name": "detector",
    "adapter": "sagemaker-object-detection",
    "production_variant": "AllTraffic",
}
REVIEW_LABELS = ["person", "bicycle", "car", "motorcycle", "bus", "truck", "cat", "dog", "cup", "sports ball"]
PERSON, CAT = 0, 15


def loop_response(name: str) -> dict[str, Any]:
    return {"HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{name}"}


def expect_loop(world: IngestWorld, name: str, content: dict[str, Any]) -> None:
    world.a2i_stub.add_response(
        "start_human_loop",
        loop_response(name),
        {
            "HumanLoopName": name,
            "FlowDefinitionArn": FLOW_ARN,
            "HumanLoopInput": {"InputContent": json.dumps(content, sort_keys=True, separators=(",", ":"))},
        },
    )


def test_confident_image_is_accepted_recorded_and_announced(world: IngestWorld) -> None:
    event = world.upload("incoming/cat.jpg", jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0.1, 0.2, 0.5, 0.6], [PERSON, 0.05, 0, 0, 1, 1]))

    result = world.ingest(event)

    key = f"predictions/incoming/cat.jpg/{etag}.json"
    assert result.status == "accepted"
    assert result.record_uri == f"s3://{TRAINING_BUCKET}/{key}"
    record = world.record(key)
    assert record["status"] == "accepted"
    assert record["source"]["uri"] == "s3://hitl-input/incoming/cat.jpg"
    assert record["source"]["version"] == etag
    assert record["image_size"] == {"width": 64, "height": 48, "depth": 3}
    assert record["detections"][0] == {
        "label": "cat",
        "score": 0.9,
        "left": 6,
        "top": 10,
        "width": 26,
        "height": 19,
    }
    assert record["decision"]["outcome"] == "accept"
    assert record["decision"]["condition_results"]["Conditions"][0]["EvaluationResult"] is False
    assert record["model"] == MODEL
    assert record["timestamps"]["event_time"] == "2026-11-22T10:00:00Z"
    [published] = world.published()
    assert published["detail-type"] == "Prediction Accepted"
    assert published["detail"]["record_uri"] == result.record_uri
    assert published["detail"]["image"]["key"] == "incoming/cat.jpg"
    assert [d["label"] for d in published["detail"]["detections"]] == ["cat", "person"]
    assert world.metrics.count("ImagesAccepted") == world.metrics.count("ImagesReceived") == 1
    assert world.metrics.count("DetectorLatency") == 1


def doubtful_person_content(key: str, etag: str) -> dict[str, Any]:
    """The InputContent of a 64x48 upload whose only offered box is a doubtful person (top-left quarter)."""
    return {
        "taskObject": f"s3://hitl-input/{key}",
        "labels": REVIEW_LABELS,
        "initialValue": [{"label": "person", "left": 0, "top": 0, "width": 32, "height": 24}],
        "initialScores": [0.3],
        "imageLabels": [],
        "imageSize": {"width": 64, "height": 48, "depth": 3},
        "source": {"bucket": "hitl-input", "key": key, "version": etag, "uri": f"s3://hitl-input/{key}"},
        "model": MODEL,
    }


def test_doubtful_image_starts_a_review_with_the_exact_input_content(world: IngestWorld) -> None:
    key = "incoming/people/crowd.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))
    name = loop_name(INPUT_BUCKET, key, etag)
    assert name.startswith("crowd-")
    expect_loop(world, name, doubtful_person_content(key, etag))

    result = world.ingest(event)

    assert (result.status, result.loop_name) == ("review", name)
    record = world.record(f"predictions/{key}/{etag}.json")
    assert record["status"] == "review"
    assert record["human_loop"]["name"] == name
    assert record["human_loop"]["flow_definition_arn"] == FLOW_ARN
    assert record["decision"]["condition_results"]["Conditions"][0]["EvaluationResult"] is True
    [published] = world.published()
    assert published["detail-type"] == "Human Review Started"
    assert published["detail"]["loop_name"] == name
    assert published["detail"]["detections"] == [
        {"label": "person", "score": 0.3, "left": 0, "top": 0, "width": 32, "height": 24}
    ]
    assert world.metrics.count("ImagesSentToReview") == 1


def test_boxes_of_labels_not_offered_are_hidden_from_the_reviewer_and_recorded(world: IngestWorld) -> None:
    key = "incoming/table.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    bottle = world.config.labels.index("bottle")
    world.queue_endpoint_answer(
        sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5], [bottle, 0.4, 0.5, 0.5, 1, 1])
    )
    hidden = {"label": "bottle", "score": 0.4, "left": 32, "top": 24, "width": 32, "height": 24}
    name = loop_name(INPUT_BUCKET, key, etag)
    expect_loop(world, name, doubtful_person_content(key, etag))

    assert world.ingest(event).status == "review"

    record = world.record(f"predictions/{key}/{etag}.json")
    assert record["human_loop"]["hidden_detections"] == [hidden]
    assert hidden in record["detections"]
    [published] = world.published()
    assert [d["label"] for d in published["detail"]["detections"]] == ["person"]
    assert published["detail"]["hidden_detections"] == [hidden]


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("notes.jpg", b"this is a text file, not a picture\n", "not-an-image"),
        ("anim.gif", gif_bytes(), "unsupported-format"),
        ("broken.jpg", jpeg_bytes(200, 200)[:300], "corrupt"),
    ],
)
def test_unusable_upload_gets_a_rejected_record_and_event(
    world: IngestWorld, name: str, data: bytes, code: str
) -> None:
    event = world.upload(f"incoming/{name}", data)
    etag = event["detail"]["object"]["etag"]

    result = world.ingest(event)

    assert result.status == "rejected"
    record = RejectedRecord.model_validate(world.record(f"rejected/incoming/{name}/{etag}.json"))
    assert record.reason_code == code
    assert record.reason
    [published] = world.published()
    assert published["detail-type"] == "Input Rejected"
    assert published["detail"]["reason_code"] == code
    assert published["detail"]["image"]["uri"] == f"s3://hitl-input/incoming/{name}"
    assert world.metrics.count("ImagesRejected") == 1


def refuse_next_image(world: IngestWorld, content_type: str) -> None:
    """The endpoint's container answers 400 to the next image (SageMaker's ModelError)."""
    world.endpoint_stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400) from primary",
        http_status_code=424,
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "cannot decode the image"},
        expected_params={
            "EndpointName": "detector",
            "ContentType": content_type,
            "Accept": "application/json",
            "Body": ANY,
        },
    )


def test_image_the_detector_refuses_and_pillow_cannot_decode_is_corrupt(world: IngestWorld) -> None:
    event = world.upload("incoming/damaged.png", png_with_undecodable_pixels())
    refuse_next_image(world, "image/png")

    result = world.ingest(event)

    assert result.status == "rejected"
    [published] = world.published()
    assert published["detail"]["reason_code"] == "corrupt"


def test_decodable_image_the_detector_refuses_is_detector_refused(world: IngestWorld) -> None:
    event = world.upload("incoming/fine.jpg", jpeg_bytes())
    refuse_next_image(world, "image/jpeg")

    assert world.ingest(event).status == "rejected"
    [published] = world.published()
    assert published["detail"]["reason_code"] == "detector-refused"


def test_upload_over_the_maximum_is_rejected_without_reading_it(world: IngestWorld) -> None:
    world.reconfigure(max_image_bytes=1_000)
    data = jpeg_bytes(300, 300)
    event = world.upload("incoming/huge.jpg", data)
    world.deps.s3.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **_: (
            pytest.fail(f"read {params['Key']}") if params["Key"].startswith("incoming/") else None
        ),
    )

    result = world.ingest(event)

    assert result.status == "rejected"
    [published] = world.published()
    assert published["detail"]["reason_code"] == "too-large"
    assert f"{len(data):,}" in published["detail"]["reason"]


def test_upload_gone_before_it_was_read_is_rejected_as_not_found(world: IngestWorld) -> None:
    event = world.upload("incoming/fleeting.jpg", jpeg_bytes())
    world.s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/fleeting.jpg", Body=jpeg_bytes(10, 10))

    result = world.ingest(event)

    assert result.status == "rejected"
    [published] = world.published()
    assert published["detail"]["reason_code"] == "not-found"


def test_unreadable_endpoint_answer_is_rejected_as_detector_response(world: IngestWorld) -> None:
    event = world.upload("incoming/odd.jpg", jpeg_bytes())
    world.queue_endpoint_answer({"unexpected": True})

    assert world.ingest(event).status == "rejected"
    [published] = world.published()
    assert published["detail"]["reason_code"] == "detector-response"


@pytest.mark.parametrize(
    "key",
    [
        "incoming/my holiday photo.jpg",
        "incoming/c++ & friends=1.jpg",
        "incoming/100% sure.jpg",
        "incoming/ünïcødé/猫の写真.jpg",
        "incoming/a/b/c/d/e/f/g/h/deep.jpg",
    ],
)
def test_awkward_keys_are_read_and_recorded_under_the_same_key(world: IngestWorld, key: str) -> None:
    event = world.upload(key, jpeg_bytes())
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.95, 0, 0, 1, 1]))

    assert world.ingest(event).status == "accepted"

    assert world.record_keys() == [f"predictions/{key}/{etag}.json"]
    [published] = world.published()
    assert published["detail"]["image"]["key"] == key


def test_key_url_encoded_like_an_s3_notification_is_found_decoded(world: IngestWorld) -> None:
    event = world.upload("incoming/my photo+1.jpg", jpeg_bytes())
    event["detail"]["object"]["key"] = "incoming/my+photo%2B1.jpg"
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.95, 0, 0, 1, 1]))

    assert world.ingest(event).status == "accepted"

    [published] = world.published()
    assert published["detail"]["image"]["key"] == "incoming/my photo+1.jpg"


def test_folder_markers_and_empty_objects_are_skipped(world: IngestWorld) -> None:
    world.s3.put_object(Bucket=INPUT_BUCKET, Key="incoming/empty.jpg", Body=b"")

    marker = world.ingest(
        object_created("incoming/new folder/", size=0, etag="d41d8cd98f00b204e9800998ecf8427e")
    )
    empty = world.ingest(
        object_created("incoming/empty.jpg", size=0, etag="d41d8cd98f00b204e9800998ecf8427e")
    )

    assert (marker.status, empty.status) == ("skipped", "skipped")
    assert world.record_keys() == []
    assert world.published() == []


def noisy_jpeg(width: int, height: int, exif: Image.Exif | None = None) -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    params: dict[str, Any] = {"quality": 95}
    if exif is not None:
        params["exif"] = exif.tobytes()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", **params)
    return buffer.getvalue()


def capture_endpoint_requests(world: IngestWorld) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    world.sagemaker_runtime.meta.events.register(
        "before-parameter-build.sagemaker-runtime.InvokeEndpoint", lambda params, **_: sent.append(params)
    )
    return sent


def test_image_over_the_payload_limit_is_downscaled_and_boxes_scaled_back(world: IngestWorld) -> None:
    world.reconfigure(endpoint_payload_limit=40_000)
    data = noisy_jpeg(800, 600)
    assert len(data) > 40_000
    event = world.upload("incoming/big.jpg", data)
    sent = capture_endpoint_requests(world)
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0.25, 0.25, 0.75, 0.75]))

    world.ingest(event)

    [request] = sent
    assert len(request["Body"]) <= 40_000
    record = PredictionRecord.model_validate(
        world.record(f"predictions/incoming/big.jpg/{event['detail']['object']['etag']}.json")
    )
    assert (record.image_size.width, record.image_size.height) == (800, 600)
    assert record.inference.size.width < 800 and record.inference.scale > 1
    box = record.detections[0]
    slack = 2 * record.inference.scale
    assert abs(box.left - 200) <= slack and abs(box.top - 150) <= slack
    assert abs(box.width - 400) <= slack and abs(box.height - 300) <= slack


def test_exif_rotated_image_is_scored_and_sized_as_displayed(world: IngestWorld) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    data = noisy_jpeg(80, 40, exif)
    event = world.upload("incoming/phone.jpg", data)
    sent = capture_endpoint_requests(world)
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0.0, 0.5, 1.0, 1.0]))

    world.ingest(event)

    [request] = sent
    assert Image.open(io.BytesIO(request["Body"])).size == (40, 80)
    record = world.record(f"predictions/incoming/phone.jpg/{event['detail']['object']['etag']}.json")
    assert record["image_size"] == {"width": 40, "height": 80, "depth": 3}
    assert record["inference"]["exif_orientation"] == 6
    assert record["detections"][0] == {
        "label": "cat",
        "score": 0.9,
        "left": 0,
        "top": 40,
        "width": 40,
        "height": 40,
    }


def review_upload(world: IngestWorld, deliveries: int = 1) -> tuple[dict[str, Any], str]:
    """An image the detector doubts, scored once per delivery (a redelivery scores it again)."""
    event = world.upload("incoming/dup.jpg", jpeg_bytes())
    for _ in range(deliveries):
        world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.2, 0, 0, 1, 1]))
    return event, loop_name(INPUT_BUCKET, "incoming/dup.jpg", event["detail"]["object"]["etag"])


def expect_loop_exists(world: IngestWorld, name: str) -> None:
    """StartHumanLoop answers ConflictException; DescribeHumanLoop shows our flow definition's loop."""
    world.a2i_stub.add_client_error(
        "start_human_loop", "ConflictException", "a loop with this name exists", http_status_code=409
    )
    world.a2i_stub.add_response(
        "describe_human_loop",
        {
            "CreationTime": "2026-11-22T10:00:01Z",
            "HumanLoopStatus": "InProgress",
            "HumanLoopName": name,
            "HumanLoopArn": loop_response(name)["HumanLoopArn"],
            "FlowDefinitionArn": FLOW_ARN,
        },
        {"HumanLoopName": name},
    )


def s3_calls(world: IngestWorld) -> list[tuple[str, str]]:
    """(operation, key) of every S3 call the ingest's client makes from now on."""
    calls: list[tuple[str, str]] = []
    world.deps.s3.meta.events.register(
        "before-parameter-build.s3.*",
        lambda params, model, **_: calls.append((model.name, params.get("Key", ""))),
    )
    return calls


def test_first_delivery_reads_the_image_and_writes_the_record_and_nothing_else(
    world: IngestWorld,
) -> None:
    event = world.upload("incoming/cat.jpg", jpeg_bytes())
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    calls = s3_calls(world)

    world.ingest(event)

    etag = event["detail"]["object"]["etag"]
    assert calls == [
        ("GetObject", "incoming/cat.jpg"),
        ("PutObject", f"predictions/incoming/cat.jpg/{etag}.json"),
    ]


def test_redelivered_message_keeps_one_record_and_one_loop_and_announces_again(world: IngestWorld) -> None:
    event, name = review_upload(world, deliveries=2)
    world.a2i_stub.add_response("start_human_loop", loop_response(name))
    expect_loop_exists(world, name)

    first = world.ingest(event)
    record_before = world.record(f"predictions/incoming/dup.jpg/{event['detail']['object']['etag']}.json")
    second = world.ingest(event)

    assert (first.status, second.status) == ("review", "redelivered")
    assert second.record_uri == first.record_uri and second.loop_name == first.loop_name == name
    assert world.record_keys() == [f"predictions/incoming/dup.jpg/{event['detail']['object']['etag']}.json"]
    assert world.record(world.record_keys()[0]) == record_before
    published = world.published()
    assert [e["detail"]["record_uri"] for e in published] == [first.record_uri] * 2
    assert world.metrics.count("ImagesSentToReview") == world.metrics.count("ImagesReceived") == 1


def test_retry_after_a_failed_publish_finds_the_loop_started_and_publishes(
    world: IngestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    event, name = review_upload(world, deliveries=2)
    world.a2i_stub.add_response("start_human_loop", loop_response(name))
    expect_loop_exists(world, name)
    publish = world.deps.publisher.publish
    calls = iter([RuntimeError("EventBridge unavailable")])

    def flaky_publish(details: Any) -> None:
        failure = next(calls, None)
        if failure:
            raise failure
        publish(details)

    monkeypatch.setattr(world.deps.publisher, "publish", flaky_publish)

    with pytest.raises(RuntimeError, match="EventBridge unavailable"):
        world.ingest(event)
    assert world.published() == []
    result = world.ingest(event)

    assert result.status == "redelivered"
    [published] = world.published()
    assert published["detail"]["loop_name"] == name


def test_redelivery_that_finds_the_image_gone_keeps_the_prediction_record(world: IngestWorld) -> None:
    event = world.upload("incoming/brief.jpg", jpeg_bytes())
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    first = world.ingest(event)
    world.s3.delete_object(Bucket=INPUT_BUCKET, Key="incoming/brief.jpg")

    second = world.ingest(event)

    assert (first.status, second.status) == ("accepted", "redelivered")
    assert [key.split("/")[0] for key in world.record_keys()] == ["predictions"]
    assert [e["detail-type"] for e in world.published()] == ["Prediction Accepted"] * 2


def test_redelivered_rejection_keeps_one_record(world: IngestWorld) -> None:
    event = world.upload("incoming/notes.jpg", b"not a picture at all")

    first, second = world.ingest(event), world.ingest(event)

    assert (first.status, second.status) == ("rejected", "redelivered")
    assert len(world.record_keys()) == 1
    assert [e["detail"]["record_uri"] for e in world.published()] == [first.record_uri] * 2
    assert world.metrics.count("ImagesRejected") == 1


def test_a2i_throttling_fails_the_attempt_and_the_retry_succeeds(world: IngestWorld) -> None:
    event, name = review_upload(world, deliveries=2)
    world.a2i_stub.add_client_error(
        "start_human_loop", "ThrottlingException", "slow down", http_status_code=400
    )
    world.a2i_stub.add_response("start_human_loop", loop_response(name))

    with pytest.raises(ClientError, match="ThrottlingException"):
        world.ingest(event)
    result = world.ingest(event)

    assert result.status == "redelivered"
    assert len(world.published()) == 1


def test_loop_name_taken_by_another_flow_definition_is_not_treated_as_done(world: IngestWorld) -> None:
    event, name = review_upload(world)
    world.a2i_stub.add_client_error("start_human_loop", "ConflictException", "exists", http_status_code=409)
    world.a2i_stub.add_response(
        "describe_human_loop",
        {
            "CreationTime": "2026-11-22T10:00:01Z",
            "HumanLoopStatus": "Completed",
            "HumanLoopName": name,
            "HumanLoopArn": loop_response(name)["HumanLoopArn"],
            "FlowDefinitionArn": FLOW_ARN.replace("hitl-review", "someone-else"),
        },
    )

    with pytest.raises(RuntimeError, match="someone-else"):
        world.ingest(event)
    assert world.published() == []


def test_versioned_bucket_reads_the_announced_version_and_keys_the_record_by_it(world: IngestWorld) -> None:
    world.s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = world.upload("incoming/v.jpg", jpeg_bytes(64, 48))
    world.upload("incoming/v.jpg", b"a later upload that is not an image")
    version_id = first["detail"]["object"]["version-id"]
    world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))

    result = world.ingest(first)

    assert result.status == "accepted"
    record = world.record(f"predictions/incoming/v.jpg/{version_id}.json")
    assert record["source"]["version"] == record["source"]["version_id"] == version_id
    assert record["image_size"]["width"] == 64


def builtin_reviews_over_budget(world: IngestWorld, spent: bool) -> ReviewTaskTable:
    """The built-in backend with `when_spent: accept` and an hourly budget of 1, spent or not."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request("tasks"))
    if spent:
        counter = {REVIEW_TASK_TABLE.partition_key: {"S": hour_key(datetime.now(UTC))}, "used": {"N": "1"}}
        dynamodb.put_item(TableName="tasks", Item=counter)
    table = ReviewTaskTable(dynamodb, "tasks")
    rule = OverBudgetRule(ReviewBudget(per_hour=1), accept=True)
    world.deps = dataclasses.replace(
        world.deps, reviews=TaskStoreReviewStarter(table, "hitl", over_budget=rule)
    )
    return table


def test_a_spent_budget_with_when_spent_accept_accepts_the_image_and_says_why(world: IngestWorld) -> None:
    table = builtin_reviews_over_budget(world, spent=True)
    key = "incoming/people/crowd.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    result = world.ingest(event)

    assert (result.status, result.loop_name) == ("accepted", None)
    record = world.record(f"predictions/{key}/{etag}.json")
    assert (record["status"], record["human_loop"]) == ("accepted", None)
    assert (record["decision"]["outcome"], record["decision"]["reason"]) == ("accept", "over-budget")
    assert record["decision"]["condition_results"]["Conditions"][0]["EvaluationResult"] is True
    [published] = world.published()
    assert published["detail-type"] == "Prediction Accepted"
    assert published["detail"]["reason"] == "over-budget"
    assert table.get(loop_name(INPUT_BUCKET, key, etag)) is None
    assert world.metrics.count("ImagesAcceptedOverBudget") == 1


def test_with_budget_left_the_image_becomes_a_task(world: IngestWorld) -> None:
    table = builtin_reviews_over_budget(world, spent=False)
    key = "incoming/people/crowd.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"
    assert world.record(f"predictions/{key}/{etag}.json")["decision"]["reason"] is None
    assert table.get(loop_name(INPUT_BUCKET, key, etag)) is not None


def test_an_audit_sample_still_becomes_a_task_when_the_budget_is_spent(world: IngestWorld) -> None:
    world.reconfigure(routing=Routing(sampling_percentage=100.0))
    table = builtin_reviews_over_budget(world, spent=True)
    key = "incoming/people/sure.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    etag = event["detail"]["object"]["etag"]
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.99, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"
    record = world.record(f"predictions/{key}/{etag}.json")
    assert [
        c["ConditionType"]
        for c in record["decision"]["condition_results"]["Conditions"]
        if c["EvaluationResult"]
    ] == ["Sampling"]
    assert table.get(loop_name(INPUT_BUCKET, key, etag)) is not None
