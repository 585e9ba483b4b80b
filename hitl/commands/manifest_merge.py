"""`hitl manifest merge`: fold new answers into an existing Ground Truth manifest, locally or in S3."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError

from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.manifest import ManifestLineError, checked_lines, merge_lines


@cache
def _s3() -> Any:
    return boto3.client("s3")


def read_manifest(location: str) -> str:
    """A manifest's text from a path or an s3:// URI, line endings untouched."""
    try:
        if location.startswith("s3://"):
            bucket, key = parse_s3_uri(location)
            data = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            data = Path(location).read_bytes()
        return data.decode("utf-8")
    except (OSError, ValueError, ClientError, BotoCoreError) as err:
        raise click.ClickException(f"cannot read {location}: {err}") from None


def write_manifest(location: str, text: str) -> None:
    try:
        if location.startswith("s3://"):
            bucket, key = parse_s3_uri(location)
            _s3().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
        else:
            Path(location).write_bytes(text.encode("utf-8"))
    except (OSError, ValueError, ClientError, BotoCoreError) as err:
        raise click.ClickException(f"cannot write {location}: {err}") from None


@click.command()
@click.argument("base")
@click.argument("new", nargs=-1, required=True)
@click.option(
    "-o", "--output", "out", required=True, help="Where to write the merged manifest (path or s3://)."
)
@click.option("--attribute", help="Label attribute name (default: the one the new lines carry).")
def merge(base: str, new: tuple[str, ...], out: str, attribute: str | None) -> None:
    """Fold the answers of NEW manifest(s) into BASE and write the result to OUT.

    A line whose source-ref BASE already has replaces it in place unless BASE's line has a
    later creation-date (on equal dates the later file wins); new source-refs are appended;
    every other BASE line stays byte for byte. Several NEW manifests (e.g. sealed rolling
    manifests) are folded in the order given. BASE, NEW and OUT are local paths or s3:// URIs.
    The summary counts the BASE lines kept because they were newer than the NEW line.
    """
    base_lines = read_manifest(base).splitlines(keepends=True)
    incoming: list[dict[str, Any]] = []
    for location in new:
        try:
            lines, attribute = checked_lines(read_manifest(location), attribute, location)
        except ManifestLineError as err:
            raise click.ClickException(str(err)) from None
        incoming += lines
    if attribute is None:
        raise click.ClickException("the new manifests hold no lines; give --attribute or a non-empty NEW")
    try:
        result = merge_lines(base_lines, incoming, attribute)
    except ManifestLineError as err:
        raise click.ClickException(f"{base}: {err}") from None
    write_manifest(out, "".join(result.lines))
    click.echo(
        f"{out}: {sum(1 for m in result.lines if m.strip())} line(s), {result.replaced} replaced, "
        f"{result.added} added, {result.kept_newer} base line(s) kept because they were newer"
    )
