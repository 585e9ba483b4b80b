"""Every Step Functions task of every state machine is allowed what AWS documents for its call.

The reference is CDK's own task constructs (`SageMakerCreateTrainingJob`, `SageMakerCreateModel`,
`SageMakerCreateEndpointConfig`, `SageMakerUpdateEndpoint`, `LambdaInvoke`, `CallAwsService`):
each is synthesized in a scratch stack making the same call as one of our task states, and our
state machine's role must grant every action they grant, on the resources they name. Then the
data a training service reads with a role's credentials (a SageMaker training job's channels,
Rekognition's CreateProjectVersion) is checked against that role, as `iam_harness` checks calls.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from cdk_scenarios import resources
from iam_harness import ACCOUNT, PSEUDO, REGION, allowed

from hitl_core.training_requests import resource_name

pytestmark = pytest.mark.xdist_group("cdk")
RUN_ID = "r-0123456789abcdef"


def arn_of(template: dict[str, Any], logical: str) -> str:
    """A deterministic ARN for a resource of the template (what Fn::GetAtt Arn would give)."""
    kind = template["Resources"][logical]["Type"]
    return {
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{logical}",
        "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{logical}",
        "AWS::S3::Bucket": f"arn:aws:s3:::{logical.lower()}",
        "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{logical}",
    }.get(kind, f"arn:aws:{kind}:{logical}")


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """The template's intrinsics with deterministic names (Ref: the logical id, lower-cased for buckets)."""
    if isinstance(value, list):
        return [resolve(v, template) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument in PSEUDO:
                return PSEUDO[argument]
            if argument in template["Resources"]:
                kind = template["Resources"][argument]["Type"]
                return argument.lower() if kind == "AWS::S3::Bucket" else argument
            return argument
        if function == "Fn::GetAtt":
            logical, attribute = argument
            return arn_of(template, logical) if attribute == "Arn" else f"{logical}.{attribute}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(resolve(p, template)) for p in parts)
    if isinstance(value, dict):
        return {k: resolve(v, template) for k, v in value.items()}
    return value


def machines(template: dict[str, Any]) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every state machine by logical id (CDK's Provider waiters too): (definition, its role's policies)."""
    found = {}
    for logical, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
        definition = json.loads(resolve(machine["Properties"]["DefinitionString"], template))
        role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        documents = [
            resolve(p["Properties"]["PolicyDocument"], template)
            for p in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
        ]
        found[logical] = (definition, documents)
    return found


def logical_of(template: dict[str, Any], prefix: str, kind: str = "AWS::IAM::Role") -> str:
    (found,) = [k for k in resources(template, kind) if k.startswith(prefix)]
    return found


class Reference:
    """CDK's own task constructs in a scratch stack, one per task state of ours, making the same call."""

    def __init__(self) -> None:
        self.app = App()
        self.stack = Stack(self.app, "Reference", env={"account": ACCOUNT, "region": REGION})
        self.count = 0

    def task(self, build: Any) -> str:
        """Adds one state machine around the task `build(scope, id)` makes; returns its id."""
        self.count += 1
        construct_id = f"Task{self.count}"
        task = build(self.stack, construct_id)
        sfn.StateMachine(
            self.stack, f"{construct_id}Machine", definition_body=sfn.DefinitionBody.from_chainable(task)
        )
        return construct_id

    def statements(self) -> dict[str, list[dict[str, Any]]]:
        template = self.app.synth().get_stack_by_name("Reference").template
        found: dict[str, list[dict[str, Any]]] = {}
        for policy in resources(template, "AWS::IAM::Policy").values():
            (role,) = policy["Properties"]["Roles"]
            machine = role["Ref"].split("MachineRole")[0]
            documents = resolve(policy["Properties"]["PolicyDocument"], template)
            found.setdefault(machine, []).extend(documents["Statement"])
        return found


def role(scope: Any, construct_id: str, arn: str) -> iam.IRole:
    return iam.Role.from_role_arn(scope, construct_id, arn, mutable=False)


def reference_task(state: dict[str, Any], template: dict[str, Any], name_prefix: str, project: str) -> Any:
    """A builder of CDK's task construct making the same call as our task `state`."""
    resource = state["Resource"]
    sample = resource_name(name_prefix, RUN_ID)
    if ":states:::" not in resource:  # LambdaInvoke with payload_response_only names the function
        return lambda scope, i: tasks.LambdaInvoke(
            scope, i, lambda_function=lambda_.Function.from_function_arn(scope, f"{i}Fn", resource)
        )
    call = resource.split(":states:::", 1)[1]
    if call == "sagemaker:createTrainingJob.sync":
        training_role = arn_of(template, logical_of(template, "TrainingTrainingJobRole"))
        return lambda scope, i: tasks.SageMakerCreateTrainingJob(
            scope, i, training_job_name=sample, role=role(scope, f"{i}Role", training_role),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry("object-detection:1"),
                training_input_mode=tasks.InputMode.PIPE,
            ),
            input_data_config=[tasks.Channel(channel_name="train", data_source=tasks.DataSource(
                s3_data_source=tasks.S3DataSource(s3_location=tasks.S3Location.from_json_expression("$.t"))))],
            output_data_config=tasks.OutputDataConfig(s3_output_location=tasks.S3Location.from_json_expression("$.o")),
        )  # fmt: skip
    model_role = (
        arn_of(template, logical_of(template, "DetectorModelRole"))
        if call.startswith("aws-sdk:sagemaker")
        else ""
    )
    version = f"{name_prefix}-v1-{RUN_ID[-12:]}"
    if call == "aws-sdk:sagemaker:createModel":
        return lambda scope, i: tasks.SageMakerCreateModel(
            scope, i, model_name=version, role=role(scope, f"{i}Role", model_role),
            primary_container=tasks.ContainerDefinition(image=tasks.DockerImage.from_registry("object-detection:1")),
        )  # fmt: skip
    if call == "aws-sdk:sagemaker:createEndpointConfig":
        return lambda scope, i: tasks.SageMakerCreateEndpointConfig(
            scope, i, endpoint_config_name=version,
            production_variants=[tasks.ProductionVariant(
                model_name=version, variant_name="AllTraffic", instance_type=ec2.InstanceType("m5.xlarge"))],
        )  # fmt: skip
    if call == "aws-sdk:sagemaker:updateEndpoint":
        endpoint = next(iter(resources(template, "AWS::SageMaker::Endpoint").values()))["Properties"][
            "EndpointName"
        ]
        return lambda scope, i: tasks.SageMakerUpdateEndpoint(
            scope, i, endpoint_name=endpoint, endpoint_config_name=version
        )
    service, action = call.removeprefix("aws-sdk:").split(":")
    touched = touched_by(service, action, name_prefix, project)
    return lambda scope, i: tasks.CallAwsService(
        scope, i, service=service, action=action, iam_resources=touched, parameters={}
    )


