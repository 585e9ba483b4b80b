"""The Rekognition Custom Labels model version the configuration names: its region, its state,
and its dataset's labels against the configured ones (DescribeProjects, DescribeProjectVersions,
ListDatasetLabels)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from infra.deploy_config import RekognitionEndpoint

MODEL_NAME = "rekognition-model"
LABELS_NAME = "detector-labels"
STOPPED = (
    "TRAINING_COMPLETED",
    "STOPPED",
    "STARTING",
    "STOPPING",
    "TRAINING_IN_PROGRESS",
    "COPYING_IN_PROGRESS",
)


def _version_parts(arn: str) -> tuple[str, str, str]:
    """(region, project name, version name) of `...:project/NAME/version/VERSION/TIMESTAMP`."""
    resource = arn.split(":", 5)[5]
    _, project, _, version, _ = resource.split("/")
    return arn.split(":")[3], project, version


def _project(clients: ClientFactory, name: str) -> dict[str, Any] | None:
    found = clients("rekognition").describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    return found[0] if found else None


def check_rekognition_model(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """Detection calls the version in the stack's region; it must exist there and be RUNNING to answer."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, RekognitionEndpoint):
        return None
    region, project_name, version = _version_parts(endpoint.project_version_arn)
    if region != deployment.region:
        return failed(
            MODEL_NAME,
            f"the model version is in {region}, the deployment in {deployment.region}",
            f"deploy to {region}, or train the model in {deployment.region}",
        )
    session = boto3.session.Session()
    partition = session.get_partition_for_region(region)
    if region not in session.get_available_regions("rekognition", partition_name=partition):
        return failed(
            MODEL_NAME,
            f"Rekognition is not offered in {region}",
            "deploy to a region with Rekognition Custom Labels",
        )
    project = _project(clients, project_name)
    if project is None:
        return failed(
            MODEL_NAME, f"project {project_name} does not exist in {region}", "fix project_version_arn"
        )
    try:
        versions = clients("rekognition").describe_project_versions(
            ProjectArn=project["ProjectArn"], VersionNames=[version]
        )["ProjectVersionDescriptions"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        versions = []
    if not versions:
        return failed(MODEL_NAME, f"model version {version} does not exist", "fix project_version_arn")
    status = versions[0]["Status"]
    if status == "RUNNING":
        return passed(MODEL_NAME, f"model version {version} is RUNNING")
    if status in STOPPED:
        return warned(
            MODEL_NAME,
            f"model version {version} is {status}: images are rejected until it runs "
            "(and it bills while it runs)",
            f"aws rekognition start-project-version --project-version-arn {endpoint.project_version_arn} "
            "--min-inference-units 1",
        )
    return failed(MODEL_NAME, f"model version {version} is {status}", "train or name a version that can run")


def check_detector_labels(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """Every label the model can answer must be configured (ingest rejects an image with an unknown one)."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, RekognitionEndpoint):
        return None
    region, project_name, _ = _version_parts(endpoint.project_version_arn)
    if region != deployment.region:
        return None  # the model check fails already
    project = _project(clients, project_name)
    datasets = (project or {}).get("Datasets", [])
    if not datasets:
        return warned(
            LABELS_NAME,
            f"project {project_name} has no datasets to read labels from; the model's labels cannot be read",
            "compare the model's labels with hitl.labels by hand",
        )
    rekognition = clients("rekognition")
    model_labels: set[str] = set()
    for dataset in datasets:
        pages = rekognition.get_paginator("list_dataset_labels").paginate(DatasetArn=dataset["DatasetArn"])
        model_labels |= {d["LabelName"] for page in pages for d in page["DatasetLabelDescriptions"]}
    configured = set(deployment.pipeline.labels)
    unknown = sorted(model_labels - configured)
    if unknown:
        return failed(
            LABELS_NAME,
            f"the project's datasets have labels missing from hitl.labels: {unknown}; ingest rejects "
            "images the model labels with them",
            "add them to hitl.labels",
        )
    never = sorted(configured - model_labels)
    if never:
        return warned(
            LABELS_NAME,
            f"hitl.labels has labels the project's datasets lack: {never}; the model never predicts them",
            "drop them from hitl.labels, or train a version that knows them",
        )
    return passed(LABELS_NAME, f"the project's {len(model_labels)} labels are the configured ones")
