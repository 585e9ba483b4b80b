"""Human review with Amazon A2I: the task UI, the work team and the flow definition tying them together.

CloudFormation has no flow-definition resource, so a custom resource on CDK's Provider framework
creates it and waits until it is Active. A replaced definition is deleted only once none of its
human loops is open (else by a later deployment, or with the stack): see the handler's docstring.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import (
    Aws,
    CustomResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.deploy_config import ExistingWorkTeam, PrivateWorkTeam, ReviewSettings, WorkTeamSettings
from infra.nag import acknowledge, acknowledge_wildcards
from infra.reviewer_pool import invite_reviewers, invited_reviewers_pool
from infra.storage import Storage

# The portal client's settings as CDK creates them (PortalClient), repeated when its URLs are set.
PORTAL_CLIENT_SETTINGS = {
    "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "SupportedIdentityProviders": ["COGNITO"],
    "AllowedOAuthFlows": ["implicit", "code"],
    "AllowedOAuthScopes": ["email", "openid", "profile"],
    "AllowedOAuthFlowsUserPoolClient": True,
}
TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "task-ui.liquid.html"
HANDLER_DIR = Path(__file__).resolve().parent.parent / "lambdas" / "hitl_flow_definition"


@dataclass(frozen=True)
class HumanReviewProps:
    storage: Storage
    name_prefix: str
    work_team: WorkTeamSettings
    review: ReviewSettings
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays
    template_path: Path = TEMPLATE_PATH


class HumanReview(Construct):
    """Task UI, work team, A2I's service role and the flow definition; `flow_definition_arn` is the result."""

    def __init__(self, scope: Construct, construct_id: str, props: HumanReviewProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        template = props.template_path.read_text()
        template_hash = hashlib.sha256(template.encode()).hexdigest()[:12]
        # The template cannot change in place: a new name (content hash) makes a clean replacement.
        self.task_ui = sagemaker.CfnHumanTaskUi(
            self,
            "TaskUi",
            human_task_ui_name=f"{props.name_prefix}-task-ui-{template_hash}",
            ui_template=sagemaker.CfnHumanTaskUi.UiTemplateProperty(content=template),
        )
        self.user_pool: cognito.UserPool | None = None
        self.user_pool_domain: cognito.UserPoolDomain | None = None
        self.workforce: sagemaker.CfnWorkforce | None = None
        self.work_team: sagemaker.CfnWorkteam | None = None
        if isinstance(props.work_team, ExistingWorkTeam):
            self.work_team_arn = props.work_team.arn
        else:
            self.work_team_arn = self._private_team(props.work_team)

        self.service_role = iam.Role(
            self,
            "A2iRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="A2I: shows reviewers the incoming images and writes their answers.",
        )
        self.service_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[props.storage.input_objects_arn()])
        )
        self.service_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[props.storage.review_output_arn()])
        )
        acknowledge_wildcards(
            self.service_role,
            [props.storage.input_objects_arn(), props.storage.review_output_arn()],
            "A2I reads any image under the incoming prefix and writes answers under its output prefix; "
            "object keys are only known at run time.",
        )
        self.flow_definition = self._flow_definition()
        self.flow_definition_arn = self.flow_definition.get_att_string("FlowDefinitionArn")
        # Every flow definition of this deployment, current or replaced with loops still open.
        self.flow_definition_arn_prefix = Stack.of(self).format_arn(
            service="sagemaker", resource="flow-definition", resource_name=f"{self._flow_prefix}-"
        )

    @property
    def _flow_prefix(self) -> str:
        return f"{self._props.name_prefix}-flow"

    def _private_team(self, team: PrivateWorkTeam) -> str:
        props = self._props
        if team.user_pool_id is not None and team.app_client_id is not None:
            user_pool_id, client_id = team.user_pool_id, team.app_client_id
        elif team.create_workforce:
            user_pool_id, client_id = self._user_pool()
        else:
            user_pool_id, client_id = self._existing_workforce()
        group = cognito.CfnUserPoolGroup(
            self,
            "ReviewersGroup",
            user_pool_id=user_pool_id,
            group_name=f"{props.name_prefix}-reviewers",
            description="Reviewers of the object-detection pipeline's doubtful images.",
        )
        invite_reviewers(self, user_pool_id, {email: [group] for email in team.reviewers})
        if team.create_workforce:
            self.workforce = sagemaker.CfnWorkforce(
                self,
                "Workforce",
                workforce_name=f"{props.name_prefix}-workforce",
                cognito_config=sagemaker.CfnWorkforce.CognitoConfigProperty(
                    client_id=client_id, user_pool=user_pool_id
                ),
            )
            # The labeling portal signs reviewers in through the pool's hosted domain.
            if self.user_pool_domain is not None:
                self.workforce.node.add_dependency(self.user_pool_domain)
            if self.user_pool is not None:
                self._pin_portal_urls(self.user_pool.user_pool_id, client_id, self.workforce)
        self.work_team = sagemaker.CfnWorkteam(
            self,
            "WorkTeam",
            workteam_name=f"{props.name_prefix}-reviewers",
            description="Private team reviewing the object-detection pipeline's doubtful images.",
            workforce_name=self.workforce.workforce_name if self.workforce else None,
            member_definitions=[
                sagemaker.CfnWorkteam.MemberDefinitionProperty(
                    cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                        cognito_client_id=client_id,
                        cognito_user_group=group.ref,
                        cognito_user_pool=user_pool_id,
                    )
                )
            ],
        )
        if self.workforce is not None:
            self.work_team.node.add_dependency(self.workforce)
        return self.work_team.attr_workteam_arn

    def _existing_workforce(self) -> tuple[str, str]:
        """The user pool and app client of the region's one private workforce, read at deploy time."""
        call = cr.AwsSdkCall(
            service="SageMaker",
            action="listWorkforces",
            parameters={},
            physical_resource_id=cr.PhysicalResourceId.of(f"{self._props.name_prefix}-existing-workforce"),
            output_paths=["Workforces.0.CognitoConfig.UserPool", "Workforces.0.CognitoConfig.ClientId"],
        )
        lookup = self._sdk_call_on_deploy(
            "ExistingWorkforce",
            call,
            iam.PolicyStatement(actions=["sagemaker:ListWorkforces"], resources=["*"]),
        )
        acknowledge(
            lookup,
            "AwsSolutions-IAM5[Resource::*]",
            "sagemaker:ListWorkforces has no resource-level permissions; it reads the region's workforce.",
        )
        return (
            lookup.get_response_field("Workforces.0.CognitoConfig.UserPool"),
            lookup.get_response_field("Workforces.0.CognitoConfig.ClientId"),
        )

    def _pin_portal_urls(self, user_pool_id: str, client_id: str, workforce: sagemaker.CfnWorkforce) -> None:
        """Give the portal's app client the labeling portal's sign-in and sign-out URLs.

        The client must exist before the workforce (which names it), and the portal's address
        exists only with the workforce, so CloudFormation cannot set them on the client: this sets
        them after the workforce, with every other setting of the client as CDK defines it
        (UpdateUserPoolClient resets what it is not given), and again on each deployment.
        """
        portal = f"https://{workforce.attr_sub_domain}"
        call = cr.AwsSdkCall(
            service="CognitoIdentityServiceProvider",
            action="updateUserPoolClient",
            parameters={
                "UserPoolId": user_pool_id,
                "ClientId": client_id,
                "CallbackURLs": [f"{portal}/oauth2/idpresponse"],
                "LogoutURLs": [f"{portal}/logout"],
                **PORTAL_CLIENT_SETTINGS,
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{self._props.name_prefix}-portal-urls"),
        )
        pool_arn = Stack.of(self).format_arn(
            service="cognito-idp", resource="userpool", resource_name=user_pool_id
        )
        pin = self._sdk_call_on_deploy(
            "PortalUrls",
            call,
            iam.PolicyStatement(actions=["cognito-idp:UpdateUserPoolClient"], resources=[pool_arn]),
        )
        pin.node.add_dependency(workforce)

    def _sdk_call_on_deploy(
        self, construct_id: str, call: cr.AwsSdkCall, permission: iam.PolicyStatement
    ) -> cr.AwsCustomResource:
        """One SDK call made on every create and update of the stack, allowed exactly `permission`."""
        return cr.AwsCustomResource(
            self,
            construct_id,
            on_create=call,
            on_update=call,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements([permission]),
        )

    def _user_pool(self) -> tuple[str, str]:
        """A user pool for invited reviewers only: no self sign-up, strong passwords, MFA."""
        props = self._props
        pool = invited_reviewers_pool(
            self,
            "Reviewers",
            invitation=(
                "You were added as a reviewer of the object-detection pipeline. "
                "User name: {username} Temporary password: {####} "
                "Your team lead will send you the link of the labeling portal."
            ),
            removal_policy=props.removal_policy,
        )
        self.user_pool_domain = pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=Fn.join("-", [props.name_prefix, "reviewers", Aws.ACCOUNT_ID])
            ),
        )
        # SageMaker's labeling portal signs reviewers in through this client (it needs a secret).
        client = pool.add_client(
            "PortalClient",
            generate_secret=True,
            auth_flows=cognito.AuthFlow(user_srp=True),
            # Placeholders: the labeling portal's URLs are set after the workforce (_pin_portal_urls).
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=True),
                scopes=[cognito.OAuthScope.EMAIL, cognito.OAuthScope.OPENID, cognito.OAuthScope.PROFILE],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        )
        self.user_pool = pool
        return pool.user_pool_id, client.user_pool_client_id

    def _flow_definition(self) -> CustomResource:
        props = self._props
        stack = Stack.of(self)
        flow_prefix = self._flow_prefix
        handler_role = iam.Role(
            self,
            "FlowDefinitionHandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Creates, watches and deletes this stack's A2I flow definitions.",
        )
        handler_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateFlowDefinition",
                    "sagemaker:DescribeFlowDefinition",
                    "sagemaker:DeleteFlowDefinition",
                ],
                resources=[
                    stack.format_arn(
                        service="sagemaker", resource="flow-definition", resource_name=f"{flow_prefix}-*"
                    )
                ],
            )
        )
        # Listing has no resource-level permissions; the handler keeps to its prefix's definitions.
        handler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListFlowDefinitions", "sagemaker:ListHumanLoops"], resources=["*"]
            )
        )
        # Whether a Delete is the stack's deletion (delete everything) or an update's cleanup.
        handler_role.add_to_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[stack.stack_id])
        )
        handler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        log_group = logs.LogGroup(
            self,
            "FlowDefinitionHandlerLogs",
            retention=props.log_retention,
            removal_policy=props.removal_policy,
        )
        log_group.grant_write(handler_role)
        code = lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc"])
        common = {
            "runtime": lambda_.Runtime.PYTHON_3_14,
            "architecture": lambda_.Architecture.ARM_64,
            "code": code,
            "role": handler_role,
            "log_group": log_group,
            # Creation retries for about a minute while a new A2I role propagates.
            "timeout": Duration.seconds(120),
            "memory_size": 256,
        }
        on_event = lambda_.Function(self, "OnEvent", handler="handler.on_event", **common)
        is_complete = lambda_.Function(self, "IsComplete", handler="handler.is_complete", **common)
        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=props.log_retention, removal_policy=props.removal_policy
        )
        waiter_logs = logs.LogGroup(
            self, "WaiterLogs", retention=props.log_retention, removal_policy=props.removal_policy
        )
        provider = cr.Provider(
            self,
            "FlowDefinitionProvider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(15),
            total_timeout=Duration.minutes(30),
            log_group=provider_logs,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=waiter_logs, include_execution_data=False, level=sfn.LogLevel.ALL
            ),
        )
        review = props.review
        resource = CustomResource(
            self,
            "FlowDefinition",
            service_token=provider.service_token,
            resource_type="Custom::A2iFlowDefinition",
            properties={
                "NamePrefix": flow_prefix,
                "RoleArn": self.service_role.role_arn,
                "HumanLoopConfig": {
                    "WorkteamArn": self.work_team_arn,
                    "HumanTaskUiArn": self.task_ui.attr_human_task_ui_arn,
                    "TaskTitle": review.task_title,
                    "TaskDescription": review.task_description,
                    "TaskCount": review.task_count,
                    "TaskAvailabilityLifetimeInSeconds": review.task_availability_lifetime_seconds,
                    "TaskTimeLimitInSeconds": review.task_time_limit_seconds,
                },
                "OutputConfig": {
                    "S3OutputPath": f"s3://{props.storage.review_output.bucket_name}/"
                    f"{props.storage.prefixes.review_output}"
                },
            },
        )
        # A2I checks the role's access when the flow definition is created.
        resource.node.add_dependency(self.service_role)
        self._acknowledge_provider(provider, handler_role, flow_prefix, [on_event, is_complete])
        self.provider = provider
        return resource

    def _acknowledge_provider(
        self,
        provider: cr.Provider,
        handler_role: iam.Role,
        flow_prefix: str,
        handlers: list[lambda_.Function],
    ) -> None:
        """The Provider framework's own functions and waiter, which CDK builds and this stack cannot shape."""
        stack = Stack.of(self)
        acknowledge_wildcards(
            handler_role,
            [
                stack.format_arn(
                    service="sagemaker", resource="flow-definition", resource_name=f"{flow_prefix}-*"
                )
            ],
            "Flow definition names end in a hash of their content, computed at deploy time; "
            "the prefix limits the handler to this stack's flow definitions.",
        )
        framework = [
            provider.node.find_child(name) for name in ("framework-isComplete", "framework-onTimeout")
        ]
        invoked = [*handlers, *(f for f in framework if isinstance(f, lambda_.Function))]
        acknowledge_wildcards(
            provider,
            [f"{function.function_arn}:*" for function in invoked],
            "CDK's Provider framework invokes its handler functions by ARN and any version of them.",
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's Provider framework gives its own functions the basic execution role (logs only).",
        )
        acknowledge(
            handler_role,
            "AwsSolutions-IAM5[Resource::*]",
            "sagemaker:ListFlowDefinitions and sagemaker:ListHumanLoops have no resource-level permissions; "
            "the handler only acts on flow definitions under its prefix.",
        )
        acknowledge(
            provider,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery and the like) has no resource-level "
            "permissions.",
        )
        acknowledge(
            provider,
            "AwsSolutions-SF2",
            "The Provider framework's waiter only polls the is-complete function; its own logs suffice.",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "The Provider framework's functions use the Node.js runtime pinned by aws-cdk-lib.",
        )
