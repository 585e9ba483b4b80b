"""The built-in review service: task table, sign-in, the API behind its authorizer, functions, review app."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cdk_scenarios import (
    ADMINS,
    REVIEWERS,
    USER_POOL_ID,
    actions_of,
    deployed_environment,
    only,
    policy_statements,
    resources,
    statement_for,
)

from hitl_aws.review_task_table import TASK_CONTENT_PREFIX
from hitl_core.wiring import REVIEW_API_STAGE, REVIEW_LIFECYCLE_INTERVAL_MINUTES, REVIEW_TASK_TABLE
from hitl_review_service.settings import ApiSettings, LifecycleSettings, OutboxSettings
from infra.pipeline import INGEST_HANDLER
from infra.review_service import (
    ADMINS_GROUP,
    API_HANDLER,
    LIFECYCLE_HANDLER,
    OUTBOX_HANDLER,
    REVIEWERS_GROUP,
    ROUTES,
)

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


def logical(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (name,) = [k for k in resources(template, resource_type) if k.startswith(prefix)]
    return name


def function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v["Properties"]) for k, v in resources(template, "AWS::Lambda::Function").items()
                if v["Properties"].get("Handler") == handler]  # fmt: skip
    return found


def role_of(template: dict[str, Any], handler: str) -> str:
    return function(template, handler)[1]["Role"]["Fn::GetAtt"][0]


@pytest.fixture(scope="module")
def builtin(synthesized) -> dict[str, Any]:
    return synthesized.templates["Builtin"]


def test_task_table_is_laid_out_as_the_wiring_says(builtin) -> None:
    table = only(builtin, "AWS::DynamoDB::Table")["Properties"]
    spec = REVIEW_TASK_TABLE

    assert table["KeySchema"] == [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": spec.stream_view_type}
    index, queue = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == spec.status_index_name
    assert index["KeySchema"] == [
        {"AttributeName": spec.status_index_partition_key, "KeyType": "HASH"},
        {"AttributeName": spec.status_index_sort_key, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert queue["IndexName"] == spec.queue_index_name
    assert queue["KeySchema"] == [
        {"AttributeName": spec.queue_index_partition_key, "KeyType": "HASH"},
        {"AttributeName": spec.queue_index_sort_key, "KeyType": "RANGE"},
    ]
    assert queue["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(spec.queue_index_attributes),
    }
    # The same layout the local stand-in and the tests create.
    request = spec.create_table_request("t")
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(request["AttributeDefinitions"], key=str)
    assert [i["IndexName"] for i in request["GlobalSecondaryIndexes"]] == [
        index["IndexName"],
        queue["IndexName"],
    ]


def test_every_route_of_the_contract_sits_behind_the_jwt_authorizer(builtin) -> None:
    routes = [r["Properties"] for r in resources(builtin, "AWS::ApiGatewayV2::Route").values()]
    authorizer = logical(builtin, "AWS::ApiGatewayV2::Authorizer", "ReviewServiceApi")

    assert sorted(r["RouteKey"] for r in routes) == sorted(f"{m.value} {p}" for m, p in ROUTES)
    for route in routes:
        assert route["AuthorizationType"] == "JWT", route["RouteKey"]
        assert route["AuthorizerId"] == {"Ref": authorizer}, route["RouteKey"]


def test_authorizer_trusts_only_this_pools_tokens_for_the_review_app(builtin) -> None:
    jwt = only(builtin, "AWS::ApiGatewayV2::Authorizer")["Properties"]
    pool = logical(builtin, "AWS::Cognito::UserPool", "ReviewServiceReviewers")
    client = logical(builtin, "AWS::Cognito::UserPoolClient", "ReviewServiceAppClient")

    assert jwt["AuthorizerType"] == "JWT"
    assert jwt["IdentitySource"] == ["$request.header.Authorization"]
    assert jwt["JwtConfiguration"]["Audience"] == [{"Ref": client}]
    assert jwt["JwtConfiguration"]["Issuer"] == {
        "Fn::Join": ["", ["https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com/", {"Ref": pool}]]
    }


def test_api_allows_no_cross_origin_calls_since_the_app_calls_it_on_its_own_origin(builtin) -> None:
    assert "CorsConfiguration" not in only(builtin, "AWS::ApiGatewayV2::Api")["Properties"]


def test_api_stage_logs_and_throttles(builtin) -> None:
    stage = only(builtin, "AWS::ApiGatewayV2::Stage")["Properties"]

    # The stage CloudFront's /api/* behaviour reaches: API Gateway takes the stage off the path.
    assert stage["StageName"] == REVIEW_API_STAGE == "api" and stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0].startswith(
        "ReviewServiceApiAccessLogs"
    )
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_user_pool_for_invited_reviewers_with_both_groups(builtin) -> None:
    pool = only(builtin, "AWS::Cognito::UserPool")["Properties"]
    groups = {
        g["Properties"]["GroupName"] for g in resources(builtin, "AWS::Cognito::UserPoolGroup").values()
    }
    users = sorted(
        u["Properties"]["Username"] for u in resources(builtin, "AWS::Cognito::UserPoolUser").values()
    )
    memberships = [m["Properties"] for m in
                   resources(builtin, "AWS::Cognito::UserPoolUserToGroupAttachment").values()]  # fmt: skip
    group_ids = {
        g["Properties"]["GroupName"]: k for k, g in resources(builtin, "AWS::Cognito::UserPoolGroup").items()
    }

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert groups == {REVIEWERS_GROUP, ADMINS_GROUP}
    assert users == sorted(set(REVIEWERS) | set(ADMINS))
    in_group = {name: sorted(m["Username"] for m in memberships if m["GroupName"] == {"Ref": ref})
                for name, ref in group_ids.items()}  # fmt: skip
    assert in_group == {REVIEWERS_GROUP: sorted(set(REVIEWERS) | set(ADMINS)), ADMINS_GROUP: sorted(ADMINS)}


def test_app_client_is_public_with_code_flow_back_to_the_review_app(builtin) -> None:
    client = only(builtin, "AWS::Cognito::UserPoolClient")["Properties"]
    distribution = logical(builtin, "AWS::CloudFront::Distribution", "ReviewServiceDistribution")
    site = ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}]

    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert "openid" in client["AllowedOAuthScopes"]
    assert client["CallbackURLs"] == [
        {"Fn::Join": ["", [*site, "/"]]},
        {"Fn::Join": ["", [*site, "/index.html"]]},
    ]
    assert client["LogoutURLs"] == client["CallbackURLs"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]


def test_managed_login_domain_and_style(builtin) -> None:
    domain = only(builtin, "AWS::Cognito::UserPoolDomain")["Properties"]
    style = only(builtin, "AWS::Cognito::ManagedLoginBranding")["Properties"]

    assert domain["ManagedLoginVersion"] == 2
    assert domain["Domain"] == {"Fn::Join": ["-", ["hitl-review", {"Ref": "AWS::AccountId"}]]}
    assert style["UseCognitoProvidedValues"] is True
    assert style["ClientId"]["Ref"].startswith("ReviewServiceAppClient")


def test_an_existing_pool_gets_the_groups_and_client_but_no_new_pool_or_domain(synthesized) -> None:
    template = synthesized.templates["BuiltinExistingPool"]

    assert not resources(template, "AWS::Cognito::UserPool")
    assert not resources(template, "AWS::Cognito::UserPoolDomain")
    assert not resources(template, "AWS::Cognito::UserPoolUser")
    for group in resources(template, "AWS::Cognito::UserPoolGroup").values():
        assert group["Properties"]["UserPoolId"] == USER_POOL_ID
    assert only(template, "AWS::Cognito::UserPoolClient")["Properties"]["UserPoolId"] == USER_POOL_ID
    issuer = only(template, "AWS::ApiGatewayV2::Authorizer")["Properties"]["JwtConfiguration"]["Issuer"]
    assert issuer["Fn::Join"][1][-1].endswith(f".amazonaws.com/{USER_POOL_ID}")


def site_bucket(synthesized) -> str:
    stack = synthesized.stacks["Builtin"]
    return stack.resolve(stack.review_service.site_bucket.bucket_name)["Ref"]


def test_review_app_bucket_is_private_encrypted_and_tls_only(synthesized, builtin) -> None:
    name = site_bucket(synthesized)
    bucket = builtin["Resources"][name]["Properties"]
    policies = resources(builtin, "AWS::S3::BucketPolicy").values()
    (policy,) = [
        p["Properties"]["PolicyDocument"] for p in policies if p["Properties"]["Bucket"] == {"Ref": name}
    ]

    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    reads = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert all(
        s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        for s in reads
        if "s3:GetObject" in s["Action"]
    )


def test_distribution_serves_the_bucket_through_origin_access_control_over_https(builtin) -> None:
    config = only(builtin, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    oac = logical(builtin, "AWS::CloudFront::OriginAccessControl", "ReviewServiceSiteAccess")
    headers = logical(builtin, "AWS::CloudFront::ResponseHeadersPolicy", "ReviewServiceHeaders")

    (origin,) = [origin for origin in config["Origins"] if "S3OriginConfig" in origin]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == origin["Id"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers}
    assert config["DefaultRootObject"] == "index.html"
    assert config["Logging"]["Bucket"]["Fn::GetAtt"][0].startswith("ReviewServiceSiteLogs")


def test_the_api_is_served_under_api_on_the_sites_own_origin_uncached_with_the_viewers_headers(
    builtin,
) -> None:
    config = only(builtin, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    headers = logical(builtin, "AWS::CloudFront::ResponseHeadersPolicy", "ReviewServiceHeaders")

    (behavior,) = config["CacheBehaviors"]
    assert behavior["PathPattern"] == "/api/*"
    (origin,) = [origin for origin in config["Origins"] if origin["Id"] == behavior["TargetOriginId"]]
    region, suffix = {"Ref": "AWS::Region"}, {"Ref": "AWS::URLSuffix"}
    host = [{"Ref": api_id(builtin)}, ".execute-api.", region, ".", suffix]
    assert origin["DomainName"] == {"Fn::Join": ["", host]}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "OriginPath" not in origin or origin["OriginPath"] == ""
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert {"GET", "POST"} <= set(behavior["AllowedMethods"])
    # AWS's managed policies: CachingDisabled; AllViewerExceptHostHeader, which forwards the
    # Authorization header when nothing is cached (and API Gateway needs its own Host).
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert behavior["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers}


def test_headers_policy_sets_a_strict_csp_that_admits_presigned_images_api_and_sign_in(
    synthesized, builtin
) -> None:
    stack = synthesized.stacks["Builtin"]
    policy = only(builtin, "AWS::CloudFront::ResponseHeadersPolicy")["Properties"][
        "ResponseHeadersPolicyConfig"
    ]
    security = policy["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    input_bucket = json.dumps(stack.resolve(stack.storage.input.bucket_name))

    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert f'"img-src \'self\' data: blob:", {{"Fn::Join": ["", ["https://", {input_bucket}, ".s3.", ' in csp
    assert '".auth.", {"Ref": "AWS::Region"}, ".amazoncognito.com"' in csp
    assert "execute-api" not in csp and "*" not in csp
    (connect,) = [d for d in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Join"][1]
                  if "connect-src" in json.dumps(d)]  # fmt: skip
    # Its own origin (the app and the API) and the sign-in domain's token endpoint, nothing else.
    assert connect["Fn::Join"][1][0] == "connect-src 'self'" and len(connect["Fn::Join"][1]) == 2
    assert ".amazoncognito.com" in json.dumps(connect["Fn::Join"][1][1])
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"


def test_review_app_files_and_a_deploy_time_config_are_uploaded(synthesized, builtin) -> None:
    deployment = only(builtin, "Custom::CDKBucketDeployment")["Properties"]
    site = site_bucket(synthesized)
    distribution = logical(builtin, "AWS::CloudFront::Distribution", "ReviewServiceDistribution")
    manifest = json.loads((synthesized.outdir / "Builtin.assets.json").read_text())
    (config_file,) = [
        synthesized.outdir / asset["source"]["path"] / "config.json"
        for key, asset in manifest["files"].items()
        if f"{key}.zip" in deployment["SourceObjectKeys"]
        and (synthesized.outdir / asset["source"]["path"] / "config.json").exists()
    ]

    assert deployment["DestinationBucketName"] == {"Ref": site}
    assert deployment["DistributionId"] == {"Ref": distribution}
    assert len(deployment["SourceObjectKeys"]) == 2
    markers = deployment["SourceMarkers"][1]
    # CDK writes each deploy-time value as a bare marker that the upload replaces with the JSON value.
    config = json.loads(re.sub(r"(<<marker:[^>]+>>)", r'"\1"', config_file.read_text()))

    assert config["auth"]["mode"] == "cognito"
    assert set(config["auth"]) == {"mode", "userPoolClientId", "domain", "region"}
    assert set(config) == {"auth"}, "the app calls the API on its own origin, at api/"
    client, region = config["auth"]["userPoolClientId"], config["auth"]["region"]
    assert markers[client]["Fn::Join"][1][1]["Ref"].startswith("ReviewServiceAppClient")
    assert markers[region] == {"Fn::Join": ["", ['"', {"Ref": "AWS::Region"}, '"']]}
    assert ".amazoncognito.com" in json.dumps(markers[config["auth"]["domain"]])


def api_id(template: dict[str, Any]) -> str:
    return next(iter(resources(template, "AWS::ApiGatewayV2::Api")))


def test_functions_run_the_service_package_with_the_contracts_environment(builtin) -> None:
    table = logical(builtin, "AWS::DynamoDB::Table", "ReviewServiceTasks")
    bus = logical(builtin, "AWS::Events::EventBus", "PipelineBus")
    for handler in (API_HANDLER, LIFECYCLE_HANDLER, OUTBOX_HANDLER):
        props = function(builtin, handler)[1]
        env = props["Environment"]["Variables"]
        assert props["Runtime"] == "python3.14" and props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert env["REVIEW_TASKS_TABLE"] == {"Ref": table}
        assert env["EVENT_BUS_NAME"] == {"Ref": bus}
        assert env["REVIEW_OUTPUT_PREFIX"] == "a2i-output/"
        assert (env["REVIEW_TASK_COUNT"], env["REVIEW_TASK_TIME_LIMIT_SECONDS"]) == ("2", "3600")
        assert env["REVIEW_TASK_AVAILABILITY_SECONDS"] == "86400"
        assert (env["IMAGE_URL_TTL_SECONDS"], env["REVIEW_ADMIN_GROUP"]) == ("300", ADMINS_GROUP)
        assert env["REVIEW_SERVICE_NAME"] == "hitl"
        assert env["REVIEWER_GROUP"] == REVIEWERS_GROUP


def test_lifecycle_runs_on_its_schedule(builtin) -> None:
    name, _ = function(builtin, LIFECYCLE_HANDLER)
    (schedule,) = [r["Properties"] for r in resources(builtin, "AWS::Events::Rule").values()
                   if "ScheduleExpression" in r["Properties"]
                   and r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [name, "Arn"]}]  # fmt: skip

    assert schedule["ScheduleExpression"] == f"rate({REVIEW_LIFECYCLE_INTERVAL_MINUTES} minute)"
    assert schedule["Targets"][0]["Arn"] == {"Fn::GetAtt": [name, "Arn"]}
    assert schedule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_outbox_reads_final_status_changes_with_partial_failures_retries_and_a_dlq(builtin) -> None:
    name, _ = function(builtin, OUTBOX_HANDLER)
    (mapping,) = [m["Properties"] for m in resources(builtin, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"] == {"Ref": name}]  # fmt: skip
    dlq = logical(builtin, "AWS::SQS::Queue", "ReviewServiceOutboxDlq")

    assert mapping["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] >= 1
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}}
    (criteria,) = mapping["FilterCriteria"]["Filters"]
    statuses = json.loads(criteria["Pattern"])["dynamodb"]["NewImage"][
        REVIEW_TASK_TABLE.status_index_partition_key
    ]
    assert statuses == {"S": ["Completed", "Failed", "Stopped"]}


def test_api_function_may_read_and_replace_tasks_and_presign_incoming_images_only(builtin) -> None:
    statements = policy_statements(builtin, role_of(builtin, API_HANDLER))
    table = logical(builtin, "AWS::DynamoDB::Table", "ReviewServiceTasks")
    index = {
        "Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, f"/index/{REVIEW_TASK_TABLE.status_index_name}"]]
    }

    queue = {
        "Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, f"/index/{REVIEW_TASK_TABLE.queue_index_name}"]]
    }

    tasks = statement_for(statements, "dynamodb:GetItem")
    assert (set(tasks["Action"]), tasks["Resource"]) == (
        {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        {"Fn::GetAtt": [table, "Arn"]},
    )
    assert statement_for(statements, "dynamodb:Query")["Resource"] == [index, queue]
    assert json.dumps(statement_for(statements, "s3:GetObject")["Resource"]).endswith('"/incoming/*"]]}')
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if a.startswith(("events:", "dynamodb:Delete", "s3:Put"))}


def test_outbox_may_write_answers_and_announce_on_the_project_bus_only(builtin) -> None:
    statements = policy_statements(builtin, role_of(builtin, OUTBOX_HANDLER))
    bus = logical(builtin, "AWS::Events::EventBus", "PipelineBus")

    assert json.dumps(statement_for(statements, "s3:PutObject")["Resource"]).endswith('"/a2i-output/*"]]}')
    assert statement_for(statements, "events:PutEvents")["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    assert statement_for(statements, "sqs:SendMessage")["Resource"]["Fn::GetAtt"][0].startswith(
        "ReviewServiceOutboxDlq"
    )


def test_lifecycle_sweeps_the_table_and_announces_what_the_stream_missed(builtin) -> None:
    statements = policy_statements(builtin, role_of(builtin, LIFECYCLE_HANDLER))
    bus = logical(builtin, "AWS::Events::EventBus", "PipelineBus")

    assert statement_for(statements, "dynamodb:UpdateItem")["Resource"]["Fn::GetAtt"][0].startswith(
        "ReviewServiceTasks"
    )
    assert json.dumps(statement_for(statements, "s3:PutObject")["Resource"]).endswith('"/a2i-output/*"]]}')
    assert statement_for(statements, "events:PutEvents")["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}


@pytest.mark.parametrize(
    ("handler", "settings"),
    [(API_HANDLER, ApiSettings), (LIFECYCLE_HANDLER, LifecycleSettings), (OUTBOX_HANDLER, OutboxSettings)],
)
def test_every_service_function_gets_the_environment_its_settings_require(
    builtin, handler: str, settings: type
) -> None:
    loaded = settings.from_env(deployed_environment(builtin, handler))

    if hasattr(loaded, "timing"):
        assert (loaded.timing.task_count, loaded.timing.lease_seconds) == (2, 3600)
    if isinstance(loaded, OutboxSettings):
        assert (loaded.output_prefix, loaded.service_name) == ("a2i-output/", "hitl")


# CloudFront names unique per account (not per region), with the longest each may be.
ACCOUNT_UNIQUE_NAMES = {
    "AWS::CloudFront::ResponseHeadersPolicy": ("ResponseHeadersPolicyConfig", 128),
    "AWS::CloudFront::CachePolicy": ("CachePolicyConfig", 128),
    "AWS::CloudFront::OriginRequestPolicy": ("OriginRequestPolicyConfig", 128),
    "AWS::CloudFront::OriginAccessControl": ("OriginAccessControlConfig", 64),
}
LONGEST_REGION = "ap-southeast-5"


def deployed_value(value: Any, stack_name: str, region: str) -> str:
    """A name as CloudFormation would resolve it in `region` (joins of strings and pseudo parameters)."""
    pseudo = {"AWS::Region": region, "AWS::StackName": stack_name, "AWS::AccountId": "123456789012"}
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return pseudo[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(deployed_value(part, stack_name, region) for part in parts)


def account_unique_names(synthesized, scenario: str, region: str) -> dict[str, str]:
    stack_name = synthesized.stacks[scenario].stack_name
    template = synthesized.templates[scenario]
    names = {}
    for resource_type, (config, limit) in ACCOUNT_UNIQUE_NAMES.items():
        for logical_id, resource in resources(template, resource_type).items():
            name = deployed_value(resource["Properties"][config]["Name"], stack_name, region)
            assert (
                len(deployed_value(resource["Properties"][config]["Name"], stack_name, LONGEST_REGION))
                <= limit
            )
            names[logical_id] = name
    return names


def test_cloudfront_names_unique_per_account_differ_between_regions_and_stacks(synthesized) -> None:
    here = account_unique_names(synthesized, "Builtin", "us-east-1")
    other_region = account_unique_names(synthesized, "Builtin", "eu-west-1")
    other_stack = account_unique_names(synthesized, "BuiltinExistingPool", "us-east-1")

    assert {"AWS::CloudFront::ResponseHeadersPolicy", "AWS::CloudFront::OriginAccessControl"} <= {
        synthesized.templates["Builtin"]["Resources"][k]["Type"] for k in here
    }
    assert not set(here.values()) & set(other_region.values())
    assert not set(here.values()) & set(other_stack.values())


def test_a_large_input_content_is_written_by_ingest_and_read_by_the_service_only_under_its_prefix(
    builtin,
) -> None:
    def allowed(handler: str, action: str) -> str:
        statements = [
            s for s in policy_statements(builtin, role_of(builtin, handler)) if action in actions_of(s)
        ]
        return json.dumps([s["Resource"] for s in statements])

    contents = f'"/{TASK_CONTENT_PREFIX}*"]]}}'
    assert contents in allowed(INGEST_HANDLER, "s3:PutObject")
    for handler in (API_HANDLER, LIFECYCLE_HANDLER, OUTBOX_HANDLER):
        assert contents in allowed(handler, "s3:GetObject")


def test_gold_tasks_let_the_api_read_their_manifest_and_announce_low_scores(pipeline_config) -> None:
    from aws_cdk import App
    from cdk_scenarios import CDK_JSON, SCENARIOS

    from hitl_core.config import ReviewGold, ReviewTeam
    from infra.deploy_config import load_deploy_config
    from infra.stack import HitlStack

    team = ReviewTeam(gold=ReviewGold(manifest="s3://team-gold/gold/lines.manifest", share=0.1))
    context = {key: value for key, value in CDK_JSON["context"].items() if key.startswith("@aws-cdk")}
    app = App(context={**context, "aws:cdk:bundling-stacks": []})
    config = pipeline_config.model_copy(update={"review": team})
    HitlStack(app, "Gold", config=config, deploy=load_deploy_config(SCENARIOS["Builtin"]))
    template = app.synth().get_stack_by_name("Gold").template
    statements = policy_statements(template, role_of(template, API_HANDLER))

    gold_objects = [s for s in statements if "team-gold" in json.dumps(s["Resource"])]
    partition = {"Ref": "AWS::Partition"}
    assert [(actions_of(s), s["Resource"]) for s in gold_objects] == [
        (
            ["s3:GetObject", "s3:GetObjectVersion"],
            {"Fn::Join": ["", ["arn:", partition, ":s3:::team-gold/gold/*"]]},
        )
    ]
    assert statement_for(statements, "events:PutEvents")["Effect"] == "Allow"
    assert json.loads(deployed_environment(template, API_HANDLER)["REVIEW_TEAM"])["gold"]["share"] == 0.1
