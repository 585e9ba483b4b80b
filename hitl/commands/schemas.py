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


@schemas.command("check")
@click.option(
    "--dir", "directory", default=str(SCHEMA_DIR), show_default=True, type=click.Path(file_okay=False)
)
def check(directory: str) -> None:
    """Fail when the schema files differ from the event models (run `hitl schemas write`)."""
    target = Path(directory)
    expected = rendered_schemas()
    found = {name: _read(target / name) for name in expected}
    problems = {
        "missing": [name for name, text in found.items() if text is None],
        "out of date": [name for name, text in found.items() if text not in (None, expected[name])],
        "no event model": sorted(p.name for p in target.glob("*.json") if p.name not in expected),
    }
    if any(problems.values()):
        listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in problems.items() if names)
        raise click.ClickException(f"{target}: {listed} (run `hitl schemas write`, delete stray files)")
    click.echo(f"{target}: {len(expected)} schema(s) match the event models")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
