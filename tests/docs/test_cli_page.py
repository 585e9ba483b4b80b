"""The command-line page has a row for every `hitl` command."""

from __future__ import annotations

import click

from docs.doc_blocks import PROJECT_ROOT
from hitl.cli import cli

CLI_PAGE = PROJECT_ROOT / "docs" / "cli.md"


def command_paths(group: click.Group, prefix: str = "hitl") -> list[str]:
    """Every runnable command under `group`, as a user types it (`hitl local up`)."""
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        paths += command_paths(command, path) if isinstance(command, click.Group) else [path]
    return paths


def test_every_command_has_a_row() -> None:
    rows = [line for line in CLI_PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("| `hitl ")]
    commands = command_paths(cli)
    assert "hitl local up" in commands
    missing = [
        c
        for c in commands
        if not any(row.startswith(f"| `{c}`") or row.startswith(f"| `{c} ") for row in rows)
    ]
    assert not missing, f"docs/cli.md has no row for {missing}"
