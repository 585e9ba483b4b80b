"""Retraining: a Step Functions workflow that builds the dataset from the sealed manifests, trains
(built-in object detection from the current model, or a Rekognition Custom Labels version),
judges the new model and registers it; a second workflow rolls an approved model out blue/green.

The deployed model and the stack stay in agreement through the deployed-model guard: the
rollout records the served model in an SSM parameter, and a custom resource the endpoint
depends on fails any deployment whose model differs from it (README, "Retraining").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Aws, CfnMapping, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr
from constructs import Construct

from hitl_core.algorithm_images import BUILT_IN_REPOSITORY, OBJECT_DETECTION_REGISTRIES
from hitl_core.config import PipelineConfig, config_to_env
from hitl_core.events import EVENT_SOURCE, ManifestSealed
from hitl_core.training_config import TrainingConfig
from hitl_core.training_requests import training_job_of
from hitl_training.rollout_steps import ROLLOUTS
from hitl_training.run_steps import model_package_group
from infra.deploy_config import ModelArtifactEndpoint, RekognitionEndpoint
from infra.model_endpoint import ModelEndpoint, grant_image_pull
from infra.nag import acknowledge, acknowledge_wildcards
from infra.python_function import PythonFunctionProps, python_function
from infra.storage import Storage

TRAINING_HANDLER = "hitl_training.handler.training_handler"
ROLLOUT_HANDLER = "hitl_training.handler.rollout_handler"
GUARD_HANDLER = "hitl_training.model_guard.on_event"
# Errors worth retrying, per integration: throttling and transient service faults only. A
# validation or quota error fails at once, into the Training Failed event. SDK integrations name
# errors `Service.Code` + "Exception"; the optimized SageMaker integration reports every service
# error (4xx included) as SageMaker.AmazonSageMakerException, so its training job is not retried.
RETRIED_ERRORS: dict[str, list[str]] = {
    "lambda": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "sagemaker": [
        "SageMaker.ThrottlingException",
        "SageMaker.InternalFailureException",
        "SageMaker.ServiceUnavailableException",
    ],
    "rekognition": [
        "Rekognition.ThrottlingException",
        "Rekognition.ProvisionedThroughputExceededException",
        "Rekognition.InternalServerErrorException",
    ],
}
TRAINING_REQUEST_KEYS = (
    "TrainingJobName",
    "AlgorithmSpecification",
    "RoleArn",
    "HyperParameters",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
)
REKOGNITION_POLL = Duration.minutes(5)
ROLLOUT_POLL = Duration.minutes(1)


@dataclass(frozen=True)
class TrainingProps:
    config: PipelineConfig
    storage: Storage
    detector: ModelEndpoint
    bus: events.IEventBus
    name_prefix: str
    rollback_alarms: list[cloudwatch.IAlarm]
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays


def _forward(path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Task parameters that pass the request built by a Lambda step through, key by key."""
    return {f"{key}.$": f"{path}.{key}" for key in keys}


