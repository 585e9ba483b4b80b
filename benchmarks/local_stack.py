"""The local stack a benchmark runs against: started quietly in a throwaway state folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from hitl.local.model_store import DEFAULT_CACHE_DIR
from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig


@contextmanager
def running_stack(
    config: PipelineConfig,
    *,
    model_dir: Path = DEFAULT_CACHE_DIR,
    worker_environment: Mapping[str, str] | None = None,
    **settings: Any,
) -> Iterator[LocalStack]:
    """A started local stack; `worker_environment` is added to what its function workers inherit,
    `settings` are StackSettings fields (ingest_concurrency, detector_throttle_fraction, ...).

    The stack's console lines (one per batch) are kept off the benchmark's output.
    """
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as state_dir:
        # The A2I backend unless asked: the ingest benchmark compares against bare StartHumanLoop
        # calls, the load benchmark's reviewers answer through the A2I runtime.
        stack_settings = StackSettings(
            config=config,
            state_dir=Path(state_dir),
            model_dir=model_dir,
            **{"review_backend": "a2i", **settings},
        )
        stack = LocalStack(stack_settings, on_line=lambda line: None)
        # The workers' environment is built from this process's at start.
        with mock.patch.dict(os.environ, dict(worker_environment or {})):
            stack.start()
        try:
            yield stack
        finally:
            stack.stop()
