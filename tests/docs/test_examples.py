"""Every command and code example in the README and docs/ runs, or says why it cannot offline."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from docs.doc_blocks import PROJECT_ROOT, Block, all_blocks, marker_problem

BLOCKS = all_blocks()
RUN = [block for block in BLOCKS if block.marker == "run" and marker_problem(block) is None]
TIMEOUT_SECONDS = 120


def test_every_block_is_run_or_says_why_not() -> None:
    problems = [problem for block in BLOCKS if (problem := marker_problem(block))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", [b for b in RUN if not b.needs_stack], ids=lambda block: block.id)
def test_offline_example_runs(block: Block, example_dir: Path) -> None:
    _run(block, example_dir)


@pytest.mark.e2e
@pytest.mark.xdist_group("docs-stack")
@pytest.mark.parametrize("block", [b for b in RUN if b.needs_stack], ids=lambda block: block.id)
def test_stack_example_runs(block: Block, example_dir: Path, docs_stack: Path) -> None:
    (example_dir / ".hitl").symlink_to(docs_stack)
    _run(block, example_dir)


def _run(block: Block, folder: Path) -> None:
    """Run the block as a reader would paste it, then look for the output the page shows."""
    script = folder / ("example.sh" if block.language == "bash" else "example.py")
    script.write_text(block.text, encoding="utf-8")
    command = (
        ["bash", "-eo", "pipefail", script.name]
        if block.language == "bash"
        else [".venv/bin/python", script.name]
    )
    environment = {
        **os.environ,
        "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        # fake credentials come from the session; no profile or config file may point anywhere real
        "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-aws-credentials"),
    }
    result = subprocess.run(
        command,
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    shown = f"{block.id}:\n{block.text}--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    assert result.returncode == 0, f"exit status {result.returncode} from {shown}"
    missing = [line for line in block.expected_output if line.strip() != "..." and line not in result.stdout]
    assert not missing, f"the page shows {missing}, the command did not print them: {shown}"
