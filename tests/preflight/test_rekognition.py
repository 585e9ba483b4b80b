"""The Rekognition Custom Labels model version and its labels (moto lacks these APIs: Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hitl.preflight.rekognition import check_detector_labels, check_rekognition_model
from hitl.preflight.result import Status

from .conftest import make_deployment

PROJECT_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/pets/1700000000000"
VERSION_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/pets/version/pets.v3/1700000001000"
DATASET_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/pets/dataset/train/1700000002000"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def rekognition_deployment(version_arn: str = VERSION_ARN, labels: list[str] | None = None):
    return make_deployment(
        {"endpoint": {"mode": "rekognition-custom-labels", "project_version_arn": version_arn}},
        {"adapter": "rekognition-custom-labels", "labels": labels or ["cat", "dog"], "review_labels": None},
    )


def project(clients, datasets: bool = True) -> None:
    description = {"ProjectArn": PROJECT_ARN, "CreationTimestamp": CREATED, "Status": "CREATED"}
    if datasets:
        description["Datasets"] = [
            {"DatasetArn": DATASET_ARN, "DatasetType": "TRAIN", "Status": "CREATE_COMPLETE"}
        ]
    clients.stub("rekognition").add_response(
        "describe_projects", {"ProjectDescriptions": [description]}, {"ProjectNames": ["pets"]}
    )


def version(clients, status: str) -> None:
    clients.stub("rekognition").add_response(
        "describe_project_versions",
        {"ProjectVersionDescriptions": [{"ProjectVersionArn": VERSION_ARN, "Status": status}]},
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["pets.v3"]},
    )


def test_a_running_version_passes(clients):
    project(clients)
    version(clients, "RUNNING")
    result = check_rekognition_model(rekognition_deployment(), clients)
    assert (result.status, result.message) == (Status.PASS, "model version pets.v3 is RUNNING")


def test_a_stopped_version_warns_with_the_start_command(clients):
    project(clients)
    version(clients, "STOPPED")
    result = check_rekognition_model(rekognition_deployment(), clients)
    assert result.status is Status.WARN
    assert result.fix.startswith(f"aws rekognition start-project-version --project-version-arn {VERSION_ARN}")


@pytest.mark.parametrize("status", ["TRAINING_FAILED", "FAILED", "DELETING"])
def test_a_version_that_cannot_run_fails(clients, status):
    project(clients)
    version(clients, status)
    assert check_rekognition_model(rekognition_deployment(), clients).status is Status.FAIL


def test_a_missing_project_fails(clients):
    clients.stub("rekognition").add_response("describe_projects", {"ProjectDescriptions": []})
    result = check_rekognition_model(rekognition_deployment(), clients)
    assert (result.status, result.message) == (Status.FAIL, "project pets does not exist in us-east-1")


def test_a_missing_version_fails(clients):
    project(clients)
    clients.stub("rekognition").add_client_error(
        "describe_project_versions",
        service_error_code="ResourceNotFoundException",
        service_message="The resource specified in the request cannot be found.",
    )
    result = check_rekognition_model(rekognition_deployment(), clients)
    assert (result.status, result.message) == (Status.FAIL, "model version pets.v3 does not exist")


def test_a_version_in_another_region_fails_without_a_call(clients):
    other = VERSION_ARN.replace("us-east-1", "eu-west-1")
    result = check_rekognition_model(rekognition_deployment(other), clients)
    assert (result.status, result.message) == (
        Status.FAIL,
        "the model version is in eu-west-1, the deployment in us-east-1",
    )
    assert check_detector_labels(rekognition_deployment(other), clients) is None
    assert clients.operations == []


def dataset_labels(clients, *labels: str) -> None:
    clients.stub("rekognition").add_response(
        "list_dataset_labels",
        {"DatasetLabelDescriptions": [{"LabelName": label} for label in labels]},
        {"DatasetArn": DATASET_ARN},
    )


def test_the_models_labels_are_the_configured_ones(clients):
    project(clients)
    dataset_labels(clients, "dog", "cat")
    assert check_detector_labels(rekognition_deployment(), clients).status is Status.PASS


def test_a_label_the_model_knows_but_the_configuration_lacks_fails(clients):
    project(clients)
    dataset_labels(clients, "cat", "dog", "ferret")
    result = check_detector_labels(rekognition_deployment(), clients)
    assert result.status is Status.FAIL
    assert "missing from hitl.labels: ['ferret']" in result.message


def test_a_configured_label_the_model_never_learnt_warns(clients):
    project(clients)
    dataset_labels(clients, "cat")
    result = check_detector_labels(rekognition_deployment(), clients)
    assert result.status is Status.WARN
    assert "lack: ['dog']" in result.message


def test_a_project_without_datasets_cannot_tell(clients):
    project(clients, datasets=False)
    assert check_detector_labels(rekognition_deployment(), clients).status is Status.WARN


def test_only_the_rekognition_mode_is_checked(clients):
    assert check_rekognition_model(make_deployment(), clients) is None
    assert check_detector_labels(make_deployment(), clients) is None


def test_a_region_without_rekognition_fails_without_a_call(clients):
    arn = VERSION_ARN.replace("us-east-1", "eu-north-1")
    deployment = make_deployment(
        {"endpoint": {"mode": "rekognition-custom-labels", "project_version_arn": arn}},
        {"adapter": "rekognition-custom-labels", "labels": ["cat", "dog"], "review_labels": None},
        region="eu-north-1",
    )
    result = check_rekognition_model(deployment, clients)
    assert (result.status, result.message) == (Status.FAIL, "Rekognition is not offered in eu-north-1")
    assert clients.operations == []
