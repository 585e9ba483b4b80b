"""Lambda concurrency (GetAccountSettings, which moto lacks: botocore Stubber)."""

from __future__ import annotations

import pytest

from hitl.preflight.concurrency import NAME, check_lambda_concurrency
from hitl.preflight.result import Status
from hitl.preflight.runner import run_check

from .conftest import make_deployment


def account_limits(clients, total: int, unreserved: int) -> None:
    clients.stub("lambda").add_response(
        "get_account_settings",
        {
            "AccountLimit": {"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": unreserved},
            "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
        },
        {},
    )


@pytest.mark.parametrize(
    ("reserved", "unreserved", "status"),
    [(50, 1000, Status.PASS), (900, 1000, Status.PASS), (901, 1000, Status.FAIL), (10, 100, Status.FAIL)],
)
def test_a_reservation_must_leave_100_unreserved(clients, reserved, unreserved, status):
    account_limits(clients, 1000, unreserved)
    deployment = make_deployment({"ingest_max_concurrency": 2, "ingest_reserved_concurrency": reserved})
    result = check_lambda_concurrency(deployment, clients)
    assert result.status is status
    assert f"leaves {unreserved - reserved} unreserved" in result.message


def test_a_new_accounts_limit_of_10_holds_the_default_pollers(clients):
    account_limits(clients, 10, 10)
    assert check_lambda_concurrency(make_deployment(), clients).status is Status.PASS


def test_more_pollers_than_unreserved_executions_warn(clients):
    account_limits(clients, 10, 10)
    result = check_lambda_concurrency(make_deployment({"ingest_max_concurrency": 20}), clients)
    assert result.status is Status.WARN
    assert "Service Quotas" in result.fix


def test_a_refused_call_is_a_warning_naming_it(clients):
    clients.stub("lambda").add_client_error(
        "get_account_settings",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: lambda:GetAccountSettings",
        http_status_code=403,
    )
    result = run_check(NAME, check_lambda_concurrency, make_deployment(), clients)
    assert (result.name, result.status) == (NAME, Status.WARN)
    assert result.message == "could not check: GetAccountSettings was refused (AccessDeniedException)"
