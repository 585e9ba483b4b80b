"""Retraining infrastructure: the workflows' shape per detector mode (every task caught into the
Training Failed step), their triggers, IAM, the model package group and the deployed-model guard;
then the training and rollout definitions executed by moto's Step Functions interpreter.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cdk_scenarios import deployed_environment, only, policy_statements, resources, statement_for
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends
from moto.core import DEFAULT_ACCOUNT_ID

from hitl_training.settings import TrainingSettings
from infra.training import ROLLOUT_HANDLER

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")
REGION = "us-east-1"


def definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The retraining state machines' definitions by logical id, references written as <Logical>."""
    found = {}
    for logical, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
        if not logical.startswith("Training"):
            continue
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else _placeholder(part) for part in parts)
        found[logical] = json.loads(text)
    return found


def _placeholder(part: dict[str, Any]) -> str:
    if "Fn::GetAtt" in part:
        return f"<{part['Fn::GetAtt'][0]}>"
    return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": DEFAULT_ACCOUNT_ID}.get(
        part.get("Ref", ""), "x"
    )


def workflow(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [d for logical, d in definitions(template).items() if logical.startswith(prefix)]
    return found


# Errors that may only mean "try again" (throttling, 5xx), per integration of a task's Resource.
TRANSIENT = {
    "lambda:invoke": {
        "Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
        "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
    },
    "aws-sdk:sagemaker": {
        "SageMaker.ThrottlingException", "SageMaker.InternalFailureException",
        "SageMaker.ServiceUnavailableException",
    },
    "aws-sdk:rekognition": {
        "Rekognition.ThrottlingException", "Rekognition.ProvisionedThroughputExceededException",
        "Rekognition.InternalServerErrorException",
    },
    # Every service error of the optimized integration is SageMaker.AmazonSageMakerException: no retry.
    "sagemaker:createTrainingJob.sync": set(),
}  # fmt: skip


def integration(resource: str) -> str:
    if ":states:::" not in resource:  # LambdaInvoke with payload_response_only names the function itself
        return "lambda:invoke"
    kind = resource.split(":states:::", 1)[1]
    return kind if kind.startswith("sagemaker:") else ":".join(kind.split(":")[:2])


def test_tasks_retry_only_throttling_and_faults_and_are_caught_into_the_training_failed_step(
    synthesized,
) -> None:
    """A validation or quota error (SageMaker.AmazonSageMakerException covers every 4xx) fails at once."""
    checked = 0
    for scenario, template in synthesized.templates.items():
        for definition in definitions(template).values():
            states = definition["States"]
            for name, state in states.items():
                if state["Type"] != "Task":
                    continue
                errors = {e for retry in state.get("Retry", []) for e in retry["ErrorEquals"]}
                allowed = TRANSIENT[integration(state["Resource"])]
                assert errors <= allowed, (scenario, name, errors - allowed)
                assert allowed <= errors or not allowed, (scenario, name, allowed - errors)
                if name.startswith("Announce"):
                    continue
                (catch,) = state["Catch"]
                assert catch["ErrorEquals"] == ["States.ALL"], (scenario, name)
                announce = states[catch["Next"]]
                assert announce["Parameters"]["step"] == "failed"
                assert announce["Parameters"]["failed_step"] == name
                assert states[announce["Next"]]["Type"] == "Fail"
                checked += 1
    assert checked >= 20


@pytest.mark.parametrize("scenario", ["ModelArtifact", "Serverless"])
def test_the_rollout_gives_its_models_the_network_isolation_of_the_endpoints_model(
    synthesized, scenario
) -> None:
    """One source of truth: serverless endpoints refuse EnableNetworkIsolation."""
    template = synthesized.templates[scenario]
    model = only(template, "AWS::SageMaker::Model")["Properties"]
    environment = deployed_environment(template, ROLLOUT_HANDLER)
    settings = TrainingSettings.from_env(environment | {"AWS_REGION": REGION})
    assert settings.network_isolation is bool(model.get("EnableNetworkIsolation"))


def test_the_built_in_detector_trains_on_from_the_dataset_steps_request(synthesized) -> None:
    states = workflow(synthesized.templates["ModelArtifact"], "TrainingWorkflow")["States"]
    job = states["TrainingJob"]
    assert job["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert job["Parameters"]["HyperParameters.$"] == "$.run.request.HyperParameters"
    assert job["Parameters"]["InputDataConfig.$"] == "$.run.request.InputDataConfig"
    assert states["RegisterModel"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    assert "CreateProjectVersion" not in states


def test_rekognition_trains_a_version_and_polls_it_when_a_project_is_configured(synthesized) -> None:
    states = workflow(synthesized.templates["Rekognition"], "TrainingWorkflow")["States"]
    assert (
        states["CreateProjectVersion"]["Resource"]
        == "arn:aws:states:::aws-sdk:rekognition:createProjectVersion"
    )
    assert states["VersionStatus"]["Type"] == "Choice"
    assert "TrainingJob" not in states and "RegisterModel" not in states
    assert not resources(synthesized.templates["Rekognition"], "AWS::SageMaker::ModelPackageGroup")


@pytest.mark.parametrize("scenario", ["Default", "Marketplace"])
def test_modes_the_stack_cannot_retrain_only_build_the_dataset(synthesized, scenario) -> None:
    template = synthesized.templates[scenario]
    (definition,) = definitions(template).values()
    assert {s["Type"] for s in definition["States"].values() if s["Type"] == "Task"} == {"Task"}
    assert set(definition["States"]) >= {"BuildDataset", "TrainingAction"}
    assert "TrainingJob" not in definition["States"]
    assert not resources(template, "Custom::DeployedModelGuard")


def test_a_sealed_manifest_starts_a_run(synthesized) -> None:
    rules = resources(synthesized.templates["Default"], "AWS::Events::Rule")
    (rule,) = [r for k, r in rules.items() if k.startswith("TrainingManifestSealedRule")]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["hitl.pipeline"],
        "detail-type": ["Manifest Sealed"],
    }
    assert rule["Properties"]["Targets"][0]["Arn"]["Ref"].startswith("TrainingWorkflow")


def test_approval_of_a_package_in_the_group_starts_the_rollout(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    group = only(template, "AWS::SageMaker::ModelPackageGroup")["Properties"]["ModelPackageGroupName"]
    rules = resources(template, "AWS::Events::Rule")
    (rule,) = [r for k, r in rules.items() if k.startswith("TrainingApprovedRule")]
    assert rule["Properties"]["EventPattern"]["detail"] == {
        "ModelPackageGroupName": [group],
        "ModelApprovalStatus": ["Approved"],
    }
    states = workflow(template, "TrainingRollout")["States"]
    update = states["UpdateEndpoint"]["Parameters"]
    assert update["DeploymentConfig.$"] == "$.prepared.update.DeploymentConfig"
    assert update["RetainAllVariantProperties.$"] == "$.prepared.update.RetainAllVariantProperties"


def test_the_endpoint_waits_for_the_deployed_model_guard(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    (guard_id,) = resources(template, "Custom::DeployedModelGuard")
    guard = template["Resources"][guard_id]["Properties"]
    assert guard["ModelDataUrl"] == "s3://team-models/detector/model.tar.gz"
    assert guard["EndpointConfigName"]["Fn::GetAtt"][0].startswith("DetectorEndpointConfig")
    endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert guard_id in endpoint["DependsOn"]


def test_the_rollout_passes_only_the_model_role_and_touches_only_its_endpoint(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    statements = policy_statements(template, "TrainingRolloutRole")
    pass_role = statement_for(statements, "iam:PassRole")
    assert pass_role["Resource"]["Fn::GetAtt"][0].startswith("DetectorModelRole")
    update = statement_for(statements, "sagemaker:updateEndpoint")
    assert any("endpoint/hitl-object-detector" in json.dumps(r) for r in update["Resource"])
    training = policy_statements(template, "TrainingWorkflowRole")
    passed = statement_for(training, "iam:PassRole")
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert passed["Resource"]["Fn::GetAtt"][0].startswith("TrainingTrainingJobRole")


# -- the definitions executed by moto's Step Functions interpreter ------------------------------
# moto runs Lambda tasks (its Docker-free Lambda answers with queued payloads) and AWS SDK
# integrations (CallAwsService) against its own services. It does not run SageMaker's optimized
# integrations: createTrainingJob.sync stops the interpreter with "Unsupported sync callback"
# (not a catchable task failure), so the training path is checked on the definition only.


@pytest.fixture
def moto_sfn() -> Iterator[Any]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):  # type: ignore[arg-type]
        yield boto3.client("stepfunctions", region_name=REGION)


def _function_arn() -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="steps", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="steps", Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )["FunctionArn"]  # fmt: skip


def _execute(sfn: Any, definition: dict[str, Any], answers: list[dict[str, Any]], start: dict[str, Any]):
    """Run `definition` with every Lambda task answering the next of `answers`; returns (status, history)."""
    arn = _function_arn()
    text = json.dumps(definition)
    for placeholder in {p for p in text.split('"') if p.startswith("<") and p.endswith(">")}:
        text = text.replace(f'"{placeholder}"', json.dumps(arn))
    queue = lambda_simple_backends[DEFAULT_ACCOUNT_ID][REGION].lambda_simple_results_queue
    queue.extend(json.dumps(answer) for answer in answers)
    machine = sfn.create_state_machine(name="m", definition=text, roleArn="arn:aws:iam::123456789012:role/x")
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(start))
    for _ in range(600):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    return described["status"], entered


def test_moto_runs_a_run_that_stops_after_the_dataset(synthesized, moto_sfn) -> None:
    definition = workflow(synthesized.templates["Default"], "TrainingWorkflow")
    status, entered = _execute(moto_sfn, definition, [{"action": "stop", "reason": "not-retrainable"}], {})
    assert status == "SUCCEEDED"
    assert entered == ["BuildDataset", "TrainingAction", "NoTraining"]


def test_moto_runs_a_rollout_whose_endpoint_update_fails_into_the_training_failed_step(
    synthesized, moto_sfn
) -> None:
    """CreateModel and CreateEndpointConfig run against moto's SageMaker; moto has no UpdateEndpoint."""
    definition = workflow(synthesized.templates["ModelArtifact"], "TrainingRollout")
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/hitl-detector/1"
    prepared = {
        "action": "rollout",
        "model": {
            "ModelName": "hitl-v1-abc",
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/model",
            "PrimaryContainer": {"Image": "x.dkr.ecr.us-east-1.amazonaws.com/object-detection:1"},
            "EnableNetworkIsolation": True,
        },
        "endpoint_config": {
            "EndpointConfigName": "hitl-v1-abc",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "hitl-v1-abc",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                }
            ],
        },
        "update": {
            "EndpointName": "hitl-object-detector",
            "EndpointConfigName": "hitl-v1-abc",
            "RetainAllVariantProperties": True,
            "DeploymentConfig": {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}},
        },
    }
    status, entered = _execute(
        moto_sfn, definition, [prepared, {"status": "failed"}], {"package_arn": package}
    )
    assert entered == [
        "PrepareRollout", "RolloutNeeded", "CreateModel", "CreateEndpointConfig", "UpdateEndpoint",
        "AnnounceUpdateEndpointFailure", "UpdateEndpointFailed",
    ]  # fmt: skip
    assert status == "FAILED"
    assert (
        sagemaker.describe_endpoint_config(EndpointConfigName="hitl-v1-abc")["ProductionVariants"][0][
            "ModelName"
        ]
        == "hitl-v1-abc"
    )


def test_moto_runs_a_rollout_of_an_approval_already_in_hand_to_its_end_at_once(synthesized, moto_sfn) -> None:
    definition = workflow(synthesized.templates["ModelArtifact"], "TrainingRollout")
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/hitl-detector/1"
    skip = {"action": "skip", "reason": f"the endpoint serves {package}"}
    status, entered = _execute(moto_sfn, definition, [skip], {"package_arn": package})
    assert (status, entered) == ("SUCCEEDED", ["PrepareRollout", "RolloutNeeded", "AlreadyRolledOut"])
