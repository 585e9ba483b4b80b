"""What the checks compare the account with: both configurations, the account and region, and the
CDK bootstrap version the synthesized app requires."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitl_core.config import PipelineConfig
from infra.deploy_config import DeployConfig

# CDK's DefaultStackSynthesizer: the qualifier and version parameter of `cdk bootstrap` without options.
DEFAULT_QUALIFIER = "hnb659fds"
QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"
STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"


@dataclass(frozen=True)
class BootstrapRequirement:
    """The SSM parameter holding the bootstrap version, and the least version the app deploys with
    (None when no synthesized app was found to read it from)."""

    parameter: str
    version: int | None
    assembly: Path | None = None


@dataclass(frozen=True)
class Deployment:
    pipeline: PipelineConfig
    deploy: DeployConfig
    region: str
    account: str
    bootstrap: BootstrapRequirement


def version_parameter(qualifier: str) -> str:
    return f"/cdk-bootstrap/{qualifier}/version"


def bootstrap_requirement(assembly: Path, context: Mapping[str, Any]) -> BootstrapRequirement:
    """From a cloud assembly's manifest.json (`cdk synth` output) when there is one, else the
    parameter of the context's bootstrap qualifier with the required version unknown."""
    manifest_path = assembly / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        qualifier = str(context.get(QUALIFIER_CONTEXT_KEY) or DEFAULT_QUALIFIER)
        return BootstrapRequirement(version_parameter(qualifier), None)
    needs: list[tuple[int, str]] = []
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") not in (STACK_ARTIFACT, ASSET_MANIFEST_ARTIFACT):
            continue
        properties = artifact.get("properties", {})
        version = properties.get("requiresBootstrapStackVersion")
        parameter = properties.get("bootstrapStackVersionSsmParameter")
        if isinstance(version, int) and isinstance(parameter, str):
            needs.append((version, parameter))
    if not needs:
        qualifier = str(context.get(QUALIFIER_CONTEXT_KEY) or DEFAULT_QUALIFIER)
        return BootstrapRequirement(version_parameter(qualifier), None, assembly)
    version, parameter = max(needs)
    return BootstrapRequirement(parameter, version, assembly)
