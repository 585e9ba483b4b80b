"""Human review: the task UI from the repo's template, the work team, A2I's role and the flow definition."""

from __future__ import annotations

import hashlib
import json

import pytest
from cdk_scenarios import REVIEWERS, WORK_TEAM, only, policy_statements, resources, statement_for

from infra.human_review import PORTAL_CLIENT_SETTINGS, TEMPLATE_PATH

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


def flow_definition(template: dict) -> dict:
    return only(template, "Custom::A2iFlowDefinition")["Properties"]


def test_task_ui_is_the_repositorys_template_named_by_its_hash(synthesized) -> None:
    text = TEMPLATE_PATH.read_text()
    ui = only(synthesized.templates["A2i"], "AWS::SageMaker::HumanTaskUi")["Properties"]

    assert ui["UiTemplate"] == {"Content": text}
    assert ui["HumanTaskUiName"] == f"hitl-task-ui-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def test_new_private_team_with_workforce_and_invited_reviewers(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    pool = only(template, "AWS::Cognito::UserPool")["Properties"]
    users = resources(template, "AWS::Cognito::UserPoolUser").values()
    team = only(template, "AWS::SageMaker::Workteam")["Properties"]

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert sorted(u["Properties"]["Username"] for u in users) == sorted(REVIEWERS)
    assert len(resources(template, "AWS::Cognito::UserPoolUserToGroupAttachment")) == len(REVIEWERS)
    assert only(template, "AWS::SageMaker::Workforce")["Properties"]["WorkforceName"] == "hitl-workforce"
    assert team["WorkforceName"] == "hitl-workforce"
    assert only(template, "AWS::Cognito::UserPoolClient")["Properties"]["GenerateSecret"] is True
    domain = next(iter(resources(template, "AWS::Cognito::UserPoolDomain")))
    assert domain in only(template, "AWS::SageMaker::Workforce")["DependsOn"]


def test_private_team_in_an_existing_workforce_creates_no_pool_or_workforce(synthesized) -> None:
    template = synthesized.templates["Rekognition"]
    (member,) = only(template, "AWS::SageMaker::Workteam")["Properties"]["MemberDefinitions"]

    assert not resources(template, "AWS::Cognito::UserPool")
    assert not resources(template, "AWS::SageMaker::Workforce")
    assert member["CognitoMemberDefinition"]["CognitoUserPool"] == "us-east-1_AbCdEf123"
    assert member["CognitoMemberDefinition"]["CognitoClientId"] == "abcdef123456"


def test_private_team_by_default_joins_the_workforce_it_finds_at_deploy_time(synthesized) -> None:
    template = synthesized.templates["A2i"]
    (member,) = only(template, "AWS::SageMaker::Workteam")["Properties"]["MemberDefinitions"]
    (lookup_id,) = resources(template, "Custom::AWS")
    create = json.loads(only(template, "Custom::AWS")["Properties"]["Create"])

    assert not resources(template, "AWS::Cognito::UserPool")
    assert not resources(template, "AWS::SageMaker::Workforce")
    assert (create["service"], create["action"]) == ("SageMaker", "listWorkforces")
    cognito = member["CognitoMemberDefinition"]
    assert cognito["CognitoUserPool"] == {"Fn::GetAtt": [lookup_id, "Workforces.0.CognitoConfig.UserPool"]}
    assert cognito["CognitoClientId"] == {"Fn::GetAtt": [lookup_id, "Workforces.0.CognitoConfig.ClientId"]}


def test_existing_work_team_is_used_as_is(synthesized) -> None:
    template = synthesized.templates["Marketplace"]

    assert not resources(template, "AWS::SageMaker::Workteam")
    assert not resources(template, "AWS::Cognito::UserPool")
    assert flow_definition(template)["HumanLoopConfig"]["WorkteamArn"] == WORK_TEAM


def test_flow_definition_carries_the_review_settings_and_output_path(synthesized) -> None:
    props = flow_definition(synthesized.templates["ModelArtifact"])
    loop = props["HumanLoopConfig"]

    assert props["NamePrefix"] == "hitl-flow"
    assert (loop["TaskCount"], loop["TaskTimeLimitInSeconds"], loop["TaskAvailabilityLifetimeInSeconds"]) == (
        2,
        600,
        86400,
    )
    assert "HumanTaskUiArn" in json.dumps(loop["HumanTaskUiArn"])
    assert json.dumps(props["OutputConfig"]["S3OutputPath"]).endswith('"/a2i-output/"]]}')


def test_flow_definition_waits_on_the_provider_framework(synthesized) -> None:
    template = synthesized.templates["A2i"]
    functions = resources(template, "AWS::Lambda::Function").values()
    handlers = {f["Properties"].get("Handler") for f in functions}

    assert {"handler.on_event", "handler.is_complete"} <= handlers
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    assert len([name for name in machines if name.startswith("HumanReview")]) == 1
    for function in functions:
        if function["Properties"].get("Handler", "").startswith("handler."):
            assert function["Properties"]["Runtime"] == "python3.14"
            assert function["Properties"]["Architectures"] == ["arm64"]


def test_handler_manages_only_this_stacks_flow_definitions(synthesized) -> None:
    statements = policy_statements(synthesized.templates["A2i"], "HumanReviewFlowDefinitionHandlerRole")

    create = statement_for(statements, "sagemaker:CreateFlowDefinition")
    assert set(create["Action"]) == {
        "sagemaker:CreateFlowDefinition",
        "sagemaker:DescribeFlowDefinition",
        "sagemaker:DeleteFlowDefinition",
    }
    assert json.dumps(create["Resource"]).endswith(':flow-definition/hitl-flow-*"]]}')
    pass_role = statement_for(statements, "iam:PassRole")
    assert pass_role["Resource"]["Fn::GetAtt"][0].startswith("HumanReviewA2iRole")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_a2i_role_reads_incoming_images_and_writes_answers_only(synthesized) -> None:
    statements = policy_statements(synthesized.templates["A2i"], "HumanReviewA2iRole")

    assert {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    } == {
        "s3:GetObject",
        "s3:PutObject",
    }
    assert json.dumps(statement_for(statements, "s3:GetObject")["Resource"]).endswith('"/incoming/*"]]}')
    assert json.dumps(statement_for(statements, "s3:PutObject")["Resource"]).endswith('"/a2i-output/*"]]}')


def test_the_portal_client_gets_the_labeling_portals_urls_after_the_workforce(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    client = only(template, "AWS::Cognito::UserPoolClient")["Properties"]
    (workforce_id,) = resources(template, "AWS::SageMaker::Workforce")
    (pin,) = [
        r for k, r in resources(template, "Custom::AWS").items() if k.startswith("HumanReviewPortalUrls")
    ]
    create = json.dumps(pin["Properties"]["Create"])

    assert workforce_id in pin["DependsOn"]
    assert "updateUserPoolClient" in create and "CognitoIdentityServiceProvider" in create
    subdomain = json.dumps({"Fn::GetAtt": [workforce_id, "SubDomain"]})
    assert subdomain in create and "/oauth2/idpresponse" in create and "/logout" in create
    # UpdateUserPoolClient resets what it is not given: it must repeat the client's own settings.
    for key, value in PORTAL_CLIENT_SETTINGS.items():
        expected = sorted(value) if isinstance(value, list) else value
        assert (sorted(client[key]) if isinstance(value, list) else client[key]) == expected, key
        assert json.dumps(key) in create.replace('\\"', '"'), key
