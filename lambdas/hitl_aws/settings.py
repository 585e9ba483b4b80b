"""What a function is deployed with: the shared configuration and its resources' names.

The environment variable names here are the contract with the CDK pipeline construct and
the local stack's worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hitl_core.config import ConfigError, PipelineConfig, config_from_env

EVENT_BUS_NAME = "EVENT_BUS_NAME"
TRAINING_BUCKET = "TRAINING_BUCKET"
FLOW_DEFINITION_ARN = "FLOW_DEFINITION_ARN"
ENDPOINT_NAME = "ENDPOINT_NAME"
REKOGNITION_PROJECT_VERSION_ARN = "REKOGNITION_PROJECT_VERSION_ARN"


@dataclass(frozen=True)
class FunctionSettings:
    config: PipelineConfig
    event_bus_name: str
    training_bucket: str
    flow_definition_arn: str
    endpoint_name: str | None = None
    rekognition_project_version_arn: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FunctionSettings:
        """Read and check the environment; ConfigError names what is missing."""
        missing = [n for n in (EVENT_BUS_NAME, TRAINING_BUCKET, FLOW_DEFINITION_ARN) if not environ.get(n)]
        if missing:
            raise ConfigError(f"environment variables not set: {', '.join(missing)}")
        return cls(
            config=config_from_env(environ),
            event_bus_name=environ[EVENT_BUS_NAME],
            training_bucket=environ[TRAINING_BUCKET],
            flow_definition_arn=environ[FLOW_DEFINITION_ARN],
            endpoint_name=environ.get(ENDPOINT_NAME) or None,
            rekognition_project_version_arn=environ.get(REKOGNITION_PROJECT_VERSION_ARN) or None,
        )
