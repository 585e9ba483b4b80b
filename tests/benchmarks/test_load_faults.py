"""Smoke test of the load-and-faults benchmark on the built-in review service: a small burst with a
throttled detector, a killed ingest worker, reviewers answering through the review API, failures
injected into the outbox and the lifecycle sweep running; nothing lost, nothing duplicated."""

from __future__ import annotations

import pytest
from test_benchmarks_smoke import report_of

from benchmarks import load_faults


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_a_small_burst_on_the_builtin_service_loses_and_duplicates_no_record_task_or_line() -> None:
    figures = load_faults.run(images=12, reviewers=3, backend="builtin", outbox_failure_fraction=0.5)

    assert figures["backend"] == "builtin"
    assert figures["records"] == {"written": 12, "images_without_a_record": 0, "images_with_several": 0}
    loops = figures["loops"]
    assert loops["lost"] == 0 and loops["images_with_several"] == 0
    assert loops["started"] == loops["completed"] == loops["reviewed_images"] > 0
    assert figures["outputs"] == {"written": loops["reviewed_images"], "lost": 0, "duplicated": 0}
    answers = figures["answers"]
    assert answers["lost"] == 0 and answers["duplicated"] == 0
    assert answers["manifest_lines"] == loops["reviewed_images"]
    assert answers["review_completed_events"] >= loops["reviewed_images"]
    assert figures["decision_events_per_image"]["min"] >= 1
    assert set(figures["dead_letter_queues"].values()) == {0}
    faults = figures["faults"]
    assert faults["killed_worker_pid"] > 0 and faults["outbox_failures_injected"] >= 1
    assert "timed_out" not in faults and "a2i_restarted" not in faults

    report = report_of("load_builtin", figures)
    title = "| 9. Load and faults, built-in review service |"
    assert f"{title} 12 drops: records lost / duplicated | 0 / 0 (12 written) |  |  | 0 / 0 |" in report
    reviewed = loops["reviewed_images"]
    assert (
        f"{title} tasks lost / duplicated; output.json lost / duplicated; manifest lines lost / duplicated "
        f"| 0 / 0 ({reviewed} tasks, {reviewed} completed); 0 / 0; 0 / 0 ({reviewed} lines) |  |  "
        "| 0 / 0; 0 / 0; 0 / 0 |"
    ) in report
    assert f"({faults['outbox_failures_injected']}: half before its work" in report
