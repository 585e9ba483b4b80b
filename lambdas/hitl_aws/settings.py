"""What a function is deployed with: the shared configuration and its resources' names.

The environment variable names here are the contract with the CDK pipeline construct and
the local stack's worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from hitl_core.config import ConfigError, PipelineConfig, config_from_env

EVENT_BUS_NAME = "EVENT_BUS_NAME"
TRAINING_BUCKET = "TRAINING_BUCKET"
FLOW_DEFINITION_ARN = "FLOW_DEFINITION_ARN"
FLOW_DEFINITION_ARN_PREFIX = "FLOW_DEFINITION_ARN_PREFIX"
ENDPOINT_NAME = "ENDPOINT_NAME"
REKOGNITION_PROJECT_VERSION_ARN = "REKOGNITION_PROJECT_VERSION_ARN"
REVIEW_BACKEND = "REVIEW_BACKEND"
REVIEW_TASKS_TABLE = "REVIEW_TASKS_TABLE"
REVIEW_SERVICE_NAME = "REVIEW_SERVICE_NAME"
PENDING_LOOPS_TABLE = "PENDING_LOOPS_TABLE"
"""The a2i backend's budget: the table of waiting images and counters (`hitl_core.pending_loops`)."""

ReviewBackend = Literal["builtin", "a2i"]
BACKEND_VARIABLES: dict[str, tuple[str, ...]] = {
    "builtin": (REVIEW_SERVICE_NAME,),
    "a2i": (FLOW_DEFINITION_ARN,),
}
"""What every function needs for its backend (ingest's built-in starter also needs REVIEW_TASKS_TABLE)."""


def review_backend_from_env(environ: Mapping[str, str]) -> ReviewBackend:
    """REVIEW_BACKEND if set; else `builtin` if REVIEW_TASKS_TABLE is set, `a2i` if FLOW_DEFINITION_ARN is."""
    chosen = environ.get(REVIEW_BACKEND)
    if chosen:
        if chosen not in BACKEND_VARIABLES:
            raise ConfigError(f"{REVIEW_BACKEND} must be builtin or a2i, got {chosen!r}")
        return "builtin" if chosen == "builtin" else "a2i"
    if environ.get(REVIEW_TASKS_TABLE):
        return "builtin"
    if environ.get(FLOW_DEFINITION_ARN):
        return "a2i"
    raise ConfigError(
        f"environment variables not set: {REVIEW_BACKEND} (builtin, with {REVIEW_SERVICE_NAME} and for "
        f"ingest {REVIEW_TASKS_TABLE}; or a2i, with {FLOW_DEFINITION_ARN})"
    )


@dataclass(frozen=True)
class FunctionSettings:
    config: PipelineConfig
    event_bus_name: str
    training_bucket: str
    flow_definition_arn: str | None = None
    flow_definition_arn_prefix: str | None = None
    """What this deployment's flow definitions' ARNs start with (default: the current ARN only)."""
    endpoint_name: str | None = None
    rekognition_project_version_arn: str | None = None
    review_backend: ReviewBackend = "a2i"
    review_tasks_table: str | None = None
    review_service_name: str | None = None
    pending_loops_table: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FunctionSettings:
        """Read and check the environment; ConfigError names what is missing.

        The review backend's variables are required for the backend chosen (`review_backend_from_env`);
        those of the other backend are read when set (review-complete accepts both during a move).
        """
        backend = review_backend_from_env(environ)
        required = (EVENT_BUS_NAME, TRAINING_BUCKET, *BACKEND_VARIABLES[backend])
        missing = [n for n in required if not environ.get(n)]
        if missing:
            raise ConfigError(f"environment variables not set: {', '.join(missing)}")
        return cls(
            config=config_from_env(environ),
            event_bus_name=environ[EVENT_BUS_NAME],
            training_bucket=environ[TRAINING_BUCKET],
            flow_definition_arn=environ.get(FLOW_DEFINITION_ARN) or None,
            flow_definition_arn_prefix=environ.get(FLOW_DEFINITION_ARN_PREFIX) or None,
            endpoint_name=environ.get(ENDPOINT_NAME) or None,
            rekognition_project_version_arn=environ.get(REKOGNITION_PROJECT_VERSION_ARN) or None,
            review_backend=backend,
            review_tasks_table=environ.get(REVIEW_TASKS_TABLE) or None,
            review_service_name=environ.get(REVIEW_SERVICE_NAME) or None,
            pending_loops_table=environ.get(PENDING_LOOPS_TABLE) or None,
        )
