"""The built-in review service: task table, reviewers' sign-in, the review API, its functions, the review app.

Built instead of A2I (`review.backend = builtin`): ingest writes a task, reviewers sign in with
Cognito's managed login and use the static review app from CloudFront, the API Lambda behind
a JWT authorizer takes their answers, and the outbox turns a finished task into A2I's
`output.json` plus a status event on the project's bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Aws, Duration, Fn, Names, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hitl_aws.review_task_table import TASK_CONTENT_PREFIX
from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.config import ReviewTeam
from hitl_core.gold_loops import gold_image_folder
from hitl_core.wiring import (
    REVIEW_API_STAGE,
    REVIEW_LIFECYCLE_INTERVAL_MINUTES,
    REVIEW_SERVICE_METRIC_NAMESPACE,
    REVIEW_SERVICE_METRIC_SERVICE,
    REVIEW_TASK_TABLE,
    review_service_status_pattern,
)
from hitl_review_service import settings as env
from infra.deploy_config import ReviewSettings
from infra.nag import acknowledge, acknowledge_wildcards
from infra.python_function import PythonFunctionProps, python_function
from infra.reviewer_pool import invite_reviewers, invited_reviewers_pool
from infra.storage import Storage

PACKAGE = "hitl_review_service"
API_HANDLER = f"{PACKAGE}.api.handler"
LIFECYCLE_HANDLER = f"{PACKAGE}.lifecycle.handler"
OUTBOX_HANDLER = f"{PACKAGE}.outbox.handler"
REVIEW_APP_DIR = Path(__file__).resolve().parent.parent / "review_app"
REVIEWERS_GROUP = env.DEFAULT_REVIEWER_GROUP
ADMINS_GROUP = env.DEFAULT_ADMIN_GROUP
FINAL_STATUSES = ("Completed", "Failed", "Stopped")
# Metrics the lifecycle function publishes (Powertools EMF, dimension `service`).
TASKS_WAITING_METRIC = "TasksWaiting"
OLDEST_TASK_AGE_METRIC = "OldestTaskAgeSeconds"
# Room a name keeps for "-<purpose>-<region>" (the longest region name has 14 characters).
_REGION_LENGTH = 14
# (method, path) of every route; all of them sit behind the JWT authorizer.
ROUTES: tuple[tuple[apigw.HttpMethod, str], ...] = (
    (apigw.HttpMethod.GET, "/tasks"),
    (apigw.HttpMethod.GET, "/tasks/{name}"),
    (apigw.HttpMethod.POST, "/tasks/{name}/claim"),
    (apigw.HttpMethod.POST, "/tasks/{name}/release"),
    (apigw.HttpMethod.POST, "/tasks/{name}/answer"),
    (apigw.HttpMethod.POST, "/tasks/{name}/stop"),
    (apigw.HttpMethod.POST, "/tasks/next"),
    (apigw.HttpMethod.GET, "/admin/summary"),
    (apigw.HttpMethod.GET, "/admin/summary.csv"),
    (apigw.HttpMethod.POST, "/admin/tasks/{name}/release"),
)


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    """The API stage's access log destination, in CDK's default format."""

    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> None:
        return None


def service_metric(name: str, statistic: str) -> cloudwatch.Metric:
    """One of the review team's metrics (the sweep's, or the a2i backend's loop starter's)."""
    return cloudwatch.Metric(
        namespace=REVIEW_SERVICE_METRIC_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": REVIEW_SERVICE_METRIC_SERVICE},
        period=Duration.minutes(5),
        statistic=statistic,
    )


def budget_metrics() -> list[cloudwatch.Metric]:
    """The budget's use this hour and today and its limits, as either backend's schedule reports them."""
    names = ("BudgetUsedThisHour", "BudgetLimitPerHour", "BudgetUsedToday", "BudgetLimitPerDay")
    return [service_metric(name, "Maximum") for name in names]


@dataclass(frozen=True)
class ReviewServiceProps:
    storage: Storage
    bus: events.IEventBus
    name_prefix: str
    review: ReviewSettings
    reviewers: list[str]
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays
    app_dir: Path = REVIEW_APP_DIR
    team: ReviewTeam = field(default_factory=ReviewTeam)
    """The configuration's `review` section: priority, budget, gold tasks, agreement."""
    api_throttle: apigw.ThrottleSettings = field(
        default_factory=lambda: apigw.ThrottleSettings(rate_limit=50, burst_limit=100)
    )


