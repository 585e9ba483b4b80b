"""Credentials, account and region (STS GetCallerIdentity)."""

from __future__ import annotations

import boto3

from hitl.preflight.clients import SessionClients
from hitl.preflight.identity import caller_identity
from hitl.preflight.result import Status

from .conftest import ACCOUNT, REGION


def test_the_callers_account_is_found(clients):
    result, account = caller_identity(REGION, clients)
    assert (result.status, account) == (Status.PASS, ACCOUNT)
    assert f"account {ACCOUNT}, region {REGION}" in result.message


def test_no_region_fails_before_any_call(clients):
    result, account = caller_identity(None, clients)
    assert (result.status, account) == (Status.FAIL, None)
    assert "--region" in result.fix
    assert clients.operations == []


def test_refused_credentials_fail(clients):
    clients.stub("sts").add_client_error(
        "get_caller_identity",
        service_error_code="InvalidClientTokenId",
        service_message="The security token included in the request is invalid.",
        http_status_code=403,
    )
    result, account = caller_identity(REGION, clients)
    assert (result.status, account) == (Status.FAIL, None)
    assert "InvalidClientTokenId" in result.message


def test_no_credentials_at_all_fail(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result, account = caller_identity(REGION, SessionClients(boto3.Session(region_name=REGION)))
    assert (result.status, result.message, account) == (Status.FAIL, "no AWS credentials found", None)
