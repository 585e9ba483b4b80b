"""Cold start and size: each function's import time as Lambda loads it, and its deployment package size.

Sizes come from the real bundling (`infra.lambda_bundling`: Lambda's arm64 wheels for Python
3.14, boto3 left to the runtime), unzipped and zipped as the asset is uploaded. Those wheels
cannot be imported on this machine (x86_64, Python 3.11), so the import is timed on the same
bundle built from this machine's wheels: a fresh interpreter with only the bundle ahead of the
venv (which stands in for the runtime's boto3) on sys.path, importing the handler module the
way Lambda does. Lambda's code folder is read-only and the bundle ships no bytecode, so every
cold start compiles the bundle's modules; the figure with bytecode shows what that compiling costs.
Each import is timed as wall time and as the interpreter's CPU time (user + system): on a
machine shared with other work the wall time swells while the CPU time stays the import's own.
What the handlers build on their first message (the tracer and its X-Ray SDK, boto3 and the
clients) is timed too, as "first use", so nothing moved out of the import goes unmeasured.
Run alone: `.venv/bin/python -m benchmarks --only cold_start`.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitl_core.config import config_from_file, config_to_env
from infra.lambda_bundling import CACHE_DIR, LAMBDAS_DIR, SHARED_PACKAGES, LocalPythonBundling

PROJECT_ROOT = LAMBDAS_DIR.parent

HOST_CACHE_DIR = CACHE_DIR.parent / "benchmark-host-deps"
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


@dataclass(frozen=True)
class LambdaFunction:
    """A deployed function: the folder under lambdas/ its code is in and the module its handler is in."""

    name: str
    folder: str
    module: str
    bundled: bool  # built by LocalPythonBundling (dependencies + shared packages), else the folder as is
    first_use: str = ""  # what the handler builds on its first message, run on the imported module `m`


FUNCTIONS = (
    LambdaFunction(
        "ingest", "hitl_ingest", "hitl_ingest.handler", bundled=True, first_use="m.tracer(); m.dependencies()"
    ),
    LambdaFunction(
        "review-complete", "hitl_review", "hitl_review.handler", bundled=True, first_use="m.completion()"
    ),
    LambdaFunction("flow-definition (custom resource)", "hitl_flow_definition", "handler", bundled=False),
)


def run(repeats: int = 7) -> list[dict[str, Any]]:
    """Each function's bundle size and median import time over `repeats` fresh interpreters.

    The bundle as shipped and its precompiled copy are imported turn about, so both see the
    same load on this machine.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="hitl-bench-bundles-") as scratch:
        for function in FUNCTIONS:
            lambda_bundle = Path(scratch) / f"{function.folder}-lambda"
            host_bundle = Path(scratch) / f"{function.folder}-host"
            compiled_bundle = Path(scratch) / f"{function.folder}-host-compiled"
            _bundle(function, lambda_bundle, _lambda_dependencies)
            _bundle(function, host_bundle, _host_dependencies)
            shutil.copytree(host_bundle, compiled_bundle)
            compileall.compile_dir(compiled_bundle, quiet=1, workers=1)
            cold, warm, first_use = [], [], []
            for _ in range(repeats):
                cold.append(_import_ms(host_bundle, function.module))
                warm.append(_import_ms(compiled_bundle, function.module))
                if function.first_use:
                    first_use.append(_import_ms(compiled_bundle, function.module, function.first_use))
            rows.append(
                {
                    "function": function.name,
                    "handler_module": function.module,
                    "bundle_bytes": _tree_bytes(lambda_bundle),
                    "bundle_zipped_bytes": _zipped_bytes(lambda_bundle),
                    "import_ms_median": _median(cold, "wall"),
                    "import_ms_with_bytecode_median": _median(warm, "wall"),
                    "import_cpu_ms_median": _median(cold, "cpu"),
                    "import_cpu_ms_with_bytecode_median": _median(warm, "cpu"),
                    "first_use_cpu_ms_with_bytecode_median": _median(first_use, "cpu") if first_use else None,
                    "slowest_imports": _slowest_imports(host_bundle, function.module, runs=min(repeats, 3)),
                }
            )
    return rows


