"""The model artifact and base manifest in S3 (moto; Stubber for the 403 answers)."""

from __future__ import annotations

import boto3

from hitl.preflight.result import Status
from hitl.preflight.s3_objects import check_base_manifest, check_model_artifact

from .conftest import make_deployment, model_artifact


def stored(bucket: str, key: str, region: str = "us-east-1") -> None:
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 1234)


def test_an_artifact_in_the_deployment_region_passes(clients):
    stored("models-bucket", "detector/model.tar.gz")
    result = check_model_artifact(make_deployment(model_artifact()), clients)
    assert result.status is Status.PASS
    assert result.message == (
        "s3://models-bucket/detector/model.tar.gz exists (1,234 bytes, bucket in us-east-1)"
    )


def test_a_missing_bucket_fails(clients):
    result = check_model_artifact(make_deployment(model_artifact()), clients)
    assert (result.status, result.message) == (Status.FAIL, "bucket models-bucket does not exist")


def test_a_missing_object_fails(clients):
    stored("models-bucket", "detector/other.tar.gz")
    result = check_model_artifact(make_deployment(model_artifact()), clients)
    assert result.status is Status.FAIL
    assert result.message == "s3://models-bucket/detector/model.tar.gz does not exist"


def test_an_artifact_in_another_region_fails(clients):
    stored("models-bucket", "detector/model.tar.gz", region="eu-west-1")
    result = check_model_artifact(make_deployment(model_artifact()), clients)
    assert result.status is Status.FAIL
    assert "bucket models-bucket is in eu-west-1, the deployment in us-east-1" in result.message


def test_a_bucket_this_identity_may_not_read_warns(clients):
    clients.stub("s3").add_client_error(
        "head_bucket", service_error_code="403", service_message="Forbidden", http_status_code=403
    )
    result = check_model_artifact(make_deployment(model_artifact()), clients)
    assert result.status is Status.WARN
    assert "may not read it" in result.message


def test_an_object_this_identity_may_not_read_warns(clients):
    stubber = clients.stub("s3")
    stubber.add_response("head_bucket", {"BucketRegion": "us-east-1"}, {"Bucket": "models-bucket"})
    stubber.add_client_error("head_object", service_error_code="403", http_status_code=403)
    assert check_model_artifact(make_deployment(model_artifact()), clients).status is Status.WARN


def test_the_base_manifest_is_checked_where_configured(clients):
    stored("data-bucket", "base/train.manifest")
    pipeline = {"training": {"base_manifest": "s3://data-bucket/base/missing.manifest"}}
    result = check_base_manifest(make_deployment(pipeline=pipeline), clients)
    assert (result.name, result.status) == ("base-manifest", Status.FAIL)
    assert "hitl.training.base_manifest" in result.fix
    assert check_base_manifest(make_deployment(), clients) is None
    assert check_model_artifact(make_deployment(), clients) is None
