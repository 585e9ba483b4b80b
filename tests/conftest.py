"""Fixtures shared by every test area: fake AWS credentials, a moto server, the configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from hitl_core.config import PipelineConfig, config_from_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup`, fail unless xdist kept each test's group (it writes it into the node id):
    a lost group splits a module's stack or synth over both workers, each building it, silently."""
    if getattr(config.option, "loadgroup", False):
        lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
        if lost:
            raise RuntimeError(f"--dist loadgroup lost the xdist_group of {len(lost)} tests, e.g. {lost[0]}")


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so no test can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """A moto server on a free loopback port, for tests that need real HTTP (threads, CLI, servers).

    Tests sharing it must use their own uniquely named resources.
    """
    from hitl.local.aws_stand_in import serialize_dynamodb_writes

    serialize_dynamodb_writes()  # as the local stack's moto: conditional writes atomic under threads
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def pipeline_config() -> PipelineConfig:
    """The project's embedded default configuration (cdk.json context 'hitl')."""
    return config_from_file(PROJECT_ROOT / "cdk.json")
