"""The rollout's own steps: turn an approved model package into the three requests that update the
endpoint (model, endpoint config copied from the current one, blue/green update), then settle
the outcome: deployed (record the model so `cdk deploy` keeps it) or rolled back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.publisher import EventPublisher
from hitl_core.events import DeploymentRolledBack, ModelDeployed
from hitl_core.training_plan import RunLayout
from hitl_core.training_requests import (
    endpoint_config_request,
    model_request,
    model_shape,
    resource_name,
    update_endpoint_request,
)
from hitl_training.run_files import RunFiles
from hitl_training.settings import TrainingSettings

_UPDATING = {"Updating", "SystemUpdating", "Creating", "RollingBack"}
ROLLOUTS = "rollouts/"


@dataclass
class Rollout:
    settings: TrainingSettings
    sagemaker: Any
    files: RunFiles
    publisher: EventPublisher
    ssm: Any = None

    def prepare(self, package_arn: str, execution: str) -> dict[str, Any]:
        """The CreateModel, CreateEndpointConfig and UpdateEndpoint requests for `package_arn`, or
        `{"action": "skip"}` when another execution has this approval in hand or the endpoint
        already serves (or is updating to) the package: SageMaker may announce one approval twice."""
        endpoint_name = self.settings.endpoint_name
        if endpoint_name is None:
            raise ValueError("the rollout needs ENDPOINT_NAME (model-artifact mode)")
        endpoint = self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
        already = self._serving(endpoint, package_arn)
        if already is not None:
            return {"action": "skip", "reason": f"the endpoint {already} {package_arn}"}
        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        holder = self._claim(package, execution)
        if holder != execution:
            return {
                "action": "skip",
                "reason": f"execution {holder} rolls this approval of {package_arn} out",
            }
        version = package_arn.rsplit("/", 1)[-1]
        name = resource_name(f"{self.settings.name_prefix}-v{version}", execution.rsplit(":", 1)[-1][-12:])
        current = self.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        return {
            "action": "rollout",
            "model": model_request(
                model_name=name,
                role_arn=self.settings.model_role_arn,
                model_package_arn=package_arn,
                network_isolation=self.settings.network_isolation,
            ),
            "endpoint_config": endpoint_config_request(config_name=name, current=current, model_name=name),
            "update": update_endpoint_request(
                endpoint_name=endpoint_name, config_name=name, alarm_names=self.settings.rollback_alarms
            ),
            "previous_endpoint_config": endpoint["EndpointConfigName"],
            "package_arn": package_arn,
        }

    def _serving(self, endpoint: dict[str, Any], package_arn: str) -> str | None:
        """ "serves" or "is updating to" when a config the endpoint has or gets runs the package."""
        configs = [("serves", endpoint["EndpointConfigName"])]
        pending = endpoint.get("PendingDeploymentSummary", {}).get("EndpointConfigName")
        if pending:
            configs.append(("is updating to", pending))
        for how, config_name in configs:
            config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            for variant in config["ProductionVariants"]:
                model = self._model(variant["ModelName"])
                containers = [model.get("PrimaryContainer", {}), *model.get("Containers", [])]
                if any(c.get("ModelPackageName") == package_arn for c in containers):
                    return how
        return None

    def _model(self, name: str) -> dict[str, Any]:
        """A model's description; a model deleted since (the endpoint keeps serving it) has none."""
        try:
            return self.sagemaker.describe_model(ModelName=name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            return {}

    def _claim(self, package: dict[str, Any], execution: str) -> str:
        """The execution that rolls this approval out: the first to write its claim (one per approval,
        keyed by the package's last change, so approving it again later rolls it out again)."""
        changed = package.get("LastModifiedTime") or package["CreationTime"]
        stamp = changed.strftime("%Y%m%dT%H%M%S%f") if isinstance(changed, datetime) else str(changed)
        version = package["ModelPackageArn"].rsplit("/", 1)[-1]
        key = f"{self.settings.config.prefixes.training_runs}{ROLLOUTS}{version}-{stamp}.json"
        claim = {"execution": execution, "model_package_arn": package["ModelPackageArn"], "claimed": stamp}
        if self.files.create_json(key, claim):
            return execution
        return str((self.files.read_json(key) or claim)["execution"])

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
            "hyperparameters": model_shape(metadata),
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
