"""The gold manifest check (moto S3): readable, every line with the model's boxes, images placed for A2I."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from cli.conftest import gold_line

from hitl.preflight.gold_manifest import check_gold_manifest
from hitl.preflight.result import Status
from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.gold_tasks import with_model_detections

from .conftest import a2i, make_deployment

MANIFEST = "s3://team-gold/gold/gold.manifest"
MODEL = {"detector": "sagemaker-endpoint", "endpoint_name": "det", "adapter": "sagemaker-object-detection"}
BOX = {"left": 10, "top": 20, "width": 100, "height": 50}


def predicted(image: str) -> dict[str, Any]:
    line = gold_line(image, 400, 200, "cat", BOX)
    shown = ImageDetections(
        ImageSize(400, 200), (Detection.from_dict({"label": "cat", "score": 0.8, **BOX}),)
    )
    source = {"bucket": "team-gold", "key": image.split("/", 3)[3], "version": "v1", "uri": image}
    return with_model_detections(line, shown, MODEL, source, ["cat"], "2026-12-07T10:00:00.000Z")


def stored(*lines: dict[str, Any]) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="team-gold")
    s3.put_object(
        Bucket="team-gold", Key="gold/gold.manifest", Body="".join(json.dumps(x) + "\n" for x in lines)
    )


def with_gold(**backend: Any) -> Any:
    return make_deployment(pipeline={"review": {"gold": {"manifest": MANIFEST}}}, **backend)


def test_no_gold_manifest_is_nothing_to_check(clients) -> None:
    assert check_gold_manifest(make_deployment(), clients) is None


def test_lines_with_the_models_boxes_pass(clients) -> None:
    stored(predicted("s3://team-gold/gold/cat.jpg"), predicted("s3://team-gold/gold/cat2.jpg"))

    result = check_gold_manifest(with_gold(), clients)

    assert (result.status, result.message) == (
        Status.PASS,
        f"{MANIFEST}: 2 gold lines, each with the model's boxes",
    )


def test_a_line_without_the_models_boxes_fails_naming_the_command(clients) -> None:
    stored(
        predicted("s3://team-gold/gold/cat.jpg"),
        gold_line("s3://team-gold/gold/dog.jpg", 400, 200, "dog", BOX),
    )

    result = check_gold_manifest(with_gold(), clients)

    assert result.status is Status.FAIL and "gold manifest line 2: no model boxes" in result.message
    assert "hitl review gold predict" in result.fix


def test_a_missing_manifest_fails(clients) -> None:
    result = check_gold_manifest(with_gold(), clients)

    assert (result.status, result.message) == (Status.FAIL, f"{MANIFEST} does not exist")


@pytest.mark.parametrize("backend", [{}, a2i()], ids=["builtin", "a2i"])
def test_an_image_outside_the_manifests_folder_fails(clients, backend: dict[str, Any]) -> None:
    stored(predicted("s3://team-gold/elsewhere/cat.jpg"))

    result = check_gold_manifest(with_gold(deploy=backend), clients)

    assert result.status is Status.FAIL and "is not under s3://team-gold/gold/" in result.message


def test_a_path_that_is_not_s3_fails(clients) -> None:
    deployment = make_deployment(pipeline={"review": {"gold": {"manifest": "gold/gold.manifest"}}})

    assert check_gold_manifest(deployment, clients).status is Status.FAIL
