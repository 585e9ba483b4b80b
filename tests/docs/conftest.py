"""Fixtures of the docs tests: a folder per example, the local stack, the stacks' alarms."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk starts its Node.js kernel: the Makefile sets it too.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from e2e.e2e_helpers import MODEL_DIR

from docs.doc_blocks import PROJECT_ROOT
from hitl.local.sample_photos import skimage_data_dir
from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig
from infra.deploy_config import load_deploy_config
from infra.stack import HitlStack


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """An empty folder with the project's `.venv` and `schemas/` (linked), `cdk.json` and a `photo.jpg`."""
    for name in (".venv", "schemas"):
        (tmp_path / name).symlink_to(PROJECT_ROOT / name)
    shutil.copy(PROJECT_ROOT / "cdk.json", tmp_path / "cdk.json")
    shutil.copy(skimage_data_dir() / "rocket.jpg", tmp_path / "photo.jpg")
    return tmp_path


@pytest.fixture(scope="session")
def docs_stack(tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig) -> Iterator[Path]:
    """The local stack (built-in review) that `run: stack` examples share; yields its state folder."""
    state = tmp_path_factory.mktemp("docs-stack") / "state"
    stack = LocalStack(
        StackSettings(config=pipeline_config, state_dir=state, model_dir=MODEL_DIR), on_line=print
    )
    stack.start()
    yield state
    stack.stop()


@dataclass(frozen=True)
class SynthesizedStack:
    """One synthesized stack: its template and its alarms, by construct id, with the metrics they read."""

    template: dict[str, Any]
    alarms: dict[str, list[str]]


@pytest.fixture(scope="session")
def stacks_by_backend(
    tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig
) -> dict[str, SynthesizedStack]:
    """The repository's deployment settings with each review backend, synthesized (no bundling)."""
    cdk_json = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    deploy = cdk_json["context"]["hitl-deploy"]
    context = {key: value for key, value in cdk_json["context"].items() if key.startswith("@aws-cdk")}
    app = App(
        outdir=str(tmp_path_factory.mktemp("cdk.out")), context={**context, "aws:cdk:bundling-stacks": []}
    )
    stacks = {
        backend: HitlStack(
            app,
            backend.capitalize(),
            config=pipeline_config,
            deploy=load_deploy_config({**deploy, "review": {**deploy.get("review", {}), "backend": backend}}),
        )
        for backend in ("builtin", "a2i")
    }
    assembly = app.synth()
    return {
        backend: _synthesized(stack, assembly.get_stack_by_name(stack.stack_name).template)
        for backend, stack in stacks.items()
    }


def _synthesized(stack: Stack, template: dict[str, Any]) -> SynthesizedStack:
    alarms: dict[str, list[str]] = {}
    for construct in stack.node.find_all():
        if isinstance(construct, cloudwatch.CfnAlarm):
            # an L2 alarm's CfnAlarm is its child "Resource"; the id worth naming is the L2's
            owner = construct.node.scope if construct.node.id == "Resource" else construct
            alarm_id = owner.node.id
            assert alarm_id not in alarms, f"two alarms share the id {alarm_id}: their runbooks would too"
            properties = template["Resources"][stack.resolve(stack.get_logical_id(construct))]["Properties"]
            alarms[alarm_id] = _metric_names(properties)
    in_template = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(in_template) == len(alarms), "an alarm in the template was not found in the construct tree"
    return SynthesizedStack(template, alarms)


def _metric_names(properties: dict[str, Any]) -> list[str]:
    if "MetricName" in properties:
        return [properties["MetricName"]]
    return [
        query["MetricStat"]["Metric"]["MetricName"]
        for query in properties.get("Metrics", [])
        if "MetricStat" in query
    ]
