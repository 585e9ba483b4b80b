"""A moto world for the preflight checks, with botocore Stubbers for the APIs moto lacks, and
deployments built from the project's own cdk.json with a few settings changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from hitl.preflight.clients import guard
from hitl.preflight.deployment import BootstrapRequirement, Deployment
from hitl_core.config import load_config
from infra.deploy_config import load_deploy_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"  # the tests' AWS_DEFAULT_REGION
ACCOUNT = "123456789012"  # moto's account
CONTEXT = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
BOOTSTRAP = BootstrapRequirement("/cdk-bootstrap/hnb659fds/version", 6)
ARTIFACT = "s3://models-bucket/detector/model.tar.gz"


class WorldClients:
    """Guarded clients of the moto world (as the command makes them); `stub(service)` puts a
    Stubber in front of one, and `operations` records every operation the checks called."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.operations: list[str] = []
        self._clients: dict[str, Any] = {}
        self._stubbers: dict[str, Stubber] = {}

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = f"{service}@{region or self.region}"
        if key not in self._clients:
            client = guard(boto3.client(service, region_name=region or self.region))
            # Recorded before the guard sees the call, so a refused write is recorded too.
            client.meta.events.register("provide-client-params.*.*", self._record)
            self._clients[key] = client
        return self._clients[key]

    def stub(self, service: str, region: str | None = None) -> Stubber:
        key = f"{service}@{region or self.region}"
        if key not in self._stubbers:
            stubber = Stubber(self(service, region))
            stubber.activate()
            self._stubbers[key] = stubber
        return self._stubbers[key]

    def assert_all_stubs_used(self) -> None:
        for stubber in self._stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def clients() -> Iterator[WorldClients]:
    with mock_aws():
        world = WorldClients()
        yield world
        world.assert_all_stubs_used()


def make_deployment(
    deploy: dict[str, Any] | None = None,
    pipeline: dict[str, Any] | None = None,
    region: str = REGION,
    bootstrap: BootstrapRequirement = BOOTSTRAP,
) -> Deployment:
    """The project's cdk.json settings with `deploy` / `pipeline` keys replaced."""
    return Deployment(
        pipeline=load_config(CONTEXT["hitl"] | (pipeline or {})),
        deploy=load_deploy_config(CONTEXT["hitl-deploy"] | (deploy or {})),
        region=region,
        account=ACCOUNT,
        bootstrap=bootstrap,
    )


def model_artifact(**variant: Any) -> dict[str, Any]:
    """hitl-deploy settings of a hosted model artifact."""
    endpoint: dict[str, Any] = {"mode": "model-artifact", "model_data_url": ARTIFACT}
    if variant:
        endpoint["variant"] = {"kind": "instance"} | variant
    return {"endpoint": endpoint}


def a2i(**work_team: Any) -> dict[str, Any]:
    """hitl-deploy settings of the A2I backend with a private (or the given) work team."""
    return {"review": {"backend": "a2i"}, "work_team": {"mode": "private", **work_team}}
