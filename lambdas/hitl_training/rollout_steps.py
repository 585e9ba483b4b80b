"""The rollout's own steps: turn an approved model package into the three requests that update the
endpoint (model, endpoint config copied from the current one, blue/green update), then settle
the outcome: deployed (record the model so `cdk deploy` keeps it) or rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hitl_aws.publisher import EventPublisher
from hitl_core.events import DeploymentRolledBack, ModelDeployed
from hitl_core.training_plan import RunLayout
from hitl_core.training_requests import (
    endpoint_config_request,
    model_request,
    resource_name,
    update_endpoint_request,
)
from hitl_training.run_files import RunFiles
from hitl_training.settings import TrainingSettings

_UPDATING = {"Updating", "SystemUpdating", "Creating", "RollingBack"}


@dataclass
class Rollout:
    settings: TrainingSettings
    sagemaker: Any
    files: RunFiles
    publisher: EventPublisher
    ssm: Any = None

    def prepare(self, package_arn: str, execution: str) -> dict[str, Any]:
        """The CreateModel, CreateEndpointConfig and UpdateEndpoint requests for `package_arn`."""
        endpoint_name = self.settings.endpoint_name
        if endpoint_name is None:
            raise ValueError("the rollout needs ENDPOINT_NAME (model-artifact mode)")
        version = package_arn.rsplit("/", 1)[-1]
        name = resource_name(f"{self.settings.name_prefix}-v{version}", execution.rsplit(":", 1)[-1][-12:])
        endpoint = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
        current = self.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        return {
            "model": model_request(
                model_name=name, role_arn=self.settings.model_role_arn, model_package_arn=package_arn
            ),
            "endpoint_config": endpoint_config_request(config_name=name, current=current, model_name=name),
            "update": update_endpoint_request(
                endpoint_name=endpoint_name, config_name=name, alarm_names=self.settings.rollback_alarms
            ),
            "previous_endpoint_config": endpoint["EndpointConfigName"],
            "package_arn": package_arn,
        }

    def settle(self, prepared: dict[str, Any]) -> dict[str, Any]:
        """`{"settled": False}` while the update runs; else record and announce how it ended."""
        update = prepared["update"]
        endpoint = self.sagemaker.describe_endpoint(EndpointName=update["EndpointName"])
        status = endpoint["EndpointStatus"]
        if status in _UPDATING:
            return {"settled": False, "status": status}
        attempted = update["EndpointConfigName"]
        if status == "InService" and endpoint["EndpointConfigName"] == attempted:
            package = self.sagemaker.describe_model_package(ModelPackageName=prepared["package_arn"])
            model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
            self._remember(prepared, package, model_uri)
            self.publisher.publish(
                [
                    ModelDeployed(
                        endpoint_name=update["EndpointName"],
                        endpoint_config_name=attempted,
                        model_name=prepared["model"]["ModelName"],
                        model_package_arn=prepared["package_arn"],
                        model_data_uri=model_uri,
                    )
                ]
            )
            return {"settled": True, "outcome": "deployed"}
        reason = endpoint.get("FailureReason") or (
            f"the endpoint serves {endpoint['EndpointConfigName']} again (automatic rollback)"
        )
        self.publisher.publish(
            [
                DeploymentRolledBack(
                    endpoint_name=update["EndpointName"],
                    attempted_endpoint_config_name=attempted,
                    model_package_arn=prepared["package_arn"],
                    endpoint_status=status,
                    reason=reason,
                )
            ]
        )
        return {"settled": True, "outcome": "rolled-back"}

    def _remember(self, prepared: dict[str, Any], package: dict[str, Any], model_uri: str) -> None:
        """The served model, for the next run's baseline and for the stack's model guard."""
        metadata = package.get("CustomerMetadataProperties", {})
        score = metadata.get("score")
        layout = RunLayout(self.settings.training_bucket, self.settings.config.prefixes.training_runs, "-")
        served = {
            "model_data_uri": model_uri,
            "model_package_arn": prepared["package_arn"],
            "endpoint_config_name": prepared["update"]["EndpointConfigName"],
            "run_id": metadata.get("run_id"),
            "metric": metadata.get("metric"),
            "score": None if score in (None, "None") else float(score),
            "deployed": datetime.now(UTC).isoformat(),
        }
        self.files.write_json(layout.current_model_key, served)
        if self.ssm is not None and self.settings.deployed_model_parameter:
            self.ssm.put_parameter(
                Name=self.settings.deployed_model_parameter,
                Value=json.dumps({"model_data_uri": model_uri, "model_package_arn": prepared["package_arn"]}),
                Type="String",
                Overwrite=True,
            )
