"""The reviewers benchmark: many reviewers at once through the served review API, and how it counts."""

from __future__ import annotations

from test_benchmarks_smoke import report_of

from benchmarks import review_reviewers
from benchmarks.review_reviewers import Ledger, Request


def test_ten_reviewers_for_a_few_seconds_never_share_a_task_nor_miss_a_free_one() -> None:
    figures = review_reviewers.run(reviewers=10, seconds=3)

    assert figures["served_twice"] == 0
    assert figures["skipped_while_free"] == 0
    assert figures["failed_requests"] == 0
    assert figures["tasks_served"] >= 10, "every reviewer was served at least once"
    assert figures["next_requests"] == figures["tasks_served"] + figures["empty_answers"]
    assert figures["unserved_kept"] == 2 and figures["tasks_created"] >= figures["tasks_served"]
    report = report_of("review_reviewers", figures)
    assert f"| 0 / 0 | {figures['tasks_served']:,} tasks served and answered, 0 failed requests |" in report
    assert "| 13. Reviewers at once | POST tasks/next latency, p50 / p95 |" in report


def ledger(*requests: Request, created: dict[str, float]) -> Ledger:
    book = Ledger()
    book.created.update(created)
    for request in requests:
        book.add_request(request)
    return book


def test_a_204_while_a_task_stayed_free_the_whole_request_is_a_skip() -> None:
    book = ledger(
        Request("next", 2.0, 3.0, 204, None),
        Request("next", 4.0, 5.0, 200, "t-1"),
        created={"t-1": 1.0},
    )
    assert review_reviewers.figures(book, 1, 10.0)["skipped_while_free"] == 1


def test_a_204_is_no_skip_when_the_task_came_later_or_was_being_served_meanwhile() -> None:
    book = ledger(
        Request("next", 2.0, 3.0, 204, None),
        Request("next", 2.5, 3.5, 200, "t-1"),
        Request("next", 2.2, 2.8, 204, None),
        created={"t-1": 1.0, "t-2": 2.5},
    )
    figures = review_reviewers.figures(book, 2, 10.0)
    assert (figures["skipped_while_free"], figures["empty_answers"]) == (0, 2)


def test_a_task_served_to_two_reviewers_is_counted() -> None:
    book = ledger(
        Request("next", 1.0, 2.0, 200, "t-1"),
        Request("next", 1.5, 2.5, 200, "t-1"),
        Request("answer", 2.0, 2.1, 409, "t-1"),
        created={"t-1": 0.5},
    )
    figures = review_reviewers.figures(book, 2, 10.0)
    assert (figures["served_twice"], figures["failed_requests"]) == (1, 1)
