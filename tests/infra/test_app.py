"""The CDK entry point as ops run it: real bundling, cdk-nag, a clean template; bad config exits clearly."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import App
from cdk_scenarios import CDK_JSON, PROJECT_ROOT, resources

from infra.review_service import REVIEW_APP_DIR

pytestmark = pytest.mark.xdist_group("cdk-app")


def load_app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cdk_app", PROJECT_ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`app.py` run the way the CDK CLI runs it (context from cdk.json), bundling for real."""
    outdir = tmp_path_factory.mktemp("real-cdk.out")
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(CDK_JSON["context"]),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return outdir, json.loads((outdir / "HitlPipeline.template.json").read_text())


def asset_of(outdir: Path, template: dict[str, Any], handler: str) -> Path:
    """The bundled folder of the function with this handler (via the stack's asset manifest)."""
    (function,) = [f for f in resources(template, "AWS::Lambda::Function").values()
                   if f["Properties"].get("Handler") == handler]  # fmt: skip
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((outdir / "HitlPipeline.assets.json").read_text())
    return outdir / manifest["files"][asset_hash]["source"]["path"]


@pytest.mark.synth
def test_ingest_bundle_holds_its_code_and_arm64_wheels(real_synth) -> None:
    outdir, template = real_synth

    bundle = asset_of(outdir, template, "hitl_ingest.handler.lambda_handler")

    names = {p.name for p in bundle.iterdir()}
    assert {"hitl_core", "hitl_aws", "hitl_ingest", "PIL", "pydantic_core", "aws_lambda_powertools"} <= names
    assert "botocore" not in names and "boto3" not in names
    (extension,) = (bundle / "pydantic_core").glob("_pydantic_core*.so")
    assert "aarch64" in extension.name and "314" in extension.name


@pytest.mark.synth
@pytest.mark.parametrize(
    ("handler", "package"),
    [
        ("hitl_review.handler.lambda_handler", "hitl_review"),
        ("hitl_review_service.api.handler", "hitl_review_service"),
    ],
)
def test_review_bundles_hold_their_own_package(real_synth, handler: str, package: str) -> None:
    outdir, template = real_synth

    names = {p.name for p in asset_of(outdir, template, handler).iterdir()}

    assert {"hitl_core", "hitl_aws", package, "aws_lambda_powertools"} <= names
    assert "hitl_ingest" not in names and "PIL" not in names


@pytest.mark.synth
def test_real_synth_passes_cdk_nag_and_cfn_lint(real_synth) -> None:
    outdir, _ = real_synth
    report = json.loads((outdir / "validation-report.json").read_text())

    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--",
         str(outdir / "HitlPipeline.template.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert report["pluginReports"] == []
    assert lint.returncode == 0, lint.stdout


def test_bad_configuration_exits_naming_the_key(tmp_path: Path) -> None:
    context = {**CDK_JSON["context"], "hitl-deploy": {"alarm_email": "not-an-address"}}

    with pytest.raises(SystemExit) as exited:
        load_app_module().main(App(context=context, outdir=str(tmp_path)))

    assert "hitl-deploy: alarm_email" in str(exited.value.code)
    assert not list(tmp_path.iterdir())


def test_bad_pipeline_configuration_exits_with_the_config_error(tmp_path: Path) -> None:
    context = {**CDK_JSON["context"], "hitl": {**CDK_JSON["context"]["hitl"], "labels": []}}

    with pytest.raises(SystemExit) as exited:
        load_app_module().main(App(context=context, outdir=str(tmp_path)))

    assert "labels" in str(exited.value.code) and "hitl" in str(exited.value.code)


@pytest.mark.synth
def test_the_review_app_is_uploaded_beside_its_deploy_time_config(real_synth) -> None:
    outdir, template = real_synth
    (deployment,) = resources(template, "Custom::CDKBucketDeployment").values()
    manifest = json.loads((outdir / "HitlPipeline.assets.json").read_text())
    folders = [outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]
               for key in deployment["Properties"]["SourceObjectKeys"]]  # fmt: skip

    site, config = folders
    assert sorted(p.name for p in site.iterdir()) == sorted(
        p.name for p in REVIEW_APP_DIR.iterdir() if p.name != "config.json"
    )
    assert "editor.js" in {p.name for p in site.iterdir()}  # the one editor, shared with the local page
    assert [p.name for p in config.iterdir()] == ["config.json"]
