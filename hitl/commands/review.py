"""`hitl review`: the built-in review service's data; `gold predict` gives gold lines the model's boxes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.config import Config

from hitl.commands.manifest_merge import read_manifest, write_manifest
from hitl.commands.options import config_option, load_pipeline_config
from hitl.gold_predictions import GoldPredictionError, predict_gold
from hitl.local.model_store import DEFAULT_CACHE_DIR, ModelStoreError, cached_model
from hitl.local.stack import FAKE_CREDENTIALS, REGION
from hitl_core.config import PipelineConfig
from hitl_ingest.dependencies import CLIENT_SETTINGS
from hitl_ingest.detector import SageMakerEndpointDetector

LOCAL_ENDPOINT = "hitl-gold-predict"
LOCAL_ADAPTER = "sagemaker-object-detection"
"""The local endpoint answers as SageMaker's built-in object-detection algorithm does."""


@click.group()
def review() -> None:
    """The built-in review service's data (gold tasks)."""


@review.group()
def gold() -> None:
    """Gold tasks: images whose answer is known, mixed into reviewers' tasks to measure them."""


@contextmanager
def local_endpoint(model_dir: Path, labels: list[str]) -> Iterator[Any]:
    """A sagemaker-runtime client for the local SSD endpoint, served in this process while in use."""
    from hitl.local.endpoint import serve_ssd_endpoint

    try:
        files = cached_model(model_dir)
    except ModelStoreError as err:
        raise click.ClickException(str(err)) from None
    with serve_ssd_endpoint(files, labels, LOCAL_ENDPOINT, "127.0.0.1", 0) as server:
        yield boto3.client(
            "sagemaker-runtime",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@contextmanager
def endpoint_detector(
    config: PipelineConfig, endpoint_name: str | None, model_dir: str | None
) -> Iterator[SageMakerEndpointDetector]:
    """Ingest's endpoint detector for the named endpoint, or for the local SSD one."""
    if model_dir is not None:
        with local_endpoint(Path(model_dir), config.labels) as client:
            yield SageMakerEndpointDetector(
                client, LOCAL_ENDPOINT, "sagemaker-object-detection", config.labels
            )
        return
    assert endpoint_name is not None
    client = boto3.client("sagemaker-runtime", config=Config(**CLIENT_SETTINGS))
    yield SageMakerEndpointDetector(client, endpoint_name, config.adapter, config.labels)


@gold.command("predict")
@click.option("--manifest", "manifest_in", required=True, help="The gold manifest (a path or s3://).")
@click.option("--out", "out", required=True, help="Where to write it with the model's boxes (path or s3://).")
@click.option("--endpoint-name", help="The deployed SageMaker endpoint to ask (InvokeEndpoint).")
@click.option(
    "--local-model",
    "model_dir",
    is_flag=False,
    flag_value=str(DEFAULT_CACHE_DIR),
    default=None,
    type=click.Path(file_okay=False),
    help=f"Ask the local SSD detector, as `hitl local up` serves it (model cache: {DEFAULT_CACHE_DIR}).",
)
@config_option
def predict_command(
    manifest_in: str, out: str, endpoint_name: str | None, model_dir: str | None, config_path: str
) -> None:
    """Give every gold line the model's boxes for its image, as a task for that image shows them.

    Each image (its source-ref, read with boto3's credentials) goes through ingest's image checks and
    detector, and the boxes at or above routing's MinDisplayScore are kept in the line's metadata
    under `model-detections`. The review service refuses gold lines without them. Run it again after
    a new model is deployed.
    """
    if (endpoint_name is None) == (model_dir is None):
        raise click.UsageError("give --endpoint-name or --local-model (one of them)")
    config = load_pipeline_config(config_path)
    if model_dir is None and config.adapter == "rekognition-custom-labels":
        raise click.UsageError("adapter rekognition-custom-labels has no endpoint: not supported here")
    text = read_manifest(manifest_in)
    with endpoint_detector(config, endpoint_name, model_dir) as detector:
        try:
            predicted = predict_gold(text, boto3.client("s3"), detector, config, datetime.now(UTC))
        except GoldPredictionError as err:
            raise click.ClickException(str(err)) from None
    write_manifest(out, predicted)
    click.echo(f"{predicted.count(chr(10))} gold line(s) with the model's boxes written to {out}")
