"""Smoke test: the cheapest benchmark runs with tiny sizes and reports sane figures.

Benchmarks print figures; no timing threshold is asserted here, only that the figures exist,
make sense and reach the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import load_faults, manifest_append, review_comparison, throughput
from benchmarks.report import markdown

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {
    "date": "2024-01-01 00:00 UTC",
    "commit": "abc1234",
    "python": "3.11",
    "machine": "Linux x86_64",
    "cpus": 2,
    "load_average_at_start": 0.5,
}


def report_of(benchmark: str, figures: object) -> str:
    """The markdown report of a quick run of one benchmark."""
    return markdown(
        {
            "environment": ENVIRONMENT,
            "quick": True,
            "seconds": {benchmark: 1.0},
            "results": {benchmark: figures},
        }
    )


def test_manifest_append_reports_each_checkpoint_and_a_lossless_concurrent_run() -> None:
    appends = manifest_append.run((3, 8), samples=2, batch=2)
    concurrent = manifest_append.concurrent_appenders(writers=3, batches=2, batch=2, max_lines=4)

    assert [row["answers_received"] for row in appends] == [3, 8]
    for row in appends:
        assert row.keys() >= {"batch_size", "append_ms_median", "append_ms_max", "per_answer_ms"}
        assert row["batch_size"] == 2
        assert 0 < row["append_ms_median"] <= row["append_ms_max"]
        assert row["per_answer_ms"] > 0
    assert appends[0]["open_manifest_lines"] == 3 and appends[0]["sealed_manifests"] == 0
    assert appends[1]["open_manifest_lines"] == 8

    assert concurrent["answers"] == 12
    assert concurrent["lost"] == 0 and concurrent["duplicated"] == 0 and concurrent["unexpected"] == 0
    assert concurrent["manifests_sealed"] >= 2, "12 answers at 4 lines a manifest seal at least two"
    assert concurrent["seconds"] > 0 and concurrent["answers_per_second"] > 0

    report = report_of("manifest", {"appends": appends, "concurrent": concurrent})
    assert "| 3 concurrent appenders: answers lost / duplicated | 0 / 0 of 12 |  |  | 0 / 0 |" in report
    assert "ms per appended answer at 3 / 8 answers received" in report
    assert "## 1. Ingest overhead" not in report, "benchmarks that did not run are left out"


@pytest.mark.browser
def test_the_review_editor_benchmark_times_drag_and_nudge_steps_and_reports_them() -> None:
    # Its own process: Playwright's sync API runs once per process, and browser tests may hold it here.
    ran = subprocess.run(
        [sys.executable, "-m", "benchmarks.review_editor", "--boxes", "30", "--steps", "6"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    figures = json.loads(ran.stdout)
    if "skipped" in figures:
        pytest.skip(figures["skipped"])

    editors = [editor for editor in ("current", "before_15") if editor in figures]
    assert figures["current"]["box_list_rebuilt"] is False, "a change updates the box list in place"
    if "before_15" in figures:
        assert figures["before_15"]["box_list_rebuilt"] is True, "the baseline is the editor before #15"
    assert editors[0] == "current", "the baseline is measured only when git has its commit"
    for editor in editors:
        for step in ("drag", "nudge"):
            row = figures[editor][step]
            assert row["steps"] == 6
            assert 0 < row["median_ms"] <= row["p95_ms"] <= row["max_ms"]
            assert row["main_thread_ms"] > 0
            assert row["boxes_moved"] == 1, f"the {editor} editor's {step} moved exactly the one box"

    report = report_of("review_editor", figures)
    assert "| 6. Review editor | a drag step among 30 boxes: script, style and layout" in report
    assert ("before #15:" in report) == ("before_15" in figures)


@pytest.mark.xdist_group("e2e")
def test_a_small_burst_with_faults_loses_and_duplicates_nothing_and_reaches_the_report() -> None:
    figures = load_faults.run(images=12, reviewers=3)

    assert figures["images_dropped"] == 12
    assert figures["records"] == {"written": 12, "images_without_a_record": 0, "images_with_several": 0}
    assert figures["loops"]["lost"] == 0 and figures["loops"]["images_with_several"] == 0
    assert figures["loops"]["started"] == figures["loops"]["reviewed_images"] > 0
    assert figures["answers"]["lost"] == 0 and figures["answers"]["duplicated"] == 0
    assert figures["answers"]["manifest_lines"] == figures["loops"]["reviewed_images"]
    assert figures["decision_events_per_image"]["min"] >= 1
    assert set(figures["dead_letter_queues"].values()) == {0}
    assert figures["faults"]["killed_worker_pid"] > 0 and figures["faults"]["a2i_restarted"] is True
    assert "timed_out" not in figures["faults"]

    report = report_of("load", figures)
    assert (
        "| 7. Load and faults | 12 drops: records lost / duplicated | 0 / 0 (12 written) |  |  | 0 / 0 |"
        in report
    )


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_the_throughput_benchmark_accounts_the_cpu_of_each_stack_process() -> None:
    figures = throughput.run(copies=1, rounds=2, concurrencies=(1,), profile=False)

    (level,) = figures["by_ingest_workers"]
    assert sum(level["decisions"].values()) == 2 * figures["images"]
    assert level["pipeline_images_per_second"] > 0 and level["detector_images_per_second"] > 0
    # Timings on a shared machine vary too much to bound here; the scale is checked with known
    # numbers in test_each_drop_is_set_against_the_mean_detector_rate_around_it.
    assert len(level["ratio_by_drop"]) == 2 and all(ratio > 0 for ratio in level["ratio_by_drop"])
    cpu = level["cpu_ms_per_image"]
    assert {throughput.STACK_PROCESS, "the AWS stand-in (moto)", "the ingest workers"} <= cpu.keys()
    assert all(ms > 0 for ms in cpu.values())
    assert 0 < level["cores_busy"] <= ENVIRONMENT["cpus"] + 0.5
    assert level["detector_alone_cpu_ms_per_image"] > 0

    report = report_of("throughput", figures)
    assert "CPU per image during the drops, by process" in report
    assert f"| the AWS stand-in (moto) | {cpu['the AWS stand-in (moto)']} |" in report
    assert "What dominates: CPU. With 1 ingest worker the stack kept" in report
    assert f"| {level['ratio']} | {' / '.join(str(ratio) for ratio in level['ratio_by_drop'])} |" in report
    as_default = report_of("throughput", {**figures, "default_ingest_workers": 1})
    drops = ", ".join(str(ratio) for ratio in level["ratio_by_drop"])
    assert f"| {level['ratio']} (drops: {drops}) | ratio at least 0.5 |" in as_default


def test_the_review_comparison_benchmark_reports_both_ratios() -> None:
    figures = review_comparison.run(history=(2, 40), rounds=2, batch=3)

    found, cost = figures["history"], figures["overhead"]
    assert found["earlier_reviews"] == [2, 40]
    by_history = found["ms_per_answer"]
    assert set(by_history) == {"2", "40"}
    assert all(ms > 0 for ms in by_history.values())
    assert found["ratio"] == pytest.approx(by_history["40"] / by_history["2"], rel=0.01)
    per_answer = cost["ms_per_answer"]
    assert set(per_answer) == {"with", "without", "without_record_write"}
    assert all(ms > 0 for ms in per_answer.values())
    assert cost["ratio"] == pytest.approx(per_answer["with"] / per_answer["without"], rel=0.01)
    assert cost["ratio_without_record_write"] == pytest.approx(
        per_answer["without_record_write"] / per_answer["without"], rel=0.01
    )
    cpu = cost["cpu_ms_per_answer"]
    assert set(cpu) == set(per_answer) and all(ms > 0 for ms in cpu.values())
    assert cost["cpu_ratio"] == pytest.approx(cpu["with"] / cpu["without"], rel=0.01)

    report = report_of("review_comparison", figures)
    assert "## 8. Review comparison" in report
    assert "review-complete ms per answer with 40 earlier reviews" in report
    assert f"| {cost['ratio']}x | at most 1.1x |" in report


def test_the_review_queue_benchmark_reports_the_cost_ratio() -> None:
    from benchmarks import review_queue

    figures = review_queue.run(sizes=(20, 300), calls=4)
    small, large = figures["sizes"]
    assert (small["open_tasks"], large["open_tasks"], large["next_calls"]) == (20, 300, 4)
    for row in (small, large):
        assert row["dynamodb_calls"] >= 2, "a query and a claim at least"
        assert row["read_units"] > 0 and row["write_units"] > 0 and row["moto_ms"] > 0
    assert figures["ratio"] == round(large["capacity_units"] / small["capacity_units"], 3)
    report = report_of("review_queue", figures)
    row = "| 11. Review queue | POST tasks/next: DynamoDB capacity units a call with 300 open tasks |"
    assert row in report
    assert "| ratio at most 1.2x |" in report
