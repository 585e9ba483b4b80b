"""The account's Lambda concurrency against the ingest function's reservation and queue pollers
(Lambda GetAccountSettings)."""

from __future__ import annotations

from hitl.preflight.clients import ClientFactory
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned

NAME = "lambda-concurrency"
# Lambda refuses a reservation that leaves fewer than 100 unreserved executions in the account.
MIN_UNRESERVED = 100
RAISE_QUOTA = (
    "request a higher 'Concurrent executions' quota for Lambda (Service Quotas), "
    "or lower hitl-deploy.ingest_reserved_concurrency / ingest_max_concurrency"
)


def check_lambda_concurrency(deployment: Deployment, clients: ClientFactory) -> CheckResult:
    deploy = deployment.deploy
    limits = clients("lambda").get_account_settings()["AccountLimit"]
    total, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    reserved = deploy.ingest_reserved_concurrency
    pollers = deploy.ingest_max_concurrency
    figures = f"account limit {total}, unreserved {unreserved}"
    if reserved is not None:
        left = unreserved - reserved
        if left < MIN_UNRESERVED:
            return failed(
                NAME,
                f"reserving {reserved} for ingest leaves {left} unreserved ({figures}); Lambda keeps "
                f"at least {MIN_UNRESERVED}, so creating the function fails",
                RAISE_QUOTA,
            )
        return passed(NAME, f"reserving {reserved} for ingest leaves {left} unreserved ({figures})")
    if pollers > unreserved:
        return warned(
            NAME,
            f"ingest may run {pollers} at once but only {unreserved} executions are unreserved ({figures}): "
            "ingest and every other function throttle each other",
            RAISE_QUOTA,
        )
    return passed(NAME, f"ingest runs at most {pollers} at once ({figures})")
