"""The a2i backend's budget on AWS: the pending-loop table as the handlers lay it out, the scheduled loop
starter with the settings it reads, and the budget on the dashboard (the A2i scenario sets a budget)."""

from __future__ import annotations

import json

import pytest
from cdk_scenarios import deployed_environment, only, resources

from hitl_aws.settings import FunctionSettings
from hitl_core.pending_loops import create_table_request
from infra.loop_budget import LOOP_STARTER_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")


def test_the_table_is_laid_out_as_the_handlers_and_the_local_stack_make_it(synthesized) -> None:
    table = only(synthesized.templates["A2i"], "AWS::DynamoDB::Table")["Properties"]
    request = create_table_request("pending")

    assert table["KeySchema"] == request["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(request["AttributeDefinitions"], key=str)
    [index] = table["GlobalSecondaryIndexes"]
    [expected] = request["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"], index["Projection"]) == (
        expected["IndexName"],
        expected["KeySchema"],
        expected["Projection"],
    )
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_the_starter_runs_every_minute_with_the_settings_it_reads(synthesized) -> None:
    template = synthesized.templates["A2i"]
    environment = deployed_environment(template, LOOP_STARTER_HANDLER)
    settings = FunctionSettings.from_env(environment)

    assert (settings.review_backend, settings.pending_loops_table) == ("a2i", "deployed-pending_loops_table")
    assert settings.config.review.budget.per_hour == 50
    [rule] = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") and "LoopBudgetStarter" in json.dumps(r["Properties"])
    ]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    ingest = deployed_environment(template, "hitl_ingest.handler.lambda_handler")
    assert ingest["PENDING_LOOPS_TABLE"] == "deployed-pending_loops_table"


def test_no_budget_no_table_and_no_starter(synthesized) -> None:
    for scenario in ("ModelArtifact", "Marketplace", "Default"):
        template = synthesized.templates[scenario]
        assert not [k for k in template["Resources"] if k.startswith("LoopBudget")], scenario
        assert "PENDING_LOOPS_TABLE" not in json.dumps(template), scenario


def test_the_dashboard_shows_the_budget_as_with_the_builtin_backend(synthesized) -> None:
    def widgets(scenario: str) -> str:
        return json.dumps(only(synthesized.templates[scenario], "AWS::CloudWatch::Dashboard")["Properties"])

    for name in ("BudgetUsedThisHour", "BudgetLimitPerHour", "BudgetUsedToday", "BudgetLimitPerDay"):
        assert name in widgets("A2i") and name in widgets("Builtin")
    assert widgets("A2i").count("LoopsWaiting") == 2  # LoopsWaiting and LoopsWaitingStarted
    assert "Review budget used and its limits" not in widgets("ModelArtifact")
