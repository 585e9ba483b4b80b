"""What the training steps are deployed with (the contract with `infra/training.py` and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hitl_core.config import ConfigError, PipelineConfig, config_from_env
from hitl_core.training_plan import DetectorMode

_REQUIRED = ("EVENT_BUS_NAME", "TRAINING_BUCKET", "DETECTOR_MODE", "NAME_PREFIX")
_MODES = ("model-artifact", "rekognition-custom-labels", "marketplace-model-package", "existing-endpoint")


@dataclass(frozen=True)
class TrainingSettings:
    config: PipelineConfig
    event_bus_name: str
    training_bucket: str
    mode: DetectorMode
    name_prefix: str
    region: str
    training_role_arn: str = ""
    configured_model_uri: str | None = None
    endpoint_name: str | None = None
    rekognition_project_version_arn: str | None = None
    rollback_alarms: tuple[str, ...] = ()
    model_role_arn: str = ""
    deployed_model_parameter: str | None = None
    network_isolation: bool = False
    """EnableNetworkIsolation of the endpoint's model (infra/model_endpoint.py); rollouts match it."""
    image_locations: tuple[str, ...] = ()
    """The S3 prefixes a training job may read images from (infra/training.py grants them)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TrainingSettings:
        """Read and check the environment; ConfigError names what is missing."""
        missing = [name for name in _REQUIRED if not environ.get(name)]
        if missing:
            raise ConfigError(f"environment variables not set: {', '.join(missing)}")
        mode = environ["DETECTOR_MODE"]
        if mode not in _MODES:
            raise ConfigError(f"DETECTOR_MODE {mode!r} is not one of {', '.join(_MODES)}")
        return cls(
            config=config_from_env(environ),
            event_bus_name=environ["EVENT_BUS_NAME"],
            training_bucket=environ["TRAINING_BUCKET"],
            mode=mode,  # type: ignore[arg-type]
            name_prefix=environ["NAME_PREFIX"],
            region=environ.get("AWS_REGION", "us-east-1"),
            training_role_arn=environ.get("TRAINING_ROLE_ARN", ""),
            configured_model_uri=environ.get("MODEL_DATA_URL") or None,
            endpoint_name=environ.get("ENDPOINT_NAME") or None,
            rekognition_project_version_arn=environ.get("REKOGNITION_PROJECT_VERSION_ARN") or None,
            rollback_alarms=tuple(a for a in environ.get("ROLLBACK_ALARMS", "").split(",") if a),
            model_role_arn=environ.get("MODEL_ROLE_ARN", ""),
            deployed_model_parameter=environ.get("DEPLOYED_MODEL_PARAMETER") or None,
            network_isolation=environ.get("NETWORK_ISOLATION") == "true",
            image_locations=tuple(p for p in environ.get("IMAGE_LOCATIONS", "").split(",") if p),
        )
