"""`hitl policy`: see what a routing policy decides, before it goes live."""

from __future__ import annotations

import json

import click

from hitl.commands.options import load_policy, read_json
from hitl.commands.replay import replay_command
from hitl_core.detections import ImageDetections
from hitl_core.routing import decide


@click.group()
def policy() -> None:
    """Explain and replay routing policies."""


@policy.command()
@click.option(
    "--policy",
    "policy_spec",
    required=True,
    help="Preset name (e.g. band, band+sampling=5) or policy JSON file.",
)
@click.option(
    "--detections",
    "detections_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help='JSON: {"image_size": {...}, "detections": [{label, score, left, top, width, height}]}.',
)
@click.option("--identity", default="local", show_default=True, help="Image identity that seeds Sampling.")
def explain(policy_spec: str, detections_path: str, identity: str) -> None:
    """Print the decision for one image's detections with each condition's result."""
    routing_policy = load_policy(policy_spec)
    try:
        detections = ImageDetections.from_dict(read_json(detections_path, "detections"))
    except KeyError as err:
        raise click.ClickException(f"detections {detections_path}: lacks {err}") from None
    except (TypeError, ValueError) as err:
        raise click.ClickException(f"detections {detections_path}: {err}") from None
    decision = decide(routing_policy, detections, identity)
    shown = [d.to_dict() for d in decision.shown.detections]
    click.echo(json.dumps({**decision.to_dict(), "shown": shown}, indent=2))


policy.add_command(replay_command)
