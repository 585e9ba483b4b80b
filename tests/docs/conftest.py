"""Fixtures of the docs tests: a folder for each example, as a checkout looks to it, and the local stack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.e2e_helpers import MODEL_DIR

from docs.doc_blocks import PROJECT_ROOT
from hitl.local.sample_photos import skimage_data_dir
from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """An empty folder with the project's `.venv` and `schemas/` (linked), `cdk.json` and a `photo.jpg`."""
    for name in (".venv", "schemas"):
        (tmp_path / name).symlink_to(PROJECT_ROOT / name)
    shutil.copy(PROJECT_ROOT / "cdk.json", tmp_path / "cdk.json")
    shutil.copy(skimage_data_dir() / "rocket.jpg", tmp_path / "photo.jpg")
    return tmp_path


@pytest.fixture(scope="session")
def docs_stack(tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig) -> Iterator[Path]:
    """The local stack (built-in review) that `run: stack` examples share; yields its state folder."""
    state = tmp_path_factory.mktemp("docs-stack") / "state"
    stack = LocalStack(
        StackSettings(config=pipeline_config, state_dir=state, model_dir=MODEL_DIR), on_line=print
    )
    stack.start()
    yield state
    stack.stop()
