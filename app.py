#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` / `cdk deploy` read cdk.json's context `hitl` and `hitl-deploy`."""

from __future__ import annotations

import sys

from aws_cdk import App

from hitl_core.config import ConfigError
from infra.deploy_config import DeployConfigError
from infra.stack import build_app


def main(app: App | None = None) -> None:
    """Build and synthesize the app; a configuration error exits with its message, naming the key."""
    app = app or App()
    try:
        build_app(app)
    except (ConfigError, DeployConfigError) as err:
        sys.exit(f"configuration error: {err}")
    app.synth()


if __name__ == "__main__":
    main()
