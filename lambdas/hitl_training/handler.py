"""Lambda entry points of the retraining workflow: one function per state machine, dispatching on
the `step` its task states send. Each step parses its input and calls `run_steps` / `rollout_steps`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.publisher import EventPublisher
from hitl_training.rollout_steps import Rollout
from hitl_training.run_files import RunFiles
from hitl_training.run_steps import TrainingRun
from hitl_training.settings import TrainingSettings

logger = Logger()


@cache
def settings() -> TrainingSettings:
    return TrainingSettings.from_env(os.environ)


@cache
def training_run() -> TrainingRun:
    config = settings()
    rekognition = boto3.client("rekognition") if config.mode == "rekognition-custom-labels" else None
    sagemaker = boto3.client("sagemaker") if config.mode == "model-artifact" else None
    return TrainingRun(
        config,
        RunFiles(boto3.client("s3"), config.training_bucket),
        EventPublisher(boto3.client("events"), config.event_bus_name),
        rekognition,
        sagemaker,
    )


@cache
def rollout() -> Rollout:
    config = settings()
    return Rollout(
        config,
        boto3.client("sagemaker"),
        RunFiles(boto3.client("s3"), config.training_bucket),
        EventPublisher(boto3.client("events"), config.event_bus_name),
        boto3.client("ssm"),
    )


def _training_step(event: dict[str, Any]) -> dict[str, Any]:
    step = event["step"]
    if step == "build":
        return training_run().build(event["execution"])
    if step == "evaluate":
        return training_run().evaluate(event["run"], event["trained"])
    if step == "completed":
        return training_run().completed(
            event["run"], event["evaluation"], event.get("package"), event["trained"]
        )
    if step == "failed":
        return training_run().failed(event.get("run"), event["failed_step"], event.get("error") or {})
    raise ValueError(f"unknown training step {step!r}")


def _rollout_step(event: dict[str, Any]) -> dict[str, Any]:
    step = event["step"]
    if step == "prepare":
        return rollout().prepare(event["package_arn"], event["execution"])
    if step == "settle":
        return rollout().settle(event["prepared"])
    if step == "failed":
        return training_run().failed(None, event["failed_step"], event.get("error") or {})
    raise ValueError(f"unknown rollout step {step!r}")


@logger.inject_lambda_context
def training_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _training_step(event)


@logger.inject_lambda_context
def rollout_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _rollout_step(event)
