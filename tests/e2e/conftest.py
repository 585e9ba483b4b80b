"""The local stack on free loopback ports, and ways to watch it as an outside client would."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e.e2e_helpers import MODEL_DIR
from hitl.local.aws_resources import ReviewBackend
from hitl.local.stack import ENDPOINTS_FILE, LocalStack, StackSettings
from hitl_core.config import PipelineConfig

RETRY_AFTER_SECONDS = 5


@pytest.fixture
def review_backend() -> ReviewBackend:
    """The review backend the stack runs; a test module overrides this fixture to choose."""
    return "a2i"


@pytest.fixture
def local_stack(
    tmp_path: Path, pipeline_config: PipelineConfig, review_backend: ReviewBackend
) -> Iterator[LocalStack]:
    """A started local stack (needs `hitl local fetch-model` first), stopped after the test.

    Its state folder is the test's own, so it starts empty (a stack keeps its AWS state in its
    state folder across restarts).
    """
    stack = LocalStack(
        StackSettings(
            config=pipeline_config,
            state_dir=tmp_path / "state",
            model_dir=MODEL_DIR,
            visibility_timeout_seconds=RETRY_AFTER_SECONDS,
            review_backend=review_backend,
        ),
        on_line=print,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def endpoints(local_stack: LocalStack) -> dict[str, Any]:
    """The endpoints file, as a user's script reads it."""
    return json.loads((local_stack.state_dir / ENDPOINTS_FILE).read_text())


@pytest.fixture
def client(endpoints: dict[str, Any]) -> Callable[[str], Any]:
    """boto3 clients built from the endpoints file alone."""

    def make(service: str) -> Any:
        return boto3.client(
            service, endpoint_url=endpoints["endpoints"][service], region_name=endpoints["region"]
        )

    return make
