"""`hitl`: the project's command line."""

from __future__ import annotations

import click

from hitl.commands.local import local
from hitl.commands.manifest import manifest
from hitl.commands.policy import policy
from hitl.commands.schemas import schemas


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Human-in-the-loop object detection: tools for the pipeline and its data."""


cli.add_command(local)
cli.add_command(manifest)
cli.add_command(policy)
cli.add_command(schemas)


def main() -> None:
    cli()
