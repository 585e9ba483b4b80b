"""`hitl preflight`: read-only checks of the AWS account against cdk.json's settings, before `cdk deploy`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import boto3
import click
from botocore.exceptions import BotoCoreError

from hitl.commands.options import cdk_context, config_option, load_deploy_settings, load_pipeline_config
from hitl.preflight.clients import ClientFactory, SessionClients
from hitl.preflight.deployment import bootstrap_requirement
from hitl.preflight.result import CheckResult, Status
from hitl.preflight.runner import exit_code, run_preflight

LABELS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def session_clients(profile: str | None, region: str | None) -> tuple[ClientFactory, str | None]:
    """Clients of the operator's usual boto3 session, and its region."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as err:
        raise click.ClickException(str(err)) from None
    return SessionClients(session), session.region_name


def format_line(result: CheckResult, width: int) -> str:
    line = f"{LABELS[result.status]}  {result.name.ljust(width)}  {result.message}"
    return f"{line}  -> fix: {result.fix}" if result.fix else line


def summary(results: list[CheckResult]) -> str:
    counts = Counter(result.status for result in results)
    return "preflight: " + ", ".join(f"{counts[status]} {status}" for status in Status)


@click.command()
@config_option
@click.option(
    "--profile", help="AWS profile of the deploying identity (default: the usual credential chain)."
)
@click.option("--region", help="Region to deploy to (default: the profile's or AWS_DEFAULT_REGION).")
@click.option(
    "--assembly",
    default="cdk.out",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Synthesized app (`make synth`), read for the CDK bootstrap version it requires.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on a warning too, not only on a failure.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
def preflight(
    config_path: str, profile: str | None, region: str | None, assembly: Path, strict: bool, as_json: bool
) -> None:
    """Check the account and region before `cdk deploy`, with read-only calls only.

    One line per check: PASS, WARN (could not be confirmed, or works with a catch) or FAIL (the
    deploy, or the pipeline after it, would fail), each WARN and FAIL with its fix. Exit code 0
    when nothing failed, 1 when something failed (with --strict: or warned).
    """
    pipeline = load_pipeline_config(config_path)
    deploy = load_deploy_settings(config_path)
    needs = bootstrap_requirement(assembly, cdk_context(config_path))
    clients, region = session_clients(profile, region)
    results = run_preflight(pipeline, deploy, needs, region, clients)
    code = exit_code(results, strict)
    if as_json:
        document = {"results": [result.as_dict() for result in results], "exit_code": code}
        click.echo(json.dumps(document, indent=2))
    else:
        width = max(len(result.name) for result in results)
        for result in results:
            click.echo(format_line(result, width))
        click.echo(summary(results))
    raise SystemExit(code)