def touched_by(service: str, action: str, name_prefix: str, project: str) -> list[str]:
    """The ARNs an SDK call of ours acts on (CallAwsService takes them from the caller)."""
    group = f"{name_prefix}-detector"
    if (service, action) == ("sagemaker", "createModelPackage"):
        return [
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{group}",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/1",
        ]
    if service == "rekognition":
        version = resource_name(name_prefix, RUN_ID)
        return [project, f"{project.rsplit('/', 1)[0]}/version/{version}/1700000000000"]
    raise AssertionError(f"no reference for the SDK call {service}:{action}: add what it touches here")


def as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else value


def grants(
    statement: dict[str, Any], reference: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> list[str]:
    """What of a reference statement our policies do not grant (action, resource, condition).

    CDK appends * to a concrete name: the call touches the name. Where CDK grants an action on
    "*", our grant may name instead every resource the same reference task names for its call."""
    call = {
        r.rstrip("*") for s in reference for r in as_list(s["Resource"]) if r != "*" and ":sagemaker:" in r
    }
    condition = statement.get("Condition")

    def granted(action: str, target: str) -> bool:
        return any(_covers(s, action, target, condition) for d in ours for s in d["Statement"])

    missing = []
    for action in as_list(statement["Action"]):
        for resource in as_list(statement["Resource"]):
            targets = [resource.rstrip("*")] if resource != "*" else ["*"]
            if resource == "*" and not granted(action, "*") and call:
                targets = sorted(call)
            missing += [f"{action} on {t}" for t in targets if not granted(action, t)]
    return missing


def _covers(ours: dict[str, Any], action: str, resource: str, condition: Any) -> bool:
    actions = [ours["Action"]] if isinstance(ours["Action"], str) else ours["Action"]
    patterns = [ours["Resource"]] if isinstance(ours["Resource"], str) else ours["Resource"]
    return (
        ours["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
        and any(fnmatch.fnmatchcase(resource, p) for p in patterns)
        and ours.get("Condition") in (None, condition)
    )


@pytest.fixture(scope="module")
def checked(synthesized) -> dict[str, list[str]]:
    """Per scenario and state: what CDK's construct grants for the same call and our role does not."""
    reference = Reference()
    pending = []
    for scenario in synthesized.templates:
        template = synthesized.templates[scenario]
        training = synthesized.stacks[scenario].training
        prefix, project = training._props.name_prefix, training.settings.rekognition_project_arn or ""
        for machine, (definition, ours) in machines(template).items():
            for name, state in definition["States"].items():
                if state["Type"] == "Task":
                    pending.append(
                        (
                            f"{scenario}/{machine}/{name}",
                            reference.task(reference_task(state, template, prefix, project)),
                            ours,
                        )
                    )
    statements = reference.statements()
    return {
        label: [m for s in statements[task] for m in grants(s, statements[task], ours)]
        for label, task, ours in pending
    }


def test_every_task_of_every_workflow_is_allowed_what_cdks_own_construct_grants(checked) -> None:
    assert len(checked) >= 25
    assert any("waiterstatemachine" in label for label in checked), "CDK's Provider waiter is checked too"
    assert {label: missing for label, missing in checked.items() if missing} == {}


def test_the_training_job_may_tag_the_job_it_starts(checked) -> None:
    """Step Functions tags the job (MANAGED_BY_AWS): CDK grants sagemaker:AddTags (aws-cdk issue 32294)."""
    (label,) = [k for k in checked if k.startswith("ModelArtifact/") and k.endswith("/TrainingJob")]
    assert checked[label] == []


def role_policies(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    role = logical_of(template, role_prefix)
    return [
        resolve(p["Properties"]["PolicyDocument"], template)
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]


def bucket(template: dict[str, Any], prefix: str) -> str:
    return logical_of(template, prefix, "AWS::S3::Bucket").lower()


def refused(policies: list[dict[str, Any]], calls: list[tuple[str, str, str | None]]) -> list[str]:
    return [f"{a} {r} {p or ''}" for a, r, p in calls if not allowed(policies, a, r, p)]


def test_a_training_job_can_read_its_channels_the_first_model_included(synthesized) -> None:
    """The `model` channel is an S3Prefix: SageMaker lists the configured model's bucket at its key."""
    template = synthesized.templates["ModelArtifact"]
    training, images = bucket(template, "StorageTrainingData"), bucket(template, "StorageInput")
    run = f"training-runs/{RUN_ID}"
    calls = [
        ("s3:ListBucket", "arn:aws:s3:::team-models", "detector/model.tar.gz"),
        ("s3:GetObject", "arn:aws:s3:::team-models/detector/model.tar.gz", None),
        ("s3:GetObject", f"arn:aws:s3:::{training}/{run}/train.manifest", None),
        ("s3:GetObject", f"arn:aws:s3:::{images}/incoming/cat.jpg", None),
        ("s3:PutObject", f"arn:aws:s3:::{training}/{run}/output/job/output/model.tar.gz", None),
        ("s3:ListBucket", f"arn:aws:s3:::{training}", f"{run}/checkpoints/"),
        # A later run trains on from the model a run wrote.
        ("s3:ListBucket", f"arn:aws:s3:::{training}", f"{run}/output/job/output/model.tar.gz"),
    ]
    assert refused(role_policies(template, "TrainingTrainingJobRole"), calls) == []


def test_rekognition_reads_the_runs_manifests_and_images_with_the_workflows_credentials(synthesized) -> None:
    template = synthesized.templates["Rekognition"]
    training, images = bucket(template, "StorageTrainingData"), bucket(template, "StorageInput")
    run = f"training-runs/{RUN_ID}"
    calls = [
        ("s3:GetObject", f"arn:aws:s3:::{training}/{run}/train.manifest", None),
        ("s3:GetObject", f"arn:aws:s3:::{training}/{run}/validation.manifest", None),
        ("s3:GetObject", f"arn:aws:s3:::{images}/incoming/cat.jpg", None),
        ("s3:PutObject", f"arn:aws:s3:::{training}/{run}/output/evaluation.json", None),
    ]
    assert refused(role_policies(template, "TrainingWorkflowRole"), calls) == []
