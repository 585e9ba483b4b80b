"""Whose credentials, which account and region: every other check needs them (STS GetCallerIdentity)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.result import CheckResult, failed, passed

NAME = "credentials"
FIX_CREDENTIALS = (
    "sign in with the deploying identity (aws sso login / AWS_PROFILE / --profile) and run preflight again"
)


def caller_identity(region: str | None, clients: ClientFactory) -> tuple[CheckResult, str | None]:
    """The check's result and the account id (None when the credentials cannot be used)."""
    if not region:
        return failed(
            NAME,
            "no region is configured",
            "pass --region, or set AWS_DEFAULT_REGION or the profile's region",
        ), None
    try:
        identity = clients("sts").get_caller_identity()
    except NoCredentialsError:
        return failed(NAME, "no AWS credentials found", FIX_CREDENTIALS), None
    except ClientError as err:
        return failed(NAME, f"the credentials were refused ({error_code(err)})", FIX_CREDENTIALS), None
    except BotoCoreError as err:
        return failed(NAME, f"STS could not be reached: {err}", FIX_CREDENTIALS), None
    account = identity["Account"]
    return passed(NAME, f"account {account}, region {region}, as {identity['Arn']}"), account
