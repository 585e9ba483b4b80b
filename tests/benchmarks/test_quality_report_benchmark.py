"""Smoke test: the quality-report benchmark times two sizes and its row reaches the report."""

from __future__ import annotations

from test_benchmarks_smoke import report_of

from benchmarks import quality_report


def test_the_quality_report_benchmark_reports_both_sizes_and_their_ratio() -> None:
    figures = quality_report.run(sizes=(100, 1_000), repeats=1)

    small, large = figures["small"], figures["large"]
    assert 80 <= small["reviews"] <= 120 and 900 <= large["reviews"] <= 1_100
    assert small["records"] > small["reviews"]  # some images were accepted unseen
    assert small["cpu_seconds"] > 0 and large["seconds"] > 0 and small["html_kb"] > 10
    assert figures["ratio"] == round(large["cpu_seconds"] / small["cpu_seconds"], 2)
    assert figures["wall_ratio"] == round(large["seconds"] / small["seconds"], 2)
    assert figures["size_ratio"] == round(large["reviews"] / small["reviews"], 2)

    report = report_of("quality_report", figures)
    assert f"| 10. Quality report | CPU seconds for the report from {large['reviews']:,} reviews |" in report
    assert "ratio at most 10x" in report
