"""Local bundling: Lambda-platform wheels installed once per requirements file, then code copied in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import lambda_bundling
from infra.lambda_bundling import BundlingError, LocalPythonBundling, installed_dependencies


@pytest.fixture
def lambdas(tmp_path: Path) -> Path:
    """A lambdas/ folder: the shared packages and one function with its requirements."""
    root = tmp_path / "lambdas"
    for package in ("hitl_core", "hitl_aws", "hitl_ingest"):
        (root / package / "__pycache__").mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"NAME = {package!r}\n")
        (root / package / "__pycache__" / "stale.pyc").write_bytes(b"\0")
    (root / "hitl_ingest" / "requirements.txt").write_text("pillow==13.0.0\n")
    return root


def fake_pip(monkeypatch: pytest.MonkeyPatch, calls: list[list[str]], returncode: int = 0) -> None:
    """Stand in for pip: record the command and lay out what it would install."""

    def run(command: list[str], **_: object) -> subprocess.CompletedProcess:
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        for package in ("PIL", "botocore", "boto3", "s3transfer"):
            (target / package).mkdir(parents=True, exist_ok=True)
            (target / package / "__init__.py").write_text("")
        (target / "botocore-1.44.5.dist-info").mkdir(exist_ok=True)
        return subprocess.CompletedProcess(
            command, returncode, "", "no matching distribution" if returncode else ""
        )

    monkeypatch.setattr(lambda_bundling.subprocess, "run", run)


def test_pip_installs_for_lambdas_platform_and_python(monkeypatch, lambdas: Path, tmp_path: Path) -> None:
    calls: list[list[str]] = []
    fake_pip(monkeypatch, calls)

    installed_dependencies(lambdas / "hitl_ingest" / "requirements.txt", tmp_path / "cache")

    (command,) = calls
    assert command[command.index("--python-version") + 1] == "3.14"
    assert "manylinux2014_aarch64" in command and "--only-binary=:all:" in command
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("-r") + 1].endswith("hitl_ingest/requirements.txt")


def test_bundle_holds_dependencies_shared_packages_and_the_function(
    monkeypatch, lambdas: Path, tmp_path: Path
) -> None:
    fake_pip(monkeypatch, [])
    out = tmp_path / "out"
    out.mkdir()

    assert LocalPythonBundling("hitl_ingest", lambdas, tmp_path / "cache").try_bundle(str(out)) is True

    names = {p.name for p in out.iterdir()}
    assert {"PIL", "hitl_core", "hitl_aws", "hitl_ingest"} <= names
    assert not names & {"boto3", "botocore", "s3transfer", "botocore-1.44.5.dist-info"}
    assert not (out / "hitl_core" / "__pycache__").exists()
    assert not (out / "hitl_ingest" / "requirements.txt").exists()


def test_dependencies_are_installed_once_per_requirements_content(
    monkeypatch, lambdas: Path, tmp_path: Path
) -> None:
    calls: list[list[str]] = []
    fake_pip(monkeypatch, calls)
    requirements = lambdas / "hitl_ingest" / "requirements.txt"

    first = installed_dependencies(requirements, tmp_path / "cache")
    again = installed_dependencies(requirements, tmp_path / "cache")
    requirements.write_text("pillow==13.0.0\npydantic==2.14.3\n")
    changed = installed_dependencies(requirements, tmp_path / "cache")

    assert first == again != changed
    assert len(calls) == 2


def test_a_failed_install_leaves_no_cache_and_says_why(monkeypatch, lambdas: Path, tmp_path: Path) -> None:
    fake_pip(monkeypatch, [], returncode=1)
    cache = tmp_path / "cache"

    with pytest.raises(BundlingError, match="no matching distribution"):
        installed_dependencies(lambdas / "hitl_ingest" / "requirements.txt", cache)

    assert list(cache.iterdir()) == []
