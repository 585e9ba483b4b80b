"""`hitl train`: what a retraining run would use and send (`plan`, no AWS call but reading s3://
manifests), and starting the deployed retraining workflow on demand (`start`)."""

from __future__ import annotations

import json

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError

from hitl.commands.manifest_merge import read_manifest
from hitl.commands.options import config_option, load_deploy_settings, load_pipeline_config
from hitl_core.manifest import parse_lines
from hitl_core.training_dataset import DatasetError, SourceManifest
from hitl_core.training_plan import RunLayout, configured_dataset, describe_plan, plan_run, run_id_for

STACK_OUTPUT = "TrainingStateMachineArn"
PLACEHOLDER_ROLE = "arn:aws:iam::111122223333:role/TRAINING-ROLE"


@click.group()
def train() -> None:
    """Retraining on the reviewed answers."""


@train.command()
@click.argument("manifests", nargs=-1, required=True)
@config_option
@click.option("--base", help="Base manifest (default: training.base_manifest); path or s3://.")
@click.option("--previous", help="The last run's folded manifest, to count what changed; path or s3://.")
@click.option("--mode", help="Detector mode (default: hitl-deploy.endpoint.mode of the cdk.json).")
@click.option(
    "--model-data-url", help="Current model artifact (default: hitl-deploy.endpoint.model_data_url)."
)
@click.option("--region", default="us-east-1", show_default=True, help="Region of the training job.")
@click.option("--bucket", default="TRAINING-BUCKET", show_default=True, help="The training-data bucket.")
@click.option("--role-arn", default=PLACEHOLDER_ROLE, show_default=True, help="The training job's role.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the statistics and request as one JSON document."
)
def plan(
    manifests: tuple[str, ...],
    config_path: str,
    base: str | None,
    previous: str | None,
    mode: str | None,
    model_data_url: str | None,
    region: str,
    bucket: str,
    role_arn: str,
    as_json: bool,
) -> None:
    """Print the dataset statistics and the exact training request a run on MANIFESTS would send.

    MANIFESTS are sealed manifests, oldest first (local paths or s3:// URIs). Nothing is
    written and SageMaker is not called.
    """
    config = load_pipeline_config(config_path)
    deploy = load_deploy_settings(config_path)
    mode = mode or deploy.endpoint.mode
    model_data_url = model_data_url or getattr(deploy.endpoint, "model_data_url", None)
    base = base or config.training.base_manifest
    try:
        dataset = configured_dataset(
            config,
            base=SourceManifest(base, read_manifest(base)) if base else None,
            sealed=[SourceManifest(uri, read_manifest(uri)) for uri in manifests],
            previous=parse_lines(read_manifest(previous)) if previous else None,
        )
    except DatasetError as err:
        raise click.ClickException(str(err)) from None
    layout = RunLayout(bucket, config.prefixes.training_runs, run_id_for(dataset, config))
    result = plan_run(
        dataset=dataset,
        config=config,
        layout=layout,
        mode=mode,  # type: ignore[arg-type]
        name_prefix=deploy.name_prefix,
        region=region,
        role_arn=role_arn,
        current_model_uri=model_data_url,
    )
    stats = dataset.stats(config.labels)
    if as_json:
        click.echo(json.dumps({"run_id": layout.run_id, "stats": stats, "plan": result.to_dict()}, indent=2))
        return
    for line in describe_plan(result, stats):
        click.echo(line)
    if result.request is not None:
        operation = "CreateTrainingJob" if mode == "model-artifact" else "CreateProjectVersion"
        click.echo(f"{operation} request (run {layout.run_id}):")
        click.echo(json.dumps(result.request, indent=2))


@train.command()
@click.option("--state-machine-arn", help=f"The workflow (default: the stack's {STACK_OUTPUT} output).")
@click.option("--stack-name", default="HitlPipeline", show_default=True, help="The deployed stack.")
def start(state_machine_arn: str | None, stack_name: str) -> None:
    """Start the deployed retraining workflow now (as a sealed manifest would)."""
    try:
        if state_machine_arn is None:
            stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
            if STACK_OUTPUT not in outputs:
                raise click.ClickException(f"stack {stack_name} has no {STACK_OUTPUT} output")
            state_machine_arn = outputs[STACK_OUTPUT]
        execution = boto3.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, input=json.dumps({"source": "hitl train start"})
        )
    except (ClientError, BotoCoreError) as err:
        raise click.ClickException(f"cannot start the retraining workflow: {err}") from None
    click.echo(f"started {execution['executionArn']}")
    click.echo("Follow it in the Step Functions console, or on the bus: Training Dataset Built, Started, ...")
