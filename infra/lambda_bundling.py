"""Bundle a Python function without Docker: pip installs Lambda's wheels, then the code is copied in.

CDK calls `try_bundle` instead of running a container; the Docker image it names is never run.
The installed dependencies are cached per requirements file, so a second bundle only copies.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, aws_lambda

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
CACHE_DIR = LAMBDAS_DIR.parent / ".cache" / "lambda-deps"
SHARED_PACKAGES = ("hitl_core", "hitl_aws")
# Lambda's Python 3.14 runtime runs Amazon Linux 2023 (glibc 2.34) on Graviton.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
PYTHON_VERSION = "3.14"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt")
# The runtime ships boto3 and its botocore; a second, bundled botocore would shadow it.
_RUNTIME_PROVIDED = shutil.ignore_patterns(
    "__pycache__", "boto3", "boto3-*", "botocore", "botocore-*", "s3transfer", "s3transfer-*"
)


class BundlingError(RuntimeError):
    """pip could not install the function's dependencies for Lambda."""


def installed_dependencies(requirements: Path, cache_dir: Path = CACHE_DIR) -> Path:
    """A folder holding the requirements installed for Lambda's platform, built once per file content."""
    digest = hashlib.sha256(
        f"{' '.join(PLATFORMS)} {PYTHON_VERSION}\n".encode() + requirements.read_bytes()
    ).hexdigest()[:16]
    target = cache_dir / digest
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=cache_dir))
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        *platforms, "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--cache-dir", str(cache_dir.parent / "pip"), "--target", str(staging), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundlingError(f"pip install -r {requirements} failed:\n{result.stderr.strip()}")
    try:
        staging.rename(target)
    except OSError:  # another process finished the same install first
        shutil.rmtree(staging, ignore_errors=True)
    return target


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    """Fills CDK's output folder with the function's dependencies, the shared packages and its package."""

    def __init__(self, package: str, lambdas_dir: Path = LAMBDAS_DIR, cache_dir: Path = CACHE_DIR) -> None:
        self._package = package
        self._lambdas_dir = lambdas_dir
        self._cache_dir = cache_dir

    def try_bundle(self, output_dir: str, _options: object = None) -> bool:
        out = Path(output_dir)
        deps = installed_dependencies(self._lambdas_dir / self._package / "requirements.txt", self._cache_dir)
        shutil.copytree(deps, out, dirs_exist_ok=True, ignore=_RUNTIME_PROVIDED)
        for package in (*SHARED_PACKAGES, self._package):
            shutil.copytree(self._lambdas_dir / package, out / package, dirs_exist_ok=True, ignore=_IGNORED)
        return True


def python_function_code(package: str) -> aws_lambda.Code:
    """The deployment package of the function whose code is `lambdas/<package>`."""
    return aws_lambda.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=["**/__pycache__", "*.pyc"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry("python-lambda-bundling-never-run"),
            local=LocalPythonBundling(package),
            # Part of the asset's fingerprint: two functions bundled from one folder differ.
            environment={"FUNCTION_PACKAGE": package},
        ),
    )
