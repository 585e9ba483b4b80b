"""`hitl`: the project's command line."""

from __future__ import annotations

import click

from hitl.commands.local import local
from hitl.commands.manifest import manifest
from hitl.commands.policy import policy
from hitl.commands.preflight import preflight
from hitl.commands.quality import quality
from hitl.commands.review import review
from hitl.commands.schemas import schemas
from hitl.commands.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Human-in-the-loop object detection: tools for the pipeline and its data."""


cli.add_command(local)
cli.add_command(manifest)
cli.add_command(policy)
cli.add_command(quality)
cli.add_command(review)
cli.add_command(preflight)
cli.add_command(schemas)
cli.add_command(train)


def main() -> None:
    cli()
