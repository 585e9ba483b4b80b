"""The review API overhead benchmark: the handler's requests and the same DynamoDB calls made bare."""

from __future__ import annotations

from test_benchmarks_smoke import report_of

from benchmarks import review_api_overhead


def test_a_small_run_replays_every_dynamodb_call_of_next_and_answer_and_reports_the_ratio() -> None:
    figures = review_api_overhead.run(rounds=1, reviewers=3, open_tasks=5)

    assert (figures["requests"], figures["open_tasks"], len(figures["ratios"])) == (6, 5, 1)
    calls = figures["dynamodb_calls_per_next_and_answer"]
    assert calls.get("Query", 0) >= 1, "next reads the queue index"
    assert set(calls) <= {"Query", "GetItem", "PutItem", "UpdateItem", "TransactWriteItems"}
    assert figures["handler_ms_per_request"] > 0 and figures["bare_ms_per_request"] > 0
    ratio = figures["handler_ms_per_request"] / figures["bare_ms_per_request"]
    assert abs(figures["ratio"] - ratio) < 0.02
    report = report_of("review_api_overhead", figures)
    assert "| 12. Review API overhead | POST tasks/next and the answer: handler time per request |" in report
    assert "| ratio at most 1.5x |" in report


def test_the_bare_calls_go_to_the_twin_table_wherever_the_table_is_named() -> None:
    params = {
        "TableName": review_api_overhead.HANDLER_TABLE,
        "TransactItems": [
            {"Put": {"TableName": review_api_overhead.HANDLER_TABLE, "Item": {"a": {"S": "x"}}}}
        ],
    }
    twin = review_api_overhead._on_twin(params)
    assert twin["TableName"] == twin["TransactItems"][0]["Put"]["TableName"] == review_api_overhead.TWIN_TABLE
    assert twin["TransactItems"][0]["Put"]["Item"] == {"a": {"S": "x"}}
