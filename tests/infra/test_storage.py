"""Storage: three private, encrypted, TLS-only, logged buckets plus their access-log bucket."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_scenarios import resources

from hitl_core.config import Prefixes

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


def buckets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::S3::Bucket")


def bucket(template: dict[str, Any], logical_prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in buckets(template).items() if k.startswith(logical_prefix)]
    assert len(found) == 1, f"no single bucket {logical_prefix}: {sorted(buckets(template))}"
    return found[0]


def test_four_buckets_all_encrypted_and_private(synthesized) -> None:
    template = synthesized.templates["Default"]

    assert len([name for name in buckets(template) if name.startswith("Storage")]) == 4
    # Every bucket of the stack, the review service's two included.
    for name, resource in buckets(template).items():
        props = resource["Properties"]
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name


def test_every_bucket_refuses_requests_without_tls(synthesized) -> None:
    template = synthesized.templates["Default"]
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    denied = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                denied.add(policy["Properties"]["Bucket"]["Ref"])

    assert denied == set(buckets(template))


LOGGED = [
    ("StorageInput", "input/"),
    ("StorageReviewOutput", "review-output/"),
    ("StorageTrainingData", "training-data/"),
]


@pytest.mark.parametrize(("logical", "prefix"), LOGGED)
def test_data_buckets_write_server_access_logs(synthesized, logical: str, prefix: str) -> None:
    template = synthesized.templates["Default"]
    logs_bucket, _ = bucket(template, "StorageAccessLogs")

    _, resource = bucket(template, logical)

    assert resource["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_bucket},
        "LogFilePrefix": prefix,
    }


def test_input_bucket_announces_objects_on_eventbridge_and_lets_the_task_ui_read(synthesized) -> None:
    template = synthesized.templates["Default"]
    input_bucket, resource = bucket(template, "StorageInput")
    notifications = resources(template, "Custom::S3BucketNotifications")

    assert [n["Properties"]["BucketName"] for n in notifications.values()] == [{"Ref": input_bucket}]
    assert next(iter(notifications.values()))["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {}
    }
    (cors,) = resource["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["GET"]


def test_training_bucket_is_versioned_archives_quarantine_and_expires_old_versions(synthesized) -> None:
    _, resource = bucket(synthesized.templates["Default"], "StorageTrainingData")
    rules = {r["Id"]: r for r in resource["Properties"]["LifecycleConfiguration"]["Rules"]}

    assert resource["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert rules["archive-quarantine"]["Prefix"] == Prefixes().quarantine
    assert "ExpirationInDays" not in rules["archive-quarantine"], "a quarantined answer is never deleted"
    assert rules["archive-quarantine"]["Transitions"] == [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 90}
    ]
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_images_never_expire_because_the_manifest_points_at_them(synthesized) -> None:
    _, resource = bucket(synthesized.templates["Default"], "StorageInput")

    for rule in resource["Properties"]["LifecycleConfiguration"]["Rules"]:
        assert "ExpirationInDays" not in rule


@pytest.mark.parametrize(("scenario", "policy"), [("Default", "Retain"), ("ModelArtifact", "Delete")])
def test_removal_policy_follows_configuration(synthesized, scenario: str, policy: str) -> None:
    template = synthesized.templates[scenario]
    auto_delete = resources(template, "Custom::S3AutoDeleteObjects")

    assert {b["DeletionPolicy"] for b in buckets(template).values()} == {policy}
    assert len(auto_delete) == (4 if policy == "Delete" else 0)
