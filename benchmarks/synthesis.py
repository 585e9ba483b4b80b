"""Synthesis: how long `make synth` takes (CDK app with local bundling and cdk-nag, then cfn-lint).

`make synth` runs whole, as a user runs it; cfn-lint is then timed alone on the templates it
produced, so the figure splits into the CDK part and the lint. Bundling reuses the dependency
cache (.cache/lambda-deps) that earlier runs filled, as a developer's second run does.
Run alone: `.venv/bin/python -m benchmarks --only synthesis`.
"""

from __future__ import annotations

import glob
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CFN_LINT = [".venv/bin/cfn-lint", "--ignore-checks", "W3005", "--"]


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def run(repeats: int = 1) -> dict[str, Any]:
    """Median of `repeats` runs of `make synth`, and of cfn-lint alone on its output."""
    synth = [_timed(["make", "--no-print-directory", "synth"]) for _ in range(repeats)]
    templates = sorted(glob.glob(str(PROJECT_ROOT / "cdk.out" / "*.template.json")))
    lint = _timed([*CFN_LINT, *templates])
    total = statistics.median(synth)
    return {
        "runs": repeats,
        "make_synth_seconds": round(total, 1),
        "cfn_lint_seconds": round(lint, 1),
        "cdk_synth_seconds": round(total - lint, 1),
        "templates": len(templates),
    }
