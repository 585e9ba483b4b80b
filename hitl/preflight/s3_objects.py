"""The S3 objects the configuration names: the model artifact and the base training manifest
(S3 HeadBucket, HeadObject). SageMaker reads model data only from a bucket in the endpoint's region."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from infra.deploy_config import ModelArtifactEndpoint

ARTIFACT_NAME = "model-artifact"
BASE_MANIFEST_NAME = "base-manifest"


def _check_object(
    name: str, uri: str, setting: str, deployment: Deployment, clients: ClientFactory
) -> CheckResult:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = clients("s3")
    try:
        region = s3.head_bucket(Bucket=bucket).get("BucketRegion")
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchBucket"):
            return failed(name, f"bucket {bucket} does not exist", f"fix {setting}")
        if error_code(err) == "403":
            return warned(
                name,
                f"bucket {bucket} exists but this identity may not read it "
                "(another account's, or no permission)",
                f"check that {uri} exists and that its bucket policy lets this account read it",
            )
        raise
    if region is not None and region != deployment.region:
        return failed(
            name,
            f"bucket {bucket} is in {region}, the deployment in {deployment.region}",
            f"copy the object to a bucket in {deployment.region} and update {setting}",
        )
    try:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchKey"):
            return failed(name, f"{uri} does not exist", f"upload it, or fix {setting}")
        if error_code(err) == "403":
            return warned(name, f"{uri} cannot be read by this identity", f"check that {uri} exists")
        raise
    return passed(name, f"{uri} exists ({size:,} bytes, bucket in {region or deployment.region})")


def check_model_artifact(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, ModelArtifactEndpoint):
        return None
    setting = "hitl-deploy.endpoint.model_data_url"
    return _check_object(ARTIFACT_NAME, endpoint.model_data_url, setting, deployment, clients)


def check_base_manifest(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    uri = deployment.pipeline.training.base_manifest
    if uri is None:
        return None
    return _check_object(BASE_MANIFEST_NAME, uri, "hitl.training.base_manifest", deployment, clients)