def _bundle(function: LambdaFunction, out: Path, dependencies: Any) -> None:
    out.mkdir(parents=True)
    if not function.bundled:
        shutil.copytree(LAMBDAS_DIR / function.folder, out, dirs_exist_ok=True, ignore=_NO_BYTECODE)
        return
    dependencies(function, out)


_NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")
# What the functions read from their environment on their first message (no call is made).
_FUNCTION_ENVIRONMENT = {
    "HITL_CONFIG": config_to_env(config_from_file(PROJECT_ROOT / "cdk.json")),
    "EVENT_BUS_NAME": "hitl-bus",
    "TRAINING_BUCKET": "hitl-training",
    "FLOW_DEFINITION_ARN": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl",
    "ENDPOINT_NAME": "hitl-detector",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def _lambda_dependencies(function: LambdaFunction, out: Path) -> None:
    """The deployment package exactly as `cdk synth` builds it."""
    LocalPythonBundling(function.folder).try_bundle(str(out))


def _host_dependencies(function: LambdaFunction, out: Path) -> None:
    """The same package from this machine's wheels: the function's requirements, its code, the shared code."""
    requirements = LAMBDAS_DIR / function.folder / "requirements.txt"
    digest = hashlib.sha256(f"{sys.version}\n".encode() + requirements.read_bytes()).hexdigest()[:16]
    installed = HOST_CACHE_DIR / digest
    if not installed.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=_mkdir(HOST_CACHE_DIR)))
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--only-binary=:all:", "--no-compile", "--target", str(staging), "-r", str(requirements)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if pip.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"pip install -r {requirements} failed:\n{pip.stderr.strip()}")
        staging.rename(installed)
    runtime_provided = shutil.ignore_patterns(
        "__pycache__", "*.pyc", "boto3", "boto3-*", "botocore", "botocore-*", "s3transfer", "s3transfer-*"
    )
    shutil.copytree(installed, out, dirs_exist_ok=True, ignore=runtime_provided)
    for package in (*SHARED_PACKAGES, function.folder):
        shutil.copytree(LAMBDAS_DIR / package, out / package, dirs_exist_ok=True, ignore=_NO_BYTECODE)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _interpreter(bundle: Path, code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter, the bundle first on sys.path, writing no bytecode (Lambda's disk is read-only)."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **_FUNCTION_ENVIRONMENT,
    }
    prelude = f"import sys; sys.path.insert(0, {str(bundle)!r}); "
    return subprocess.run(
        [sys.executable, *flags, "-c", prelude + code],
        env=environment,
        cwd=bundle,
        capture_output=True,
        text=True,
        check=True,
    )


def _import_ms(bundle: Path, module: str, then: str = "") -> dict[str, float]:
    """Wall and CPU milliseconds of importing `module` (as `m`) and running `then` after it."""
    code = (
        "import importlib, time; wall, cpu = time.perf_counter(), time.process_time(); "
        f"m = importlib.import_module({module!r}); {then or 'pass'}; "
        "print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)"
    )
    wall, cpu = _interpreter(bundle, code).stdout.split()
    return {"wall": float(wall), "cpu": float(cpu)}


def _median(samples: list[dict[str, float]], kind: str) -> float:
    return round(statistics.median(sample[kind] for sample in samples), 1)


def _slowest_imports(bundle: Path, module: str, *, runs: int, top: int = 4) -> dict[str, float]:
    """The top-level packages the module pulls in that take longest to import (ms, own time, median)."""
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        report = _interpreter(bundle, f"import {module}", "-X", "importtime").stderr
        by_package: Counter[str] = Counter()
        for line in report.splitlines():
            match = _IMPORT_LINE.match(line)
            if match:
                by_package[match.group(4).split(".")[0]] += int(match.group(1))
        for name, microseconds in by_package.items():
            samples.setdefault(name, []).append(microseconds)
    # A package a run did not import counts as 0 ms in that run.
    medians = {
        name: statistics.median(values + [0] * (runs - len(values))) for name, values in samples.items()
    }
    slowest = sorted(medians.items(), key=lambda item: -item[1])[:top]
    return {name: round(microseconds / 1000, 1) for name, microseconds in slowest}


def _tree_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _zipped_bytes(folder: Path) -> int:
    """The size of the folder as a deflated zip, as CDK uploads a folder asset."""
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(folder))
        return archive.tell()
