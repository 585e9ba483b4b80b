"""What the quality-report function is deployed with: the configuration, the bucket and the bus."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hitl_aws.settings import EVENT_BUS_NAME, TRAINING_BUCKET
from hitl_core.config import ConfigError, PipelineConfig, config_from_env


@dataclass(frozen=True)
class QualitySettings:
    config: PipelineConfig
    event_bus_name: str
    training_bucket: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> QualitySettings:
        """Read and check the environment; ConfigError names what is missing."""
        missing = [name for name in (EVENT_BUS_NAME, TRAINING_BUCKET) if not environ.get(name)]
        if missing:
            raise ConfigError(f"environment variables not set: {', '.join(missing)}")
        return cls(config_from_env(environ), environ[EVENT_BUS_NAME], environ[TRAINING_BUCKET])
