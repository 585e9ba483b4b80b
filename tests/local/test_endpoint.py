"""The local endpoint through boto3's sagemaker-runtime client, as the ingest Lambda calls it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hitl.local.detector import SsdDetector
from hitl.local.endpoint import create_endpoint_app
from hitl.local.faults import ThrottleFault
from hitl.local.model_store import DEFAULT_CACHE_DIR, fetch_model
from hitl.local.sample_photos import skimage_data_dir
from hitl.local.servers import BackgroundServer
from hitl_core.config import REAL_TIME_PAYLOAD_LIMIT, PipelineConfig

PROJECT_CACHE = Path(__file__).resolve().parents[2] / DEFAULT_CACHE_DIR
ENDPOINT = "hitl-local-detector"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port for the duration of the block."""
    with BackgroundServer("endpoint-under-test", app, "127.0.0.1", 0) as server:
        yield server.url


@pytest.fixture(scope="module")
def detector() -> SsdDetector:
    return SsdDetector(fetch_model(PROJECT_CACHE))


@pytest.fixture(scope="module")
def endpoint_url(detector: SsdDetector, pipeline_config: PipelineConfig) -> Iterator[str]:
    with serving(create_endpoint_app(detector, pipeline_config.labels, ENDPOINT)) as url:
        yield url


def _client(url: str) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=url, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def runtime(endpoint_url: str) -> Any:
    return _client(endpoint_url)


def _photo(name: str) -> bytes:
    return (skimage_data_dir() / name).read_bytes()


def _invoke(runtime: Any, body: bytes, **options: str) -> dict[str, Any]:
    arguments = {"EndpointName": ENDPOINT, "ContentType": "image/png", **options}
    response = runtime.invoke_endpoint(Body=body, **arguments)
    return {**response, "Body": json.loads(response["Body"].read())}


def _refusal(runtime: Any, body: bytes, **options: str) -> ClientError:
    with pytest.raises(ClientError) as raised:
        _invoke(runtime, body, **options)
    return raised.value


def test_a_photo_gets_the_built_in_algorithm_s_answer(
    runtime: Any, detector: SsdDetector, pipeline_config: PipelineConfig
) -> None:
    response = _invoke(runtime, _photo("chelsea.png"))

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    expected = [
        [pipeline_config.labels.index(d.label), d.score, d.xmin, d.ymin, d.xmax, d.ymax]
        for d in detector.detect(_photo("chelsea.png"))
    ]
    assert response["Body"] == {"prediction": expected}
    class_id, score, *_ = response["Body"]["prediction"][0]
    assert pipeline_config.labels[class_id] == "cat"
    assert score > 0.8


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/x-image", "image/jpeg; charset=binary"])
def test_jpeg_is_accepted_under_every_image_content_type(runtime: Any, content_type: str) -> None:
    response = _invoke(runtime, _photo("rocket.jpg"), ContentType=content_type, Accept="application/json")

    assert response["Body"] == {"prediction": []}


def test_class_ids_index_the_configured_list_and_other_labels_are_left_out(detector: SsdDetector) -> None:
    with serving(create_endpoint_app(detector, ["dining table", "cup"], ENDPOINT)) as url:
        response = _invoke(_client(url), _photo("coffee.png"))

    prediction = response["Body"]["prediction"]
    assert {row[0] for row in prediction} == {0, 1}
    cup = next(row for row in prediction if row[0] == 1)
    assert cup[1] > 0.8

    with serving(create_endpoint_app(detector, ["dog"], ENDPOINT)) as url:
        assert _invoke(_client(url), _photo("coffee.png"))["Body"] == {"prediction": []}


def test_an_unknown_endpoint_is_a_validation_error(runtime: Any) -> None:
    error = _refusal(runtime, _photo("chelsea.png"), EndpointName="some-other-endpoint")

    assert error.response["Error"]["Code"] == "ValidationError"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "some-other-endpoint" in error.response["Error"]["Message"]
    assert isinstance(error, runtime.exceptions.ValidationError)


def test_bytes_that_are_not_an_image_are_a_model_error(runtime: Any) -> None:
    error = _refusal(runtime, b"these bytes are not an image", ContentType="image/jpeg")

    assert isinstance(error, runtime.exceptions.ModelError)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error.response["OriginalStatusCode"] == 400
    assert error.response["OriginalMessage"] == "not a JPEG or PNG image"
    assert error.response["Error"]["Message"].startswith("Received client error (400) from primary")


@pytest.mark.parametrize(
    ("options", "original_status"),
    [({"ContentType": "text/csv"}, 415), ({"Accept": "text/csv"}, 406)],
    ids=["content-type", "accept"],
)
def test_formats_the_model_does_not_speak_are_model_errors(
    runtime: Any, options: dict[str, str], original_status: int
) -> None:
    error = _refusal(runtime, _photo("chelsea.png"), **options)

    assert error.response["Error"]["Code"] == "ModelError"
    assert error.response["OriginalStatusCode"] == original_status


def test_a_body_over_the_payload_limit_is_refused_before_inference(runtime: Any) -> None:
    error = _refusal(runtime, b"\xff" * (REAL_TIME_PAYLOAD_LIMIT + 1), ContentType="image/jpeg")

    assert error.response["Error"]["Code"] == "ValidationError"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert f"{REAL_TIME_PAYLOAD_LIMIT:,} bytes" in error.response["Error"]["Message"]


def test_a_body_at_the_payload_limit_reaches_the_model(runtime: Any) -> None:
    error = _refusal(runtime, b"\xff" * REAL_TIME_PAYLOAD_LIMIT, ContentType="image/jpeg")

    assert error.response["Error"]["Code"] == "ModelError"
    assert error.response["OriginalStatusCode"] == 400


def test_ping_reports_health(endpoint_url: str) -> None:
    with urllib.request.urlopen(f"{endpoint_url}/ping", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "Healthy", "endpoint": ENDPOINT}


def test_parallel_invocations_each_get_their_own_answer(runtime: Any) -> None:
    photos = ["chelsea.png", "coffee.png", "motorcycle_left.png", "astronaut.png"] * 2
    sequential = [_invoke(runtime, _photo(name))["Body"] for name in photos]

    def invoke(name: str) -> Any:
        return _invoke(_client(runtime.meta.endpoint_url), _photo(name))["Body"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(invoke, photos)) == sequential


def test_a_throttle_fault_answers_throttling_that_botocore_retries(
    detector: SsdDetector, pipeline_config: PipelineConfig
) -> None:
    throttle = ThrottleFault(1.0)
    with serving(create_endpoint_app(detector, pipeline_config.labels, ENDPOINT, throttle)) as url:
        refusal = _refusal(_client(url), _photo("chelsea.png"))
        before_retries = throttle.throttled
        retrying = boto3.client(
            "sagemaker-runtime",
            endpoint_url=url,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )
        with pytest.raises(ClientError):
            retrying.invoke_endpoint(
                EndpointName=ENDPOINT, ContentType="image/png", Body=_photo("chelsea.png")
            )

    assert refusal.response["Error"]["Code"] == "ThrottlingException"
    assert refusal.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert before_retries >= 1
    assert throttle.throttled - before_retries > 1, "botocore retried the throttled call"
