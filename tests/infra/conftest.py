"""One CDK app with a stack per deployment scenario, synthesized once per session (synth is slow).

Bundling is skipped here (`aws:cdk:bundling-stacks` = []); `test_app.py` synthesizes the real
app with real bundling once. cdk-nag runs on this app: a finding fails `nag_failure`'s test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk starts its Node.js kernel: the Makefile sets it too.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks
from cdk_scenarios import CDK_JSON, REKOGNITION_PROJECT, SCENARIOS

from hitl_core.config import SERVERLESS_PAYLOAD_LIMIT, PipelineConfig, ReviewGold
from infra.deploy_config import load_deploy_config
from infra.stack import HitlStack

A2I_GOLD_MANIFEST = "s3://hitl-gold-test/team/gold.jsonl"
"""The A2i scenario's gold manifest: its images lie under s3://hitl-gold-test/team/."""


@dataclass
class Synthesized:
    """The synthesized scenarios: templates by scenario, the app's output folder, cdk-nag's verdict."""

    outdir: Path
    stacks: dict[str, HitlStack]
    templates: dict[str, dict[str, Any]]
    nag_failure: str | None


def scenario_config(base: PipelineConfig, scenario: str) -> PipelineConfig:
    """The pipeline settings each detector needs: 4 MB payloads when serverless, each model's adapter;
    the built-in service and A2I accepting images over budget."""
    if scenario == "Marketplace":
        return base.model_copy(update={"adapter": "gluoncv"})
    if scenario == "Serverless":
        return base.model_copy(update={"endpoint_payload_limit": SERVERLESS_PAYLOAD_LIMIT})
    if scenario == "Rekognition":
        training = base.training.model_copy(update={"rekognition_project_arn": REKOGNITION_PROJECT})
        return base.model_copy(update={"adapter": "rekognition-custom-labels", "training": training})
    if scenario == "A2i":  # the a2i budget and gold loops: the pending-loop table, the loop starter, the
        # gold manifest and images (their roles are tested)
        budget = base.review.budget.model_copy(
            update={"per_hour": 50, "per_day": 400, "when_spent": "accept"}
        )
        gold = ReviewGold(share=0.5, manifest=A2I_GOLD_MANIFEST)
        return base.model_copy(
            update={"review": base.review.model_copy(update={"budget": budget, "gold": gold})}
        )
    if scenario == "Builtin":  # ingest reads the budget's counters (its role's GetItem is tested)
        budget = base.review.budget.model_copy(update={"per_hour": 50, "when_spent": "accept"})
        return base.model_copy(update={"review": base.review.model_copy(update={"budget": budget})})
    return base


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {key: value for key, value in CDK_JSON["context"].items() if key.startswith("@aws-cdk")}
    app = App(outdir=str(outdir), context={**context, "aws:cdk:bundling-stacks": []})
    stacks = {}
    for scenario, settings in SCENARIOS.items():
        config = scenario_config(pipeline_config, scenario)
        stacks[scenario] = HitlStack(app, scenario, config=config, deploy=load_deploy_config(settings))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    nag_failure = None
    try:
        app.synth()
    except RuntimeError as err:  # cdk-nag findings stop synthesis after the templates are written
        nag_failure = str(err)
        report = outdir / "validation-report.json"
        if report.exists():
            nag_failure += "\n" + report.read_text()
    templates = {s: json.loads((outdir / f"{s}.template.json").read_text()) for s in SCENARIOS}
    return Synthesized(outdir, stacks, templates, nag_failure)
