"""`hitl manifest`: Ground Truth manifest lines from A2I answers, and checks on manifests."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hitl.commands.manifest_merge import merge
from hitl.commands.options import config_option, load_pipeline_config, read_json
from hitl_core.manifest import AnswerError, ManifestLineError, dump_line, ground_truth_line, validate_line


@click.group()
def manifest() -> None:
    """Build, check and merge Ground Truth object-detection manifests."""


@manifest.command()
@click.argument("output_json", type=click.Path(exists=True, dir_okay=False))
@config_option
def convert(output_json: str, config_path: str) -> None:
    """Print the manifest line for an A2I output.json."""
    config = load_pipeline_config(config_path)
    try:
        line = ground_truth_line(
            read_json(output_json, "A2I output"),
            attribute=config.manifest_attribute,
            class_list=config.labels,
        )
    except AnswerError as err:
        raise click.ClickException(f"{output_json}: {err}") from None
    click.echo(dump_line(line), nl=False)


@manifest.command()
@click.argument("manifest_path", metavar="MANIFEST", type=click.Path(exists=True, dir_okay=False))
@click.option("--attribute", help="Label attribute name (default: the one the first line carries).")
def validate(manifest_path: str, attribute: str | None) -> None:
    """Check every line against the Ground Truth object-detection format.

    All lines must carry the same label attribute, since a training channel names one.
    """
    count = 0
    with Path(manifest_path).open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                attribute = validate_line(json.loads(raw.decode("utf-8")), attribute)
            except UnicodeDecodeError:
                raise click.ClickException(f"line {number}: not UTF-8 text") from None
            except json.JSONDecodeError as err:
                raise click.ClickException(f"line {number}: not JSON ({err.msg})") from None
            except ManifestLineError as err:
                raise click.ClickException(f"line {number}: {err}") from None
            count += 1
    click.echo(f"{manifest_path}: {count} valid line(s)")


manifest.add_command(merge)
