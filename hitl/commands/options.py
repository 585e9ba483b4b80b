"""Options and loaders shared by several sub-commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from hitl_core.config import ConfigError, PipelineConfig, config_from_file
from hitl_core.routing import PRESETS, RoutingPolicy, preset_policy
from infra.deploy_config import CONTEXT_KEY as DEPLOY_CONTEXT_KEY
from infra.deploy_config import DeployConfig, DeployConfigError, load_deploy_config

DEFAULT_CONFIG = "cdk.json"

config_option = click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="JSON configuration, or a cdk.json holding it under context 'hitl'.",
)


def load_pipeline_config(path: str) -> PipelineConfig:
    """The configuration file, or a clean CLI error naming the bad key."""
    try:
        return config_from_file(path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


def cdk_context(path: str) -> dict[str, Any]:
    """The CDK context of a cdk.json ({} for a bare configuration file, or one that cannot be read)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    context = data.get("context") if isinstance(data, dict) else None
    return context if isinstance(context, dict) else {}


def load_deploy_settings(path: str) -> DeployConfig:
    """The `hitl-deploy` context of a cdk.json (defaults without one), or a CLI error naming the bad key."""
    try:
        return load_deploy_config(cdk_context(path).get(DEPLOY_CONTEXT_KEY))
    except DeployConfigError as err:
        raise click.ClickException(str(err)) from None


def read_json(path: str, what: str) -> Any:
    """A JSON file's content, or a clean CLI error saying which file and why."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as err:
        raise click.ClickException(f"cannot read {what} {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise click.ClickException(f"{what} {path} is not JSON: {err.msg} at line {err.lineno}") from None


def load_policy(spec: str) -> RoutingPolicy:
    """A preset name (optionally `name+sampling=5`) or a policy JSON file."""
    name, _, sampling = spec.partition("+sampling=")
    if name in PRESETS:
        try:
            return preset_policy(name, float(sampling) if sampling else None)
        except ValueError as err:
            raise click.ClickException(f"policy {spec}: {err}") from None
    try:
        return RoutingPolicy.model_validate(read_json(spec, "policy"))
    except ValidationError as err:
        raise click.ClickException(f"policy {spec} is not valid:\n{err}") from None
