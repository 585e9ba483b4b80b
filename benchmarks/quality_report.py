"""How the quality report's time grows with the reviews behind it: 10,000 against 100,000.

Synthetic records (`hitl.quality_traffic`) are built in memory first; the timed part is what the
daily function and `hitl quality report` do with them: parse and join the records, assess
(estimate, drift, the advisor's replay of twenty thresholds, the series) and render the HTML page.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from hitl.quality_traffic import Traffic, traffic_documents
from hitl_core.config import load_config
from hitl_core.quality_report import build_report

END = datetime(2026, 12, 7, tzinfo=UTC)
SIZES = (10_000, 100_000)
PILOT_IMAGES = 2_000
CONFIG = load_config(
    {"labels": ["person", "car", "dog"], "routing": {"preset": "top-score-below", "sampling_percentage": 10}}
)


def _review_share() -> float:
    """The share of images the synthetic traffic sends to a person (from a pilot run)."""
    names = [name for name, _ in traffic_documents(Traffic(PILOT_IMAGES, end=END))]
    return sum(name.startswith("reviews/") for name in names) / PILOT_IMAGES


def _timed(documents: list[tuple[str, bytes]]) -> tuple[float, float, str]:
    """(CPU seconds, wall seconds, HTML) of one report from `documents`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    _, html = build_report(documents, CONFIG, END)
    return time.process_time() - cpu_started, time.perf_counter() - started, html


def _figures(documents: list[tuple[str, bytes]], runs: list[tuple[float, float, str]]) -> dict[str, Any]:
    answered = sum(name.startswith("reviews/") for name, _ in documents)
    return {
        "reviews": answered,
        "records": len(documents) - answered,
        "cpu_seconds": round(min(cpu for cpu, _, _ in runs), 2),
        "seconds": round(min(wall for _, wall, _ in runs), 2),
        "runs": [round(cpu, 2) for cpu, _, _ in runs],
        "html_kb": round(len(runs[-1][2]) / 1024, 1),
    }


def run(sizes: tuple[int, int] = SIZES, repeats: int = 3) -> dict[str, Any]:
    """The fastest report at each size over `repeats` alternating runs, and the larger's ratio.

    The ratio is of CPU time (one process, one thread), and of each size's fastest run: on a shared
    machine the other processes' load swells wall time, and even CPU time (caches, memory
    bandwidth), by more than the differences measured. Wall time is kept beside it.
    """
    share = _review_share()
    documents = [list(traffic_documents(Traffic(round(size / share), end=END))) for size in sizes]
    runs: tuple[list[Any], list[Any]] = ([], [])
    for _ in range(repeats):  # alternating, so a burst of load on the machine hits both sizes
        for index, size_documents in enumerate(documents):
            runs[index].append(_timed(size_documents))
    small, large = (_figures(d, r) for d, r in zip(documents, runs, strict=True))
    return {
        "small": small,
        "large": large,
        "size_ratio": round(large["reviews"] / small["reviews"], 2),
        "ratio": round(large["cpu_seconds"] / small["cpu_seconds"], 2),
        "wall_ratio": round(large["seconds"] / small["seconds"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=SIZES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(tuple(args.sizes), args.repeats), indent=2))


if __name__ == "__main__":
    main()