class Training(Construct):
    """The training workflow (Manifest Sealed or on demand) and, for the built-in detector, the
    model package group, the rollout workflow (on approval) and the deployed-model guard."""

    def __init__(self, scope: Construct, construct_id: str, props: TrainingProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self._stack = Stack.of(self)
        settings = props.detector.settings
        self.mode = settings.mode
        self.settings: TrainingConfig = props.config.training
        self.prefix = props.config.prefixes.training_runs
        self.group_name = model_package_group(props.name_prefix)
        self.deployed_model_parameter = f"/{props.name_prefix}/detector/deployed-model"
        self.training_role: iam.Role | None = None
        self.rollout: sfn.StateMachine | None = None
        self.model_package_group: sagemaker.CfnModelPackageGroup | None = None

        environment = self._environment()
        if isinstance(settings, ModelArtifactEndpoint):
            self.training_role = self._training_role(settings)
            environment["TRAINING_ROLE_ARN"] = self.training_role.role_arn
            environment["MODEL_DATA_URL"] = settings.model_data_url
        self.steps = self._function("Steps", TRAINING_HANDLER, environment, Duration.minutes(15), 3008)
        self._grant_steps()
        self.state_machine = self._training_workflow()
        events.Rule(
            self,
            "ManifestSealedRule",
            description="A sealed manifest starts a retraining run.",
            event_bus=props.bus,
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=[ManifestSealed.detail_type]
            ),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )
        if isinstance(settings, ModelArtifactEndpoint):
            self.model_package_group = sagemaker.CfnModelPackageGroup(
                self,
                "ModelPackageGroup",
                model_package_group_name=self.group_name,
                model_package_group_description="Retrained detector models; approval rolls one out.",
            )
            self.model_package_group.apply_removal_policy(props.removal_policy)
            self.rollout = self._rollout_workflow(environment)
            self._guard(settings)

    # -- shared pieces ------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        props = self._props
        detector = props.detector
        environment = {
            "HITL_CONFIG": config_to_env(props.config),
            "EVENT_BUS_NAME": props.bus.event_bus_name,
            "TRAINING_BUCKET": props.storage.training.bucket_name,
            "DETECTOR_MODE": self.mode,
            "NAME_PREFIX": props.name_prefix,
            "POWERTOOLS_SERVICE_NAME": "hitl-training",
            "IMAGE_LOCATIONS": ",".join(uri for uri, _ in self._image_locations()),
        }
        if detector.endpoint_name is not None:
            environment["ENDPOINT_NAME"] = detector.endpoint_name
        if detector.rekognition_project_version_arn is not None:
            environment["REKOGNITION_PROJECT_VERSION_ARN"] = detector.rekognition_project_version_arn
        return environment

    def _function(
        self, construct_id: str, handler: str, environment: dict[str, str], timeout: Duration, memory: int
    ) -> lambda_.Function:
        props = self._props
        function = python_function(
            self,
            construct_id,
            PythonFunctionProps(
                package="hitl_training",
                handler=handler,
                role_description=f"The retraining workflow's {construct_id} function.",
                timeout=timeout,
                memory_size=memory,
                environment=environment,
                log_retention=props.log_retention,
                removal_policy=props.removal_policy,
            ),
        )
        props.bus.grant_put_events_to(function)
        return function

    def _run_objects(self) -> str:
        return self._props.storage.training.arn_for_objects(f"{self.prefix}*")

    def _image_locations(self) -> list[tuple[str, str]]:
        """Where a run's images may be, as (S3 URI prefix, object ARN pattern): the input bucket's
        incoming prefix and, with a base manifest, its whole bucket. The dataset step refuses others."""
        storage = self._props.storage
        incoming = storage.prefixes.incoming
        locations = [(f"s3://{storage.input.bucket_name}/{incoming}", storage.input_objects_arn())]
        base = self.settings.base_manifest
        if base:
            bucket = base.removeprefix("s3://").split("/", 1)[0]
            locations.append((f"s3://{bucket}/", f"arn:{Aws.PARTITION}:s3:::{bucket}/*"))
        return locations

    def _grant_training_data(self, grantee: iam.IGrantable, reads: list[str], lists: list[str]) -> None:
        """What a training service reads with `grantee`'s credentials: the run's manifests (and listing
        its folder), the images, and its output written under the run's folder."""
        training = self._props.storage.training
        runs = self._run_objects()
        images = [arn for _, arn in self._image_locations()]
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject", "s3:PutObject"], resource_arns=[runs]
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=reads, resource_arns=images)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=lists,
                resources=[training.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.prefix}*"]}},
            )
        )
        acknowledge_wildcards(
            grantee.grant_principal,
            [runs, *images],
            "Training reads the run's manifests and every image they name (object keys known only at run "
            "time; a base manifest's images anywhere in its bucket) and writes under the run's folder.",
        )

    def _grant_steps(self) -> None:
        props, function = self._props, self.steps
        storage, prefixes = props.storage, props.config.prefixes
        runs, manifests = self._run_objects(), storage.training.arn_for_objects(f"{prefixes.manifests}*")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[runs])
        )
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[manifests]))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.training.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefixes.manifests}*", f"{self.prefix}*"]}},
            )
        )
        wildcards = [runs, manifests]
        base = self.settings.base_manifest
        if base:
            bucket, _, key = base.removeprefix("s3://").partition("/")
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"]
                )
            )
        if isinstance(props.detector.settings, ModelArtifactEndpoint):
            # The current model's shape, from the job that trained it (this stack's or the configured one's).
            jobs = [
                self._stack.format_arn(
                    service="sagemaker", resource="training-job", resource_name=f"{props.name_prefix}-*"
                )
            ]
            configured_job = training_job_of(props.detector.settings.model_data_url)
            # ARNs are said to carry the name lower-cased (as endpoints' do): both forms are named.
            for name in sorted({configured_job, configured_job.lower()} if configured_job else set()):
                jobs.append(
                    self._stack.format_arn(service="sagemaker", resource="training-job", resource_name=name)
                )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob"], resources=jobs)
            )
            wildcards.append(jobs[0])
        project = self.settings.rekognition_project_arn
        if isinstance(props.detector.settings, RekognitionEndpoint) and project:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["rekognition:DescribeProjectVersions"], resources=[project])
            )
        acknowledge_wildcards(
            function.role,
            wildcards,
            "The steps read the sealed manifests and write each run's files under training-runs/; "
            "run ids and generations are only known at run time.",
        )

    def _retry(self, state: sfn.TaskStateBase, integration: str) -> sfn.TaskStateBase:
        errors = RETRIED_ERRORS.get(integration)
        if errors:
            state.add_retry(errors=errors, interval=Duration.seconds(10), max_attempts=6, backoff_rate=2)
        return state

    def _failure(self, step: str, with_run: bool) -> sfn.IChainable:
        """Record the failure and announce Training Failed, then end the execution as failed."""
        payload: dict[str, Any] = {
            "step": "failed",
            "failed_step": step,
            "error": sfn.JsonPath.object_at("$.error"),
        }
        if with_run:
            payload["run"] = sfn.JsonPath.object_at("$.run")
        announce = tasks.LambdaInvoke(
            self,
            f"Announce{step}Failure",
            lambda_function=self.steps if with_run else self._failure_function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=sfn.JsonPath.DISCARD,
        )
        self._retry(announce, "lambda")
        end = sfn.Fail(self, f"{step}Failed", cause=f"the {step} step failed; see the Training Failed event")
        announce.add_catch(end, result_path="$.announce_error")
        return announce.next(end)

    def _catch(
        self, state: sfn.TaskStateBase, step: str, integration: str, with_run: bool = True
    ) -> sfn.TaskStateBase:
        self._retry(state, integration)
        state.add_catch(self._failure(step, with_run), result_path="$.error")
        return state

    def _step(
        self,
        construct_id: str,
        function: lambda_.IFunction,
        payload: dict[str, Any],
        result_path: str,
        *,
        with_run: bool = True,
    ) -> sfn.TaskStateBase:
        """A Lambda step: `payload` in, its answer at `result_path`; retried, caught into the failure step."""
        task = tasks.LambdaInvoke(
            self,
            construct_id,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=result_path,
        )
        return self._catch(task, construct_id, "lambda", with_run)

    def _sdk(self, construct_id: str, *, with_run: bool, **call: Any) -> sfn.TaskStateBase:
        """An AWS SDK integration (CallAwsService); retried, caught into the failure step."""
        integration = call["service"]
        return self._catch(
            tasks.CallAwsService(self, construct_id, **call), construct_id, integration, with_run
        )

    def _state_machine(
        self, construct_id: str, definition: sfn.IChainable, comment: str, invoked: lambda_.IFunction
    ) -> sfn.StateMachine:
        props = self._props
        log_group = logs.LogGroup(
            self, f"{construct_id}Logs", retention=props.log_retention, removal_policy=props.removal_policy
        )
        machine = sfn.StateMachine(
            self,
            construct_id,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=comment,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery and X-Ray (logs:CreateLogDelivery, xray:PutTraceSegments and the "
            "like) have no resource-level permissions.",
        )
        acknowledge_wildcards(
            machine.role,
            [f"{invoked.function_arn}:*"],
            "Step Functions' Lambda integration may invoke any version of the workflow's own function.",
        )
        return machine

    # -- the training workflow ------------------------------------------------------------------

    def _training_workflow(self) -> sfn.StateMachine:
        self._failure_function = self.steps
        build = self._step(
            "BuildDataset",
            self.steps,
            {"step": "build", "execution": sfn.JsonPath.string_at("$$.Execution.Id")},
            "$.run",
            with_run=False,
        )
        evaluate = self._step(
            "Evaluate",
            self.steps,
            {
                "step": "evaluate",
                "run": sfn.JsonPath.object_at("$.run"),
                "trained": sfn.JsonPath.object_at("$.trained"),
            },
            "$.evaluation",
        )
        completed = self._step(
            "RecordCompleted",
            self.steps,
            {
                "step": "completed",
                "run": sfn.JsonPath.object_at("$.run"),
                "evaluation": sfn.JsonPath.object_at("$.evaluation"),
                "package": sfn.JsonPath.object_at("$.package"),
                "trained": sfn.JsonPath.object_at("$.trained"),
            },
            "$.completed",
        )
        completed.next(sfn.Succeed(self, "RunCompleted"))
        no_package = sfn.Pass(
            self, "NoModelPackage", result=sfn.Result.from_object({}), result_path="$.package"
        )
        no_package.next(completed)
        gate = sfn.Choice(self, "ModelBetter")
        choice = sfn.Choice(self, "TrainingAction")
        choice.when(sfn.Condition.string_equals("$.run.action", "stop"), sfn.Succeed(self, "NoTraining"))
        if self.mode == "model-artifact":
            register = self._catch(self._register_model(), "RegisterModel", "sagemaker")
            register.next(completed)
            gate.when(sfn.Condition.boolean_equals("$.evaluation.register", True), register)
            train = self._catch(self._training_job(), "TrainingJob", "sagemaker.sync")
            choice.when(sfn.Condition.string_equals("$.run.action", "sagemaker"), train)
            train.next(evaluate)
        elif self.mode == "rekognition-custom-labels" and self.settings.rekognition_project_arn:
            choice.when(
                sfn.Condition.string_equals("$.run.action", "rekognition"), self._rekognition(evaluate)
            )
        gate.otherwise(no_package)
        evaluate.next(gate)
        choice.otherwise(sfn.Succeed(self, "NothingToTrain"))
        machine = self._state_machine(
            "Workflow",
            build.next(choice),
            "Build the dataset, train, judge and register the detector.",
            self.steps,
        )
        if self.mode == "model-artifact":
            self._attach_training_job_policy(machine)
        elif self.mode == "rekognition-custom-labels" and self.settings.rekognition_project_arn:
            # CreateProjectVersion reads the manifests and images, and writes, with the caller's credentials.
            self._grant_training_data(machine, ["s3:GetObject", "s3:GetObjectVersion"], ["s3:ListBucket"])
        return machine

    def _training_role(self, settings: ModelArtifactEndpoint) -> iam.Role:
        """What a training job may touch: the run files, the images, the current model, its image, logs."""
        props = self._props
        role = iam.Role(
            self,
            "TrainingJobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training jobs of the retraining workflow.",
        )
        self._grant_training_data(role, ["s3:GetObject"], ["s3:ListBucket"])
        # The first run trains on from the configured model: its `model` channel (S3Prefix) lists it.
        bucket, _, key = settings.model_data_url.removeprefix("s3://").partition("/")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                conditions={"StringEquals": {"s3:prefix": [key]}},
            )
        )
        registry = cfn_registry_account(props.detector)
        grant_image_pull(
            role, f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{registry}:repository/{BUILT_IN_REPOSITORY}"
        )
        log_groups = self._stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/TrainingJobs:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions "
            "(the latter is limited to the training jobs' namespace by a condition).",
        )
        acknowledge_wildcards(role, [log_groups], "SageMaker names the training jobs' log streams.")
        return role

    def _training_job(self) -> sfn.TaskStateBase:
        """CreateTrainingJob .sync with the request the dataset step built (one copy of it, in the core)."""
        assert self.training_role is not None
        jobs = self._stack.format_arn(
            service="sagemaker", resource="training-job", resource_name=f"{self._props.name_prefix}-*"
        )
        state = sfn.CustomState(
            self,
            "TrainingJob",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": _forward("$.run.request", TRAINING_REQUEST_KEYS),
                "ResultPath": "$.trained",
            },
        )
        self._training_job_policy = [
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[jobs],
            ),
            # Step Functions tags the job it starts (MANAGED_BY_AWS=STARTED_BY_STEP_FUNCTIONS) and reads
            # its tags (CDK grants ListTags on "*"; the job is the only resource the call reads).
            iam.PolicyStatement(actions=["sagemaker:AddTags", "sagemaker:ListTags"], resources=[jobs]),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    self._stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                    )
                ],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.training_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
        self._training_jobs_arn = jobs
        return state  # type: ignore[return-value]

    def _register_model(self) -> sfn.TaskStateBase:
        group = self._stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=self.group_name
        )
        packages = self._stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{self.group_name}/*"
        )
        return tasks.CallAwsService(
            self,
            "RegisterModel",
            service="sagemaker",
            action="createModelPackage",
            iam_resources=[group, packages],
            parameters=_forward(
                "$.evaluation.request",
                (
                    "ModelPackageGroupName",
                    "ModelPackageDescription",
                    "InferenceSpecification",
                    "ModelApprovalStatus",
                    "CustomerMetadataProperties",
                ),
            ),
            result_path="$.package",
        )

    def _rekognition(self, evaluate: sfn.TaskStateBase) -> sfn.IChainable:
        """CreateProjectVersion, then poll its status; a failed version ends in Training Failed."""
        project = str(self.settings.rekognition_project_arn)
        versions = f"{project.rsplit('/', 1)[0]}/version/{self._props.name_prefix}-*"
        create = self._sdk(
            "CreateProjectVersion",
            with_run=True,
            service="rekognition",
            action="createProjectVersion",
            iam_resources=[project, versions],
            parameters=_forward(
                "$.run.request",
                ("ProjectArn", "VersionName", "OutputConfig", "TrainingData", "TestingData"),
            ),
            result_path="$.version",
        )
        wait = sfn.Wait(self, "WaitForVersion", time=sfn.WaitTime.duration(REKOGNITION_POLL))
        describe = self._sdk(
            "DescribeProjectVersion",
            with_run=True,
            service="rekognition",
            action="describeProjectVersions",
            iam_resources=[project, versions],
            parameters={
                "ProjectArn.$": "$.run.request.ProjectArn",
                "VersionNames.$": "States.Array($.run.request.VersionName)",
            },
            result_selector={"description.$": "$.ProjectVersionDescriptions[0]"},
            result_path="$.described",
        )
        trained = sfn.Pass(
            self, "VersionTrained", input_path="$.described.description", result_path="$.trained"
        )
        failed = sfn.Pass(
            self,
            "VersionFailed",
            parameters={
                "Error": "Rekognition.TrainingFailed",
                "Cause.$": "$.described.description.StatusMessage",
            },
            result_path="$.error",
        )
        failed.next(self._failure("ProjectVersion", with_run=True))
        status = "$.described.description.Status"
        settled = (
            sfn.Choice(self, "VersionStatus")
            .when(sfn.Condition.string_equals(status, "TRAINING_COMPLETED"), trained.next(evaluate))
            .when(sfn.Condition.string_equals(status, "TRAINING_FAILED"), failed)
            .otherwise(wait)
        )
        acknowledge_wildcards(
            self,
            [versions],
            "A run creates and polls the Rekognition version it names, under this stack's prefix.",
        )
        create.next(wait)
        wait.next(describe)
        describe.next(settled)
        return create

    # -- the rollout workflow -------------------------------------------------------------------

    def _rollout_workflow(self, environment: dict[str, str]) -> sfn.StateMachine:
        props = self._props
        detector = props.detector
        assert detector.endpoint_name is not None and detector.model_role is not None
        rollout_env = environment | {
            "ROLLBACK_ALARMS": ",".join(alarm.alarm_name for alarm in props.rollback_alarms),
            "MODEL_ROLE_ARN": detector.model_role.role_arn,
            "DEPLOYED_MODEL_PARAMETER": self.deployed_model_parameter,
            "NETWORK_ISOLATION": "true" if detector.network_isolation else "false",
        }
        self.rollout_function = self._function(
            "RolloutSteps", ROLLOUT_HANDLER, rollout_env, Duration.minutes(1), 512
        )
        self._grant_rollout()
        self._failure_function = self.rollout_function
        prefix = props.name_prefix
        configs = self._stack.format_arn(
            service="sagemaker", resource="endpoint-config", resource_name=f"{prefix}-v*"
        )
        models = self._stack.format_arn(service="sagemaker", resource="model", resource_name=f"{prefix}-v*")
        packages = self._stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{self.group_name}/*"
        )
        endpoint = str(detector.endpoint_arn)

        prepare = self._step(
            "PrepareRollout",
            self.rollout_function,
            {
                "step": "prepare",
                "package_arn": sfn.JsonPath.string_at("$.package_arn"),
                "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
            },
            "$.prepared",
            with_run=False,
        )
        create_model = self._sdk(
            "CreateModel",
            with_run=False,
            service="sagemaker",
            action="createModel",
            iam_resources=[models],
            additional_iam_statements=[
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[detector.model_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
                # CDK's own SageMaker tasks grant ListTags ("*"): here on what the rollout touches.
                iam.PolicyStatement(actions=["sagemaker:ListTags"], resources=[models, configs, endpoint]),
            ],
            parameters=_forward(
                "$.prepared.model",
                ("ModelName", "ExecutionRoleArn", "PrimaryContainer", "EnableNetworkIsolation"),
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        create_config = self._sdk(
            "CreateEndpointConfig",
            with_run=False,
            service="sagemaker",
            action="createEndpointConfig",
            iam_resources=[configs],
            parameters=_forward("$.prepared.endpoint_config", ("EndpointConfigName", "ProductionVariants")),
            result_path=sfn.JsonPath.DISCARD,
        )
        alarms = [alarm.alarm_arn for alarm in props.rollback_alarms]
        update = self._sdk(
            "UpdateEndpoint",
            with_run=False,
            service="sagemaker",
            action="updateEndpoint",
            iam_resources=[endpoint, configs],
            additional_iam_statements=(
                [iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=alarms)]
                if alarms
                else []
            ),
            parameters=_forward(
                "$.prepared.update",
                ("EndpointName", "EndpointConfigName", "RetainAllVariantProperties", "DeploymentConfig"),
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        wait = sfn.Wait(self, "WaitForEndpoint", time=sfn.WaitTime.duration(ROLLOUT_POLL))
        settle = self._step(
            "SettleRollout",
            self.rollout_function,
            {"step": "settle", "prepared": sfn.JsonPath.object_at("$.prepared")},
            "$.settled",
            with_run=False,
        )
        skip = sfn.Choice(self, "RolloutNeeded").when(
            sfn.Condition.string_equals("$.prepared.action", "skip"), sfn.Succeed(self, "AlreadyRolledOut")
        )
        done = (
            sfn.Choice(self, "RolloutSettled")
            .when(sfn.Condition.boolean_equals("$.settled.settled", True), sfn.Succeed(self, "RolloutDone"))
            .otherwise(wait)
        )
        prepare.next(skip.otherwise(create_model))
        create_model.next(create_config)
        create_config.next(update)
        update.next(wait)
        wait.next(settle)
        settle.next(done)
        machine = self._state_machine(
            "Rollout", prepare, "Roll an approved model out blue/green, with rollback.", self.rollout_function
        )
        events.Rule(
            self,
            "ApprovedRule",
            description="An approved model package of this stack's group is rolled out.",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [self.group_name], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[
                targets.SfnStateMachine(
                    machine,
                    input=events.RuleTargetInput.from_object(
                        {"package_arn": events.EventField.from_path("$.detail.ModelPackageArn")}
                    ),
                )
            ],
        )
        acknowledge_wildcards(
            machine.role,
            [configs, models, packages],
            "Each rollout creates a model and endpoint config named after the package version it deploys.",
        )
        return machine

    def _attach_training_job_policy(self, machine: sfn.StateMachine) -> None:
        """The .sync training job integration's permissions (CustomState adds none by itself)."""
        for statement in self._training_job_policy:
            machine.add_to_role_policy(statement)
        acknowledge_wildcards(
            machine.role,
            [
                self._training_jobs_arn,
                self._stack.format_arn(
                    service="sagemaker", resource="model-package", resource_name=f"{self.group_name}/*"
                ),
            ],
            "Training jobs and model package versions are named per run at run time, under this stack's "
            "prefix.",
        )

    def _grant_rollout(self) -> None:
        props, function = self._props, self.rollout_function
        detector = props.detector
        configs = self._stack.format_arn(service="sagemaker", resource="endpoint-config", resource_name="*")
        packages = self._stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{self.group_name}/*"
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint"], resources=[str(detector.endpoint_arn)]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[configs])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages])
        )
        # Which package the endpoint's models run (CloudFormation names the first model).
        models = self._stack.format_arn(service="sagemaker", resource="model", resource_name="*")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=[models])
        )
        current = props.storage.training.arn_for_objects(f"{self.prefix}current-model.json")
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[current]))
        claims = props.storage.training.arn_for_objects(f"{self.prefix}{ROLLOUTS}*")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[claims])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[self._parameter_arn()])
        )
        assert detector.model_role is not None
        detector.model_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[props.storage.training.arn_for_objects(f"{self.prefix}*/output/*")],
            )
        )
        acknowledge_wildcards(
            detector.model_role,
            [props.storage.training.arn_for_objects(f"{self.prefix}*/output/*")],
            "The endpoint serves models trained by the retraining workflow, each under its run's output "
            "folder.",
        )
        acknowledge_wildcards(
            function.role,
            [configs, packages, models, claims],
            "The endpoint's current config and model are named by CloudFormation or an earlier rollout; "
            "package versions are numbered by SageMaker; one claim per approval, named at run time.",
        )

    def _parameter_arn(self) -> str:
        return self._stack.format_arn(
            service="ssm", resource="parameter", resource_name=self.deployed_model_parameter.lstrip("/")
        )

    # -- the deployed-model guard ---------------------------------------------------------------

    def _guard(self, settings: ModelArtifactEndpoint) -> None:
        """A custom resource the endpoint depends on: it fails a deployment serving an older model."""
        props = self._props
        endpoint = props.detector.endpoint
        assert endpoint is not None
        function = self._function("ModelGuard", GUARD_HANDLER, {}, Duration.seconds(30), 256)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self._parameter_arn()])
        )
        # A rollback's Update is told by the stack's status (the request has no rollback flag).
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[self._stack.stack_id])
        )
        provider = cr.Provider(self, "ModelGuardProvider", on_event_handler=function)
        guard = CustomResource(
            self,
            "DeployedModelGuard",
            service_token=provider.service_token,
            resource_type="Custom::DeployedModelGuard",
            properties={
                "ModelDataUrl": settings.model_data_url,
                "ParameterName": self.deployed_model_parameter,
                # Changes whenever CloudFormation would move the endpoint to another config.
                "EndpointConfigName": endpoint.endpoint_config_name,
            },
        )
        endpoint.node.add_dependency(guard)
        acknowledge_wildcards(
            provider,
            [f"{function.function_arn}:*"],
            "CDK's Provider framework invokes its handler function by ARN and any version of it.",
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's Provider framework gives its own function the basic execution role (logs only).",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "The Provider framework's function uses the Node.js runtime pinned by aws-cdk-lib.",
        )


def cfn_registry_account(detector: ModelEndpoint) -> str:
    """The account of the region's built-in object-detection registry: from the detector's own
    mapping when it hosts the built-in image, else from the same map in a mapping of our own."""
    mapping = detector.node.try_find_child("ObjectDetectionRegistry")
    if mapping is None:
        mapping = CfnMapping(
            detector,
            "TrainingImageRegistry",
            mapping={region: {"account": account} for region, account in OBJECT_DETECTION_REGISTRIES.items()},
        )
    assert isinstance(mapping, CfnMapping)
    return mapping.find_in_map(Aws.REGION, "account")
