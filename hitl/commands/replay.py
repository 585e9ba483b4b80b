"""`hitl policy replay`: what a routing policy would decide on real traffic, before it goes live.

Reads stored prediction records (files, folders, or an s3:// prefix), runs the policy over
each record's detections with the same identity the ingest function used (so Sampling
draws alike) and reports how many images each outcome would get, and which.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
from hitl_quality.record_reader import RecordReader
from pydantic import ValidationError

from hitl.commands.options import load_policy
from hitl_core.quality_sample import JSON_LINES
from hitl_core.records import PredictionRecord
from hitl_core.routing import RoutingPolicy, decide

ALWAYS = datetime.min.replace(tzinfo=UTC)


@dataclass
class ReplaySummary:
    """Outcomes under the replayed policy, and the images whose outcome would change."""

    outcomes: dict[str, list[str]] = field(default_factory=lambda: {"accept": [], "review": []})
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "counts": {outcome: len(images) for outcome, images in self.outcomes.items()},
            "images": self.outcomes,
            "changed": [{"image": i, "was": was, "now": now} for i, was, now in self.changed],
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
        }


def replay(policy: RoutingPolicy, documents: Iterator[tuple[str, bytes]]) -> ReplaySummary:
    """Decide every prediction record among `documents` (name, JSON bytes) again under `policy`."""
    summary = ReplaySummary()
    for name, raw in documents:
        if name.endswith(JSON_LINES):
            summary.skipped.append((name, "review records (JSON Lines), not a prediction record"))
            continue
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            summary.skipped.append((name, "not JSON"))
            continue
        if isinstance(data, dict) and data.get("status") == "rejected":
            summary.skipped.append((name, "rejected input (never scored)"))
            continue
        try:
            record = PredictionRecord.model_validate(data)
        except ValidationError as err:
            summary.skipped.append((name, f"not a prediction record ({err.error_count()} problem(s))"))
            continue
        image = f"{record.source.uri}#{record.source.version}"
        outcome = decide(policy, record.image_detections(), record.identity).outcome
        summary.outcomes[outcome].append(image)
        if outcome != record.decision.outcome:
            summary.changed.append((image, record.decision.outcome, outcome))
    return summary


def _local_documents(path: Path) -> Iterator[tuple[str, bytes]]:
    if not path.is_dir():
        yield str(path), path.read_bytes()
        return
    files = sorted(f for f in path.rglob("*.json*") if f.suffix in (".json", JSON_LINES))
    for file in files:
        yield str(file), file.read_bytes()


def _s3_documents(uri: str) -> list[tuple[str, bytes]]:
    """Every JSON object under the prefix, read on the quality-report function's threads."""
    import boto3

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise click.ClickException(f"{uri}: an s3:// prefix needs a bucket")
    return RecordReader(boto3.client("s3"), bucket).documents((prefix,), since=ALWAYS)


def documents_from(sources: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    """The JSON documents in files, folders (searched through) and s3:// prefixes, as (name, bytes)."""
    for source in sources:
        if source.startswith("s3://"):
            yield from _s3_documents(source)
            continue
        path = Path(source)
        if not path.exists():
            raise click.ClickException(f"{source}: no such file or folder")
        yield from _local_documents(path)


@click.command("replay")
@click.option(
    "--policy",
    "policy_spec",
    required=True,
    help="Preset name (e.g. band, band+sampling=5) or policy JSON file.",
)
@click.argument("records", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def replay_command(policy_spec: str, records: tuple[str, ...], as_json: bool) -> None:
    """Re-run a routing policy over stored prediction records (files, folders or an s3:// prefix).

    Prints how many images each outcome would get, which images they are, and which
    would change outcome compared with the decision recorded at the time.
    """
    summary = replay(load_policy(policy_spec), documents_from(records))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    total = sum(len(images) for images in summary.outcomes.values())
    click.echo(f"{total} image(s) replayed with policy {policy_spec}")
    for outcome, images in summary.outcomes.items():
        click.echo(f"{outcome}: {len(images)}")
        for image in images:
            click.echo(f"  {image}")
    click.echo(f"changed from the recorded decision: {len(summary.changed)}")
    for image, was, now in summary.changed:
        click.echo(f"  {image}: {was} -> {now}")
    for source, reason in summary.skipped:
        click.echo(f"skipped {source}: {reason}", err=True)
