"""How the quality report's time grows with the reviews behind it: 10,000 against 100,000.

Synthetic records (`hitl.quality_traffic`) are built in memory first; the timed part is what the
daily function and `hitl quality report` do with them: parse and join the records, assess
(estimate, drift, the advisor's replay of twenty thresholds, the series) and render the HTML page.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def _one_size(reviews: int, share: float, repeats: int) -> dict[str, Any]:
    documents = list(traffic_documents(Traffic(round(reviews / share), end=END)))
    answered = sum(name.startswith("reviews/") for name, _ in documents)
    seconds, cpu_seconds, html = [], [], ""
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        _, html = build_report(documents, CONFIG, END)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    return {
        "reviews": answered,
        "records": len(documents) - answered,
        "cpu_seconds": round(statistics.median(cpu_seconds), 2),
        "seconds": round(statistics.median(seconds), 2),
        "runs": [round(s, 2) for s in cpu_seconds],
        "html_kb": round(len(html) / 1024, 1),
    }


def run(sizes: tuple[int, int] = SIZES, repeats: int = 3) -> dict[str, Any]:
    """The median report time at each size, and the larger's ratio to the smaller.

    The ratio is of CPU time (one process, one thread): on a shared machine wall time swells with
    the other processes' load, and the two sizes run minutes apart. Wall time is kept beside it.
    """
    share = _review_share()
    small, large = (_one_size(size, share, repeats) for size in sizes)
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
