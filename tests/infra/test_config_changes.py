"""What each configuration change does to deployed resources: no change may replace a stateful resource
or create a name or key an old resource still holds, and docs/config-changes.md says what each does.

Every distinct configuration is synthesized once, in one app (bundling skipped), for the module.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App
from cdk_scenarios import CDK_JSON, PROJECT_ROOT
from config_changes import PSEUDO, TABLE_HEADER, Change, Classification, classify, table_row, unique_key

from hitl_core.config import PipelineConfig, load_config
from infra.deploy_config import load_deploy_config
from infra.stack import STACK_ID, HitlStack

pytestmark = pytest.mark.xdist_group("config-changes")

DOC = PROJECT_ROOT / "docs" / "config-changes.md"
TABLE_START, TABLE_END = "<!-- config-changes table: start -->", "<!-- config-changes table: end -->"
ANA, BO, CY = "ana@example.com", "bo@example.com", "cy@example.com"
LEAD, DEE, EVE = "lead@example.com", "dee@example.com", "eve@example.com"
MODEL = "s3://team-models/detector/model.tar.gz"
# Templates are all this test reads: no bundling, and no copy of each function's code per app.
FAST_SYNTH = {"aws:cdk:bundling-stacks": [], "aws:cdk:disable-asset-staging": True}


def builtin(reviewers: list[str], admins: list[str], **review: Any) -> dict[str, Any]:
    return {
        "work_team": {"mode": "private", "reviewers": reviewers},
        "review": {"backend": "builtin", "admins": admins, **review},
    }


def a2i(reviewers: list[str], **review: Any) -> dict[str, Any]:
    return {"work_team": {"mode": "private", "reviewers": reviewers}, "review": {"backend": "a2i", **review}}


def endpoint(**settings: Any) -> dict[str, Any]:
    return {**builtin([ANA, BO], [LEAD, DEE]), "endpoint": settings}


BASE = builtin([ANA, BO], [LEAD, DEE])
A2I_BASE = a2i([ANA, BO])
ARTIFACT = {"mode": "model-artifact", "model_data_url": MODEL}
# name -> (deployment settings, pipeline settings changed from cdk.json's)
CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "Base": (BASE, {}),
    "ReviewerAdded": (builtin([ANA, BO, CY], [LEAD, DEE]), {}),
    "FirstReviewerRemoved": (builtin([BO], [LEAD, DEE]), {}),
    "ReviewersReordered": (builtin([BO, ANA], [LEAD, DEE]), {}),
    "AdminAdded": (builtin([ANA, BO], [LEAD, DEE, EVE]), {}),
    "FirstAdminRemoved": (builtin([ANA, BO], [DEE]), {}),
    "AdminsReordered": (builtin([ANA, BO], [DEE, LEAD]), {}),
    "LabelsChanged": (BASE, {"review_labels": ["person", "cat", "dog"]}),
    "TaskCountChanged": (builtin([ANA, BO], [LEAD, DEE], task_count=2), {}),
    "NamePrefixChanged": ({**BASE, "name_prefix": "team"}, {}),
    "NamePrefixChangedDomainKept": (
        {
            **builtin([ANA, BO], [LEAD, DEE], domain_prefix=f"hitl-review-{PSEUDO['AWS::AccountId']}"),
            "name_prefix": "team",
        },
        {},
    ),
    "ModelArtifact": (endpoint(**ARTIFACT), {}),
    "Serverless": (
        endpoint(**ARTIFACT, variant={"kind": "serverless"}),
        {"endpoint_payload_limit": 4_194_304},
    ),
    "A2iBase": (A2I_BASE, {}),
    "A2iFirstReviewerRemoved": (a2i([BO]), {}),
    "A2iLabelsChanged": (A2I_BASE, {"review_labels": ["person", "cat", "dog"]}),
    "A2iTaskCountChanged": (a2i([ANA, BO], task_count=2), {}),
    "A2iBudget": (A2I_BASE, {"review": {"budget": {"per_hour": 50}}}),
    "A2iGold": (A2I_BASE, {"review": {"gold": {"manifest": "s3://team-gold/gold/gold.manifest"}}}),
}


@dataclass(frozen=True)
class ConfigChange:
    description: str
    before: str
    after: str


CHANGES = [
    ConfigChange("add a reviewer at the end", "Base", "ReviewerAdded"),
    ConfigChange("remove the first reviewer", "Base", "FirstReviewerRemoved"),
    ConfigChange("reorder the reviewers", "Base", "ReviewersReordered"),
    ConfigChange("add an admin", "Base", "AdminAdded"),
    ConfigChange("remove the first admin", "Base", "FirstAdminRemoved"),
    ConfigChange("reorder the admins", "Base", "AdminsReordered"),
    ConfigChange("change the review labels (builtin)", "Base", "LabelsChanged"),
    ConfigChange("change the task count (builtin)", "Base", "TaskCountChanged"),
    ConfigChange("change the name prefix", "Base", "NamePrefixChanged"),
    ConfigChange("change the name prefix, review.domain_prefix kept", "Base", "NamePrefixChangedDomainKept"),
    ConfigChange("endpoint mode: existing endpoint to model artifact", "Base", "ModelArtifact"),
    ConfigChange("endpoint variant: instance to serverless", "ModelArtifact", "Serverless"),
    ConfigChange("review backend: builtin to a2i", "Base", "A2iBase"),
    ConfigChange("review backend: a2i to builtin", "A2iBase", "Base"),
    ConfigChange("remove the first reviewer (a2i)", "A2iBase", "A2iFirstReviewerRemoved"),
    ConfigChange("change the review labels (a2i)", "A2iBase", "A2iLabelsChanged"),
    ConfigChange("change the task count (a2i)", "A2iBase", "A2iTaskCountChanged"),
    ConfigChange("set a review budget (a2i)", "A2iBase", "A2iBudget"),
    ConfigChange("remove the review budget (a2i)", "A2iBudget", "A2iBase"),
    ConfigChange("set gold tasks (a2i)", "A2iBase", "A2iGold"),
]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each configuration's template, synthesized once, as the stack every deployment names `STACK_ID`."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    context = {key: value for key, value in CDK_JSON["context"].items() if key.startswith("@aws-cdk")}
    pipeline = CDK_JSON["context"]["hitl"]
    found = {}
    for name, (deploy, changed) in CONFIGS.items():
        outdir = tmp_path_factory.mktemp(name)
        app = App(outdir=str(outdir), context={**context, **FAST_SYNTH})
        config: PipelineConfig = load_config({**pipeline, **changed}, "hitl")
        HitlStack(app, STACK_ID, config=config, deploy=load_deploy_config(deploy))
        app.synth()
        found[name] = json.loads((outdir / f"{STACK_ID}.template.json").read_text())
    return found


@pytest.fixture(scope="module")
def classified(templates: dict[str, dict[str, Any]]) -> dict[str, Classification]:
    return {c.description: classify(templates[c.before], templates[c.after]) for c in CHANGES}


# Changes known to fail, each with the one problem the docs tell operators how to avoid.
KNOWN_FAILURES = {
    # The default sign-in domain prefix carries name_prefix; a pool takes one prefix domain.
    "change the name prefix": "Cognito::UserPoolDomain",
}


@pytest.mark.parametrize("change", CHANGES, ids=[c.description for c in CHANGES])
def test_no_config_change_replaces_state_or_collides(
    classified: dict[str, Classification], change: ConfigChange
) -> None:
    if change.description in KNOWN_FAILURES:
        (problem,) = classified[change.description].problems
        assert f"AWS::{KNOWN_FAILURES[change.description]}" in problem
        return
    assert classified[change.description].problems == [], "\n".join(classified[change.description].problems)


def test_reviewer_lists_change_only_the_users_they_add_or_remove(
    classified: dict[str, Classification],
) -> None:
    removed = classified["remove the first reviewer"]
    reordered = classified["reorder the reviewers"]

    assert {c.resource_type for c in removed.of(Change.REMOVED)} == {
        "AWS::Cognito::UserPoolUser",
        "AWS::Cognito::UserPoolUserToGroupAttachment",
    }
    assert removed.of(Change.ADDED) == [] and removed.of(Change.REPLACED) == []
    assert [c for c in reordered.changes if c.resource_type.startswith("AWS::Cognito")] == []


def test_the_documented_table_is_what_the_classifier_says(classified: dict[str, Classification]) -> None:
    """`HITL_WRITE_DOCS=1` writes the table into the page first (after a change that alters it)."""
    rows = [table_row(c.description, classified[c.description]) for c in CHANGES]
    expected = "\n".join([TABLE_START, TABLE_HEADER, *rows, TABLE_END])
    section = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), flags=re.DOTALL)
    if os.environ.get("HITL_WRITE_DOCS") == "1":
        DOC.write_text(section.sub(lambda _: expected, DOC.read_text()))

    documented = section.search(DOC.read_text())

    assert documented is not None, f"{DOC} has no table between {TABLE_START} and {TABLE_END}"
    assert documented.group(0) == expected, (
        f"{DOC.relative_to(PROJECT_ROOT)} differs: run this test with HITL_WRITE_DOCS=1 and review the diff"
    )


# The classifier itself, on small templates: each failure it must see.
def user(name: str, pool: str = "Pool") -> dict[str, Any]:
    return {
        "Type": "AWS::Cognito::UserPoolUser",
        "Properties": {"UserPoolId": {"Ref": pool}, "Username": name},
    }


POOL = {"Type": "AWS::Cognito::UserPool", "Properties": {}}


def test_users_by_list_position_collide_when_the_first_is_removed() -> None:
    before = {"Resources": {"Pool": POOL, "Reviewer0": user(ANA), "Reviewer1": user(BO)}}
    after = {"Resources": {"Pool": POOL, "Reviewer0": user(BO)}}

    result = classify(before, after)

    assert [(c.logical_id, c.change) for c in result.changes] == [
        ("Reviewer1", Change.REMOVED),
        ("Reviewer0", Change.REPLACED),
    ]
    assert len(result.collisions) == 1 and "Reviewer1 still holds" in result.collisions[0]


def test_replacing_a_stateful_resource_fails_and_reaches_what_refers_to_it() -> None:
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "tasks"}}
    renamed = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "tasks-2"}}
    pool_named = {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "a"}}
    before = {"Resources": {"Tasks": table, "Pool": POOL, "Ana": user(ANA)}}
    after = {"Resources": {"Tasks": renamed, "Pool2": pool_named, "Ana": user(ANA, pool="Pool2")}}

    result = classify(before, after)

    assert result.stateful_replaced == ["Tasks"]
    assert {c.logical_id: c.change for c in result.changes}["Ana"] is Change.REPLACED


def test_a_fixed_name_replaced_in_place_collides_and_an_update_does_not() -> None:
    def config(variant: str, name: str = "detector-config") -> dict[str, Any]:
        return {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {"EndpointConfigName": name, "ProductionVariants": [{"InstanceType": variant}]},
        }

    assert classify({"Resources": {"C": config("a")}}, {"Resources": {"C": config("b")}}).collisions
    assert not classify(
        {"Resources": {"C": config("a")}}, {"Resources": {"C": config("b", "other")}}
    ).collisions
    assert unique_key(config("a")) != unique_key(config("a", "other"))
    headers = {
        "Type": "AWS::CloudFront::ResponseHeadersPolicy",
        "Properties": {"ResponseHeadersPolicyConfig": {}},
    }
    assert classify({"Resources": {}}, {"Resources": {"H": headers}}).collisions == []


def test_a_second_prefix_domain_on_one_pool_collides_whatever_its_name() -> None:
    def domain(prefix: Any) -> dict[str, Any]:
        return {
            "Type": "AWS::Cognito::UserPoolDomain",
            "Properties": {"UserPoolId": {"Ref": "Pool"}, "Domain": prefix},
        }

    account = {"Fn::Join": ["-", ["hitl-review", {"Ref": "AWS::AccountId"}]]}
    renamed = classify({"Resources": {"D": domain(account)}}, {"Resources": {"D": domain("team-review")}})
    pinned = classify(
        {"Resources": {"D": domain(account)}}, {"Resources": {"D": domain("hitl-review-123456789012")}}
    )

    assert [c.change for c in renamed.changes] == [Change.REPLACED] and renamed.collisions
    assert pinned.changes == []
