"""The detector the ingest function calls: a SageMaker endpoint built from configuration, one
managed elsewhere, or a Rekognition Custom Labels model version (no endpoint at all).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnMapping,
    CfnRule,
    CfnRuleAssertion,
    Duration,
    Fn,
    Stack,
    Token,
)
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from hitl_core.algorithm_images import BUILT_IN_REPOSITORY, BUILT_IN_TAG, OBJECT_DETECTION_REGISTRIES
from infra.deploy_config import (
    CONTEXT_KEY,
    DeployConfigError,
    EndpointSettings,
    ExistingEndpoint,
    InstanceVariant,
    MarketplaceEndpoint,
    ModelArtifactEndpoint,
    RekognitionEndpoint,
)
from infra.nag import acknowledge, acknowledge_wildcards

VARIANT_NAME = "AllTraffic"


@dataclass(frozen=True)
class ModelEndpointProps:
    settings: EndpointSettings


class ModelEndpoint(Construct):
    """Creates (or names) the detector and grants invoking it; `environment` is the functions' view of it."""

    def __init__(self, scope: Construct, construct_id: str, props: ModelEndpointProps) -> None:
        super().__init__(scope, construct_id)
        settings = props.settings
        self.settings = settings
        self.endpoint: sagemaker.CfnEndpoint | None = None
        self.model_role: iam.Role | None = None
        self.scalable_target: autoscaling.ScalableTarget | None = None
        self.endpoint_name: str | None = None
        self.variant_name: str | None = None
        self.rekognition_project_version_arn: str | None = None
        # EnableNetworkIsolation of the endpoint's model; the rollout gives its models the same.
        self.network_isolation: bool | None = None

        if isinstance(settings, RekognitionEndpoint):
            self.rekognition_project_version_arn = settings.project_version_arn
            return
        self.endpoint_name = settings.endpoint_name
        if isinstance(settings, ExistingEndpoint):
            self.variant_name = settings.variant_name
            return
        self.variant_name = VARIANT_NAME
        self._create_endpoint(settings)

    @property
    def is_sagemaker(self) -> bool:
        return self.endpoint_name is not None

    @property
    def endpoint_arn(self) -> str | None:
        """The endpoint's ARN (SageMaker lower-cases names in ARNs)."""
        if self.endpoint_name is None:
            return None
        return Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name.lower()
        )

    @property
    def environment(self) -> dict[str, str]:
        """What the ingest function needs to call the detector (lambdas/hitl_aws/settings.py)."""
        if self.rekognition_project_version_arn is not None:
            return {"REKOGNITION_PROJECT_VERSION_ARN": self.rekognition_project_version_arn}
        return {"ENDPOINT_NAME": str(self.endpoint_name)}

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        if self.rekognition_project_version_arn is not None:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["rekognition:DetectCustomLabels"],
                resource_arns=[self.rekognition_project_version_arn],
            )
        else:
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["sagemaker:InvokeEndpoint"], resource_arns=[str(self.endpoint_arn)]
            )

    def _create_endpoint(self, settings: ModelArtifactEndpoint | MarketplaceEndpoint) -> None:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ModelRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Lets SageMaker host the detector model: model artifact, image and logs only.",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/Endpoints/{settings.endpoint_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            )
        )
        self.model_role = role

        if isinstance(settings, ModelArtifactEndpoint):
            image, repository_arn = self._image(settings.image_uri)
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image, model_data_url=settings.model_data_url
            )
            bucket, _, key = settings.model_data_url.removeprefix("s3://").partition("/")
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"]
                )
            )
            grant_image_pull(role, repository_arn)
            network_isolation = settings.isolated
        else:
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=settings.model_package_arn
            )
            # Required for AWS Marketplace model packages, which only run on instances (see deploy_config).
            network_isolation = True
        self.network_isolation = network_isolation

        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions "
            "(the latter is limited to the endpoints' namespace by a condition).",
        )
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{settings.endpoint_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        acknowledge_wildcards(
            role, [log_group_arn], "Log streams of this endpoint's log group are named by SageMaker."
        )
        model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=container,
            enable_network_isolation=network_isolation,
        )
        model.node.add_dependency(role)

        variant = settings.variant
        if isinstance(variant, InstanceVariant):
            production_variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=model.attr_model_name,
                initial_variant_weight=1,
                instance_type=variant.instance_type,
                initial_instance_count=variant.initial_instance_count,
            )
        else:
            production_variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=model.attr_model_name,
                initial_variant_weight=1,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    max_concurrency=variant.max_concurrency, memory_size_in_mb=variant.memory_size_mb
                ),
            )
        config = sagemaker.CfnEndpointConfig(self, "EndpointConfig", production_variants=[production_variant])
        acknowledge(
            config,
            "AwsSolutions-SM2",
            "Instance storage is encrypted by SageMaker; a KmsKeyId is refused for instance types with local "
            "NVMe storage and for serverless variants, so none is set.",
        )
        acknowledge(
            model,
            "AwsSolutions-SM1",
            "The model needs no access to private resources; network isolation keeps the container offline.",
        )
        # An update keeps the instance count autoscaling set (and the weights) instead of resetting it.
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=settings.endpoint_name,
            endpoint_config_name=config.attr_endpoint_config_name,
            retain_all_variant_properties=True if isinstance(variant, InstanceVariant) else None,
        )
        if isinstance(variant, InstanceVariant):
            self._autoscale(settings.endpoint_name, variant)

    def _autoscale(self, endpoint_name: str, variant: InstanceVariant) -> None:
        target = autoscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=variant.min_instance_count,
            max_capacity=variant.max_instance_count,
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=variant.target_invocations_per_instance,
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=Duration.seconds(variant.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(variant.scale_out_cooldown_seconds),
        )
        self.scalable_target = target

    def _image(self, image_uri: str | None) -> tuple[str, str]:
        """The container image URI and its ECR repository's ARN (default: the region's built-in image)."""
        if image_uri is None:
            self._require_mapped_region()
            registries = CfnMapping(
                self,
                "ObjectDetectionRegistry",
                mapping={
                    region: {"account": account} for region, account in OBJECT_DETECTION_REGISTRIES.items()
                },
            )
            account = registries.find_in_map(Aws.REGION, "account")
            uri = Fn.join(
                "",
                [
                    account,
                    ".dkr.ecr.",
                    Aws.REGION,
                    ".",
                    Aws.URL_SUFFIX,
                    f"/{BUILT_IN_REPOSITORY}:{BUILT_IN_TAG}",
                ],
            )
            arn = Fn.join(
                "",
                [f"arn:{Aws.PARTITION}:ecr:", Aws.REGION, ":", account, f":repository/{BUILT_IN_REPOSITORY}"],
            )
            return uri, arn
        registry, _, path = image_uri.partition("/")
        account, _, rest = registry.partition(".dkr.ecr.")
        region = rest.split(".", 1)[0]
        repository = path.split("@", 1)[0].rsplit(":", 1)[0]
        return image_uri, f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{repository}"

    def _require_mapped_region(self) -> None:
        """A region the image map lacks fails at synth when known, else before anything is created."""
        region = Stack.of(self).region
        advice = f"set {CONTEXT_KEY}.endpoint.image_uri to the object-detection image of that region"
        if not Token.is_unresolved(region):
            if region not in OBJECT_DETECTION_REGISTRIES:
                raise DeployConfigError(
                    f"no built-in object-detection image is mapped for {region}: {advice}"
                )
            return
        CfnRule(
            self,
            "RegionHasBuiltInImage",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(sorted(OBJECT_DETECTION_REGISTRIES), Aws.REGION),
                    assert_description=f"No built-in object-detection image is mapped here: {advice}.",
                )
            ],
        )


def grant_image_pull(role: iam.Role, repository_arn: str) -> None:
    """Let SageMaker pull a container image from one ECR repository with `role`; ECR's token
    action has no resource to name."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[repository_arn],
        )
    )
    role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
