"""`python -m benchmarks` (what `make bench` runs): every benchmark in one run, one table of figures.

A full run writes benchmarks/results.json and benchmarks/RESULTS.md (the table the README
shows); a partial run (`--quick`, `--only`) prints its figures and writes nothing unless
`--output` names a folder, so the committed figures always come from one complete run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.report import markdown

BENCHMARKS_DIR = Path(__file__).resolve().parent
# Importing the CDK (cold-start bundling) starts Node; its end-of-life banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def _ingest(quick: bool) -> Any:
    ingest_overhead = importlib.import_module("benchmarks.ingest_overhead")
    return ingest_overhead.run(copies=1, repeats=1) if quick else ingest_overhead.run()


def _throughput(quick: bool) -> Any:
    throughput = importlib.import_module("benchmarks.throughput")
    return throughput.run(copies=1) if quick else throughput.run()


def _load(quick: bool) -> Any:
    return importlib.import_module("benchmarks.load_faults").run(images=40 if quick else 1_000)


def _load_builtin(quick: bool) -> Any:
    load_faults = importlib.import_module("benchmarks.load_faults")
    return load_faults.run(images=40 if quick else 1_000, backend="builtin")


def _manifest(quick: bool) -> Any:
    manifest_append = importlib.import_module("benchmarks.manifest_append")
    checkpoints = (10, 100) if quick else manifest_append.CHECKPOINTS
    return {
        "appends": manifest_append.run(checkpoints, samples=3 if quick else 15),
        "concurrent": manifest_append.concurrent_appenders(writers=8, batches=2 if quick else 10),
    }


def _cold_start(quick: bool) -> Any:
    return importlib.import_module("benchmarks.cold_start").run(repeats=1 if quick else 5)


def _synthesis(quick: bool) -> Any:
    return importlib.import_module("benchmarks.synthesis").run(repeats=1)


def _review_editor(quick: bool) -> Any:
    return importlib.import_module("benchmarks.review_editor").run(steps=20 if quick else 120)


def _review_comparison(quick: bool) -> Any:
    review_comparison = importlib.import_module("benchmarks.review_comparison")
    return review_comparison.run(history=(100, 1_000), rounds=3) if quick else review_comparison.run()


def _quality_report(quick: bool) -> Any:
    quality_report = importlib.import_module("benchmarks.quality_report")
    return quality_report.run(sizes=(500, 5_000), repeats=1) if quick else quality_report.run()


def _review_queue(quick: bool) -> Any:
    review_queue = importlib.import_module("benchmarks.review_queue")
    return review_queue.run(sizes=(100, 2_000), calls=5) if quick else review_queue.run()


def _review_api_overhead(quick: bool) -> Any:
    review_api_overhead = importlib.import_module("benchmarks.review_api_overhead")
    return review_api_overhead.run(rounds=1, reviewers=3) if quick else review_api_overhead.run()


def _review_reviewers(quick: bool) -> Any:
    review_reviewers = importlib.import_module("benchmarks.review_reviewers")
    return review_reviewers.run(reviewers=10, seconds=5) if quick else review_reviewers.run()


BENCHMARKS: dict[str, Callable[[bool], Any]] = {
    "ingest": _ingest,
    "throughput": _throughput,
    "manifest": _manifest,
    "load": _load,
    "cold_start": _cold_start,
    "synthesis": _synthesis,
    "review_editor": _review_editor,
    "review_comparison": _review_comparison,
    "load_builtin": _load_builtin,
    "quality_report": _quality_report,
    "review_queue": _review_queue,
    "review_api_overhead": _review_api_overhead,
    "review_reviewers": _review_reviewers,
}


def _environment() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCHMARKS_DIR,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or None,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, help="folder for results.json and RESULTS.md")
    args = parser.parse_args(argv)
    selected = args.only or list(BENCHMARKS)
    partial = args.quick or len(selected) < len(BENCHMARKS)
    output = args.output or (None if partial else BENCHMARKS_DIR)

    environment = _environment()
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in selected:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        results[name] = BENCHMARKS[name](args.quick)
        seconds[name] = round(time.perf_counter() - started, 1)
    document = {"environment": environment, "quick": args.quick, "seconds": seconds, "results": results}
    report = markdown(document)
    print(report)
    if output is None:
        print("(a partial run: figures not written; --output FOLDER writes them)", file=sys.stderr)
        return 0
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (output / "RESULTS.md").write_text(report, encoding="utf-8")
    print(f"written: {output / 'results.json'}, {output / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