class ReviewService(Construct):
    """Everything the built-in backend runs on AWS; `connect_ingest` lets ingest start reviews."""

    def __init__(self, scope: Construct, construct_id: str, props: ReviewServiceProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self.task_availability_seconds = props.review.task_availability_lifetime_seconds
        self.table = self._table()
        self.status_index_arn = f"{self.table.table_arn}/index/{REVIEW_TASK_TABLE.status_index_name}"
        self.queue_index_arn = f"{self.table.table_arn}/index/{REVIEW_TASK_TABLE.queue_index_name}"

        self.site_bucket = self._site_bucket()
        self.sign_in_domain = self._sign_in_domain()
        self.api = self._http_api()
        self.distribution = self._distribution()
        self.site_url = f"https://{self.distribution.distribution_domain_name}"
        self.user_pool = self._user_pool()
        self._add_domain()
        self.client = self._app_client()
        self._groups_and_invitations()

        self.api_function = self._function("ApiFunction", API_HANDLER, "Answers the review app's API calls.")
        self.lifecycle_function = self._function(
            "LifecycleFunction",
            LIFECYCLE_HANDLER,
            "Expires tasks past their lifetime and returns expired leases to the queue.",
            timeout_seconds=50,
        )
        self.outbox_function = self._function(
            "OutboxFunction",
            OUTBOX_HANDLER,
            "Writes output.json and the status event for every task that reached a final status.",
            timeout_seconds=60,
        )
        self._api_routes()
        self.api_url = f"{self.site_url}/{REVIEW_API_STAGE}"
        self._schedule_lifecycle()
        self.outbox_dlq = self._outbox_source()
        self._grant()
        self._grant_task_contents()
        self._deploy_site()

    # The task store
    def _table(self) -> dynamodb.Table:
        spec = REVIEW_TASK_TABLE
        table = dynamodb.Table(
            self,
            "Tasks",
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=self._props.removal_policy,
        )
        table.add_global_secondary_index(
            index_name=spec.status_index_name,
            partition_key=dynamodb.Attribute(
                name=spec.status_index_partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=spec.status_index_sort_key, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # tasks/next reads the best open task first off this one (sparse: only open tasks have `queue`).
        table.add_global_secondary_index(
            index_name=spec.queue_index_name,
            partition_key=dynamodb.Attribute(
                name=spec.queue_index_partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=spec.queue_index_sort_key, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(spec.queue_index_attributes),
        )
        return table

    # Reviewers' sign-in
    def _user_pool(self) -> cognito.IUserPool:
        review = self._props.review
        if review.user_pool_id is not None:
            return cognito.UserPool.from_user_pool_id(self, "Reviewers", review.user_pool_id)
        return invited_reviewers_pool(
            self,
            "Reviewers",
            invitation=Fn.join(
                "",
                [
                    "You were added as a reviewer of the object-detection pipeline. Open ",
                    self.site_url,
                    " and sign in as {username} with the temporary password {####}; "
                    "you will then choose a password and set up an authenticator app.",
                ],
            ),
            removal_policy=self._props.removal_policy,
            sender=review.invitation_sender,
        )

    def _domain_prefix(self) -> str | None:
        """The prefix of a new Cognito sign-in domain; None when the existing pool's domain is used."""
        review = self._props.review
        if review.user_pool_domain is not None:
            return None
        return review.domain_prefix or Fn.join("-", [self._props.name_prefix, "review", Aws.ACCOUNT_ID])

    def _sign_in_domain(self) -> str:
        """The managed login host, known before the pool exists (the site's CSP names it)."""
        prefix = self._domain_prefix()
        if prefix is None:
            return str(self._props.review.user_pool_domain)
        return Fn.join("", [prefix, ".auth.", Aws.REGION, ".amazoncognito.com"])

    def _add_domain(self) -> None:
        prefix = self._domain_prefix()
        if prefix is not None:
            cognito.UserPoolDomain(
                self,
                "Domain",
                user_pool=self.user_pool,
                cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix),
                managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
            )

    def _app_client(self) -> cognito.UserPoolClient:
        """The review app's public client: authorization code + PKCE, no secret, back to the site only."""
        urls = [f"{self.site_url}/", f"{self.site_url}/index.html"]
        client = cognito.UserPoolClient(
            self,
            "AppClient",
            user_pool=self.user_pool,
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=urls,
                logout_urls=urls,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )
        # Managed login shows its pages for a client once it has a style; Cognito's defaults suffice.
        cognito.CfnManagedLoginBranding(
            self,
            "LoginStyle",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=client.user_pool_client_id,
            use_cognito_provided_values=True,
        )
        return client

    def _groups_and_invitations(self) -> None:
        """Groups `reviewers` and `review-admins`; every listed address is invited by e-mail."""
        pool_id = self.user_pool.user_pool_id
        groups = {
            REVIEWERS_GROUP: cognito.CfnUserPoolGroup(
                self,
                "ReviewersGroup",
                user_pool_id=pool_id,
                group_name=REVIEWERS_GROUP,
                description="May list, claim and answer review tasks.",
            ),
            ADMINS_GROUP: cognito.CfnUserPoolGroup(
                self,
                "AdminsGroup",
                user_pool_id=pool_id,
                group_name=ADMINS_GROUP,
                description="May also stop review tasks.",
            ),
        }
        reviewers, admins = groups[REVIEWERS_GROUP], groups[ADMINS_GROUP]
        memberships = {email: [reviewers] for email in self._props.reviewers}
        memberships |= {email: [reviewers, admins] for email in self._props.review.admins}
        invite_reviewers(self, pool_id, memberships)

    # The review app on CloudFront
    def _site_bucket(self) -> s3.Bucket:
        props = self._props
        return s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=props.storage.access_logs,
            server_access_logs_prefix="review-app/",
            removal_policy=props.removal_policy,
            auto_delete_objects=props.removal_policy == RemovalPolicy.DESTROY,
        )

    def _content_security_policy(self) -> str:
        """Only the site's own code and API; images from the input bucket (presigned); sign-in (the app
        calls the token endpoint to sign in and to renew its tokens)."""
        input_bucket = self._props.storage.input.bucket_name
        image_hosts = [
            Fn.join("", ["https://", input_bucket, ".s3.", Aws.REGION, ".amazonaws.com"]),
            Fn.join("", ["https://", input_bucket, ".s3.amazonaws.com"]),
        ]
        sign_in = Fn.join("", ["https://", self.sign_in_domain])
        directives = [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            Fn.join(" ", ["img-src 'self' data: blob:", *image_hosts]),
            Fn.join(" ", ["connect-src 'self'", sign_in]),
            Fn.join(" ", ["form-action 'self'", sign_in]),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
        return Fn.join("; ", directives)

    def _distribution(self) -> cloudfront.Distribution:
        props = self._props
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=self._account_unique_name("headers", 128),
            comment="Review app: content security policy and security headers.",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self._content_security_policy(), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(
                    protection=True, mode_block=True, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy",
                        value="camera=(), microphone=(), geolocation=(), payment=()",
                        override=True,
                    ),
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Opener-Policy", value="same-origin", override=True
                    ),
                ]
            ),
        )
        # CloudFront's standard logs need a bucket that accepts ACLs; the shared log bucket does not.
        logs_bucket = s3.Bucket(
            self,
            "SiteLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            server_access_logs_bucket=props.storage.access_logs,
            server_access_logs_prefix="review-app-logs/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(365))],
            removal_policy=props.removal_policy,
            auto_delete_objects=props.removal_policy == RemovalPolicy.DESTROY,
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="The review app of the object-detection pipeline.",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(
                    self.site_bucket,
                    origin_access_control=cloudfront.S3OriginAccessControl(
                        self,
                        "SiteAccess",
                        origin_access_control_name=self._account_unique_name("site", 64),
                        signing=cloudfront.Signing.SIGV4_ALWAYS,
                    ),
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
            ),
            additional_behaviors={f"/{REVIEW_API_STAGE}/*": self._api_behavior(headers)},
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="distribution/",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "Reviewers may work from any country; every API call needs a Cognito token from an invited user.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR2",
            "The site serves static files only and the API checks a JWT on every route; a WAF web ACL "
            "for CloudFront must live in us-east-1 and is billed monthly: attach one if you need it.",
        )
        acknowledge(
            distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate fixes the minimum viewer TLS version; a custom domain "
            "with an ACM certificate lets you require TLS 1.2.",
        )
        return distribution

    def _account_unique_name(self, purpose: str, max_length: int) -> str:
        """A name CloudFront keeps unique per account: this construct's unique name, plus the region."""
        room = max_length - len(purpose) - _REGION_LENGTH - 2
        return Fn.join("-", [Names.unique_resource_name(self, max_length=room), purpose, Aws.REGION])

    def _api_behavior(self, headers: cloudfront.IResponseHeadersPolicy) -> cloudfront.BehaviorOptions:
        """`/api/*` to the HTTP API's stage `api`: the app calls its own origin, so no CORS. Nothing is
        cached, and every viewer header but Host (the Authorization header too) reaches the API."""
        api_host = Fn.join("", [self.api.api_id, ".execute-api.", Aws.REGION, ".", Aws.URL_SUFFIX])
        return cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(api_host, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=headers,
        )

    def _deploy_site(self) -> None:
        """The static review app plus `config.json`, its runtime settings written at deploy time."""
        config = {
            "auth": {
                "mode": "cognito",
                "userPoolClientId": self.client.user_pool_client_id,
                "domain": self.sign_in_domain,
                "region": Aws.REGION,
            },
        }
        deployment = s3deploy.BucketDeployment(
            self,
            "SiteFiles",
            sources=[
                s3deploy.Source.asset(str(self._props.app_dir), exclude=["config.json"]),
                s3deploy.Source.json_data("config.json", config),
            ],
            destination_bucket=self.site_bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
            log_group=logs.LogGroup(
                self,
                "SiteFilesLogs",
                retention=self._props.log_retention,
                removal_policy=self._props.removal_policy,
            ),
        )
        acknowledge_wildcards(
            deployment.handler_role,
            [self.site_bucket.arn_for_objects("*")],
            "CDK's BucketDeployment helper replaces and prunes every file of the review app's own bucket.",
        )

    # The functions
    def _environment(self) -> dict[str, str]:
        props = self._props
        review = props.review
        return {
            env.REVIEW_TASKS_TABLE: self.table.table_name,
            env.REVIEW_OUTPUT_BUCKET: props.storage.review_output.bucket_name,
            env.REVIEW_OUTPUT_PREFIX: props.storage.prefixes.review_output,
            env.EVENT_BUS_NAME: props.bus.event_bus_name,
            env.REVIEW_TASK_COUNT: str(review.task_count),
            env.REVIEW_TASK_TIME_LIMIT_SECONDS: str(review.task_time_limit_seconds),
            env.REVIEW_TASK_AVAILABILITY_SECONDS: str(review.task_availability_lifetime_seconds),
            env.IMAGE_URL_TTL_SECONDS: str(env.DEFAULT_IMAGE_URL_TTL_SECONDS),
            env.REVIEWER_GROUP: REVIEWERS_GROUP,
            env.REVIEW_ADMIN_GROUP: ADMINS_GROUP,
            env.REVIEW_SERVICE_NAME: props.name_prefix,
            env.REVIEW_TEAM: props.team.model_dump_json(),
            "POWERTOOLS_SERVICE_NAME": REVIEW_SERVICE_METRIC_SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": REVIEW_SERVICE_METRIC_NAMESPACE,
        }

    def _function(
        self, construct_id: str, handler: str, description: str, timeout_seconds: int = 10
    ) -> lambda_.Function:
        return python_function(
            self,
            construct_id,
            PythonFunctionProps(
                package=PACKAGE,
                handler=handler,
                description=description,
                role_description=f"Review service: {description}",
                timeout=Duration.seconds(timeout_seconds),
                memory_size=512,
                environment=self._environment(),
                log_retention=self._props.log_retention,
                removal_policy=self._props.removal_policy,
            ),
        )

    def _http_api(self) -> apigw.HttpApi:
        """The HTTP API, before its routes: the distribution's `/api/*` behaviour needs its id, its
        authorizer needs the app client, and the client needs the distribution's address."""
        return apigw.HttpApi(
            self,
            "Api",
            api_name=f"{self._props.name_prefix}-review-api",
            description="The review app's API: list, open, claim, release, answer and stop review tasks.",
            create_default_stage=False,
        )

    def _api_routes(self) -> None:
        """Every route behind the JWT authorizer, on the stage `api` that CloudFront's `/api/*` reaches."""
        props = self._props
        authorizer = authorizers.HttpJwtAuthorizer(
            "Reviewers",
            Fn.join("", ["https://cognito-idp.", Aws.REGION, ".amazonaws.com/", self.user_pool.user_pool_id]),
            jwt_audience=[self.client.user_pool_client_id],
            identity_source=["$request.header.Authorization"],
        )
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=props.log_retention, removal_policy=props.removal_policy
        )
        self.stage = apigw.HttpStage(
            self,
            "ApiStage",
            http_api=self.api,
            stage_name=REVIEW_API_STAGE,
            auto_deploy=True,
            throttle=props.api_throttle,
            access_log_settings=_AccessLogs(apigw.LogGroupLogDestination(access_logs)),
        )
        integration = integrations.HttpLambdaIntegration("Tasks", self.api_function)
        for method, path in ROUTES:
            self.api.add_routes(path=path, methods=[method], integration=integration, authorizer=authorizer)

    def _schedule_lifecycle(self) -> None:
        events.Rule(
            self,
            "LifecycleSchedule",
            description="Sweeps the review tasks: expiry and lease timeouts.",
            schedule=events.Schedule.rate(Duration.minutes(REVIEW_LIFECYCLE_INTERVAL_MINUTES)),
            targets=[
                targets.LambdaFunction(
                    self.lifecycle_function, retry_attempts=2, max_event_age=Duration.minutes(2)
                )
            ],
        )

    def _outbox_source(self) -> sqs.Queue:
        """The outbox reads final status changes from the stream; records it cannot settle are parked."""
        dlq = sqs.Queue(
            self,
            "OutboxDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=self._props.removal_policy,
        )
        acknowledge(
            dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the outbox's stream; an alarm watches it.",
        )
        status = REVIEW_TASK_TABLE.status_index_partition_key
        self.outbox_function.add_event_source(
            sources.DynamoEventSource(
                self.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=10,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(dlq),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {"dynamodb": {"NewImage": {status: {"S": lambda_.FilterRule.or_(*FINAL_STATUSES)}}}}
                    )
                ],
            )
        )
        return dlq

    def _grant(self) -> None:
        """Each function may touch exactly what its job needs, named; tasks are replaced whole (versioned)."""
        storage = self._props.storage
        table, index = self.table.table_arn, self.status_index_arn
        # A claim is a transaction: the task's PutItem with the budget counters' UpdateItem.
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources=[table]
            )
        )
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[index, self.queue_index_arn])
        )
        # A presigned GET is signed with the function's own credentials; it names the task's version.
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[storage.input_objects_arn()]
            )
        )
        acknowledge_wildcards(
            self.api_function.role,
            [storage.input_objects_arn()],
            "The API presigns a GET for the image of the task a reviewer opens: any key under the incoming "
            "prefix, known only at run time.",
        )
        self._grant_gold()
        # GetItem: the budget counters the sweep reports as metrics.
        self.lifecycle_function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem", "dynamodb:GetItem"], resources=[table])
        )
        self.lifecycle_function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[index])
        )
        # Both announce final statuses: the outbox from the stream, the sweep those the stream missed.
        for function in (self.outbox_function, self.lifecycle_function):
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[storage.review_output_arn()])
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table])
            )
            self._props.bus.grant_put_events_to(function)
            acknowledge_wildcards(
                function.role,
                [storage.review_output_arn()],
                "Announcing a completed task writes its output.json under the review-output prefix; keys "
                "carry the task's name and time.",
            )

    def _grant_gold(self) -> None:
        """With gold tasks the API reads their manifest and presigns their images (the manifest's folder,
        where `gold_image_folder` keeps them), and announces a reviewer whose gold score is low."""
        gold = self._props.team.gold
        if gold is None:
            return
        self._props.bus.grant_put_events_to(self.api_function)
        if gold.manifest:
            bucket, folder = parse_s3_uri(gold_image_folder(gold.manifest))
            objects = f"arn:{Aws.PARTITION}:s3:::{bucket}/{folder}*"
            self.api_function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects])
            )
            acknowledge_wildcards(
                self.api_function.role,
                [objects],
                "The API reads the gold manifest and presigns a gold task's image: objects under the "
                "manifest's folder, where gold images must lie.",
            )

    def _task_contents_arn(self) -> str:
        """Where ingest keeps an InputContent too large for the task item (training bucket)."""
        return self._props.storage.training.arn_for_objects(f"{TASK_CONTENT_PREFIX}*")

    def _grant_task_contents(self) -> None:
        """Every function that reads tasks may read a large InputContent kept in S3."""
        for function in (self.api_function, self.lifecycle_function, self.outbox_function):
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[self._task_contents_arn()])
            )
            acknowledge_wildcards(
                function.role,
                [self._task_contents_arn()],
                "A task's large InputContent is kept under the task-contents prefix, one key per task name.",
            )

    def connect_ingest(self, function: lambda_.Function) -> None:
        """Ingest starts reviews here: a conditional put of the task (and of a large InputContent in S3);
        with `when_spent: accept` it also reads the team's budget counters (GetItem)."""
        function.add_environment(env.REVIEW_TASKS_TABLE, self.table.table_name)
        reads = ["dynamodb:GetItem"] if self._props.team.budget.over_budget_rule().accept else []
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem", *reads], resources=[self.table.table_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._task_contents_arn()])
        )
        acknowledge_wildcards(
            function.role,
            [self._task_contents_arn()],
            "Ingest keeps a task's large InputContent under the task-contents prefix, one key per task name.",
        )

    # Metrics for the alarms and the dashboard
    def metric_api_5xx(self) -> cloudwatch.Metric:
        return self.api.metric_server_error(period=Duration.minutes(5), statistic="Sum")

    def metric_tasks_waiting(self) -> cloudwatch.Metric:
        return self._service_metric(TASKS_WAITING_METRIC, "Maximum")

    def metric_oldest_task_age(self) -> cloudwatch.Metric:
        return self._service_metric(OLDEST_TASK_AGE_METRIC, "Maximum")

    def metric_budget(self) -> list[cloudwatch.Metric]:
        """Reviews counted against the budget this hour and today, and the limits (the sweep's)."""
        return budget_metrics()

    def _service_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return service_metric(name, statistic)

    def status_pattern(self) -> dict[str, Any]:
        """The EventBridge pattern (project bus) of this service's task status changes."""
        return review_service_status_pattern(self._props.name_prefix)
