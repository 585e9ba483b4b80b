"""`hitl review gold predict` with the local SSD detector on a sample photo read from S3 (a moto server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.conftest import gold_line
from hitl.cli import cli
from hitl.local.model_store import DEFAULT_CACHE_DIR, fetch_model
from hitl.local.sample_photos import skimage_data_dir
from hitl_core.detections import Box
from hitl_core.gold_tasks import MODEL_DETECTIONS, gold_lines

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KNOWN_CAT = {"left": 40, "top": 20, "width": 280, "height": 280}
"""Chelsea the cat, drawn by hand on scikit-image's chelsea.png (451x300)."""


def test_predict_on_the_local_detector_gives_a_gold_line_the_models_boxes(
    moto_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = fetch_model(PROJECT_ROOT / DEFAULT_CACHE_DIR).model_path.parent
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server_url)
    bucket = f"gold-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    photo = skimage_data_dir() / "chelsea.png"
    s3.put_object(Bucket=bucket, Key="gold/chelsea.png", Body=photo.read_bytes())
    with Image.open(photo) as image:
        line = gold_line(f"s3://{bucket}/gold/chelsea.png", image.width, image.height, "cat", KNOWN_CAT)
    manifest, out = tmp_path / "gold.manifest", tmp_path / "gold-predicted.manifest"
    manifest.write_text(json.dumps(line) + "\n")

    args = ["review", "gold", "predict", "--manifest", str(manifest), "--out", str(out)]
    config = ["--config", str(PROJECT_ROOT / "cdk.json")]
    result = CliRunner().invoke(cli, [*args, "--local-model", str(model_dir), *config])

    assert result.exit_code == 0, result.output
    assert "1 gold line(s) with the model's boxes written" in result.output
    (predicted,) = [json.loads(text) for text in out.read_text().splitlines()]
    found = predicted["bounding-box-metadata"][MODEL_DETECTIONS]["detections"]
    cat = max((d for d in found if d["label"] == "cat"), key=lambda d: d["score"])
    assert cat["score"] > 0.8, "the real detector sees Chelsea"
    box = {k: cat[k] for k in KNOWN_CAT}
    assert box != KNOWN_CAT and Box(**box).iou(Box(**KNOWN_CAT)) > 0.5, (
        "the model's own box, near the known one"
    )
    (gold,) = gold_lines(out.read_text())
    assert gold.input_content["initialValue"] == [{"label": "cat", **box}]
    assert gold.boxes == [{"label": "cat", **KNOWN_CAT}], "scored against the known box only"

    neither = CliRunner().invoke(cli, [*args, *config])
    assert neither.exit_code == 2 and "--endpoint-name or --local-model" in neither.output
