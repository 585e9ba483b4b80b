"""The deployed-model guard: a deployment that would serve an older model fails before the endpoint."""

from __future__ import annotations

import json

import boto3
import pytest
from review.builders import REGION

from hitl_training import model_guard

PARAMETER = "/hitl/detector/deployed-model"


@pytest.fixture
def guard(aws, monkeypatch):
    monkeypatch.setattr(model_guard, "_client", boto3.client("ssm", region_name=REGION))
    return model_guard


def event(kind: str, model: str) -> dict:
    return {"RequestType": kind, "ResourceProperties": {"ModelDataUrl": model, "ParameterName": PARAMETER}}


def test_before_any_rollout_every_model_passes(guard):
    assert guard.on_event(event("Create", "s3://m/1.tar.gz"))["PhysicalResourceId"]


def test_the_deployed_model_passes_and_another_fails_naming_the_setting(guard):
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=json.dumps({"model_data_uri": "s3://m/2.tar.gz"}), Type="String"
    )
    guard.on_event(event("Update", "s3://m/2.tar.gz"))
    with pytest.raises(
        guard.OlderModelError, match=r"Set hitl-deploy.endpoint.model_data_url to s3://m/2.tar.gz"
    ):
        guard.on_event(event("Update", "s3://m/1.tar.gz"))
    guard.on_event(event("Delete", "s3://m/1.tar.gz"))
