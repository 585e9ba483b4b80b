"""`hitl schemas`: the event JSON Schemas checked into `schemas/events/`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hitl_core.events import EVENT_TYPES, event_schema

SCHEMA_DIR = Path("schemas/events")


def rendered_schemas() -> dict[str, str]:
    """File name -> file text for every event detail-type."""
    return {
        f"{t.schema_name}.json": json.dumps(event_schema(t), indent=2, sort_keys=True) + "\n"
        for t in EVENT_TYPES
    }


@click.group()
def schemas() -> None:
    """Event schemas for downstream consumers."""


@schemas.command("write")
@click.option(
    "--dir", "directory", default=str(SCHEMA_DIR), show_default=True, type=click.Path(file_okay=False)
)
def write(directory: str) -> None:
    """Regenerate the schema files from the event models."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in rendered_schemas().items():
        (target / name).write_text(text)
        click.echo(f"wrote {target / name}")
