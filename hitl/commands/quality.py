"""`hitl quality`: what the reviews say about the model, as one HTML report (and traffic to try it on)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from hitl.commands.options import config_option, load_pipeline_config
from hitl.commands.replay import documents_from
from hitl.local.stack import DEFAULT_STATE_DIR, ENDPOINTS_FILE, FAKE_CREDENTIALS
from hitl.quality_traffic import Traffic, traffic_objects
from hitl_core.quality_report import build_report
from hitl_core.quality_sample import parse_time


@click.group()
def quality() -> None:
    """Measure the model by its reviews: errors let through, drift, the threshold advisor."""


def local_stack_sources(state_dir: Path, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """Point boto3 at the local stack in `state_dir` and name its training bucket's record prefixes."""
    endpoints_file = state_dir / ENDPOINTS_FILE
    try:
        endpoints = json.loads(endpoints_file.read_text())
    except OSError:
        raise click.ClickException(
            f"{endpoints_file}: no running local stack (start `hitl local up`)"
        ) from None
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = endpoints["region"]
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoints["endpoints"]["s3"]
    bucket = endpoints["buckets"]["training"]
    return tuple(f"s3://{bucket}/{prefix}" for prefix in prefixes)


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_time(value)
    except ValueError:
        raise click.ClickException(f"--now {value}: not an ISO 8601 time") from None


@quality.command("report")
@click.argument("sources", nargs=-1)
@click.option(
    "--local-stack",
    "state_dir",
    is_flag=False,
    flag_value=str(DEFAULT_STATE_DIR),
    default=None,
    type=click.Path(file_okay=False),
    help=f"Read the running local stack's records (its state folder, default {DEFAULT_STATE_DIR}).",
)
@click.option(
    "--out",
    "out_path",
    default="quality-report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the HTML report.",
)
@click.option("--now", "now_text", help="End of the recent window (ISO 8601, UTC); default: now.")
@config_option
def report_command(
    sources: tuple[str, ...], state_dir: str | None, out_path: str, now_text: str | None, config_path: str
) -> None:
    """Write the quality report from prediction and review records.

    SOURCES are folders or files (searched for *.json) or s3:// prefixes holding the training-data
    bucket's predictions/ and reviews/; or give --local-stack.
    """
    config = load_pipeline_config(config_path)
    if state_dir is not None:
        prefixes = (config.prefixes.predictions, config.prefixes.reviews)
        sources = sources + local_stack_sources(Path(state_dir), prefixes)
    if not sources:
        raise click.UsageError("name a folder, a file or an s3:// prefix, or give --local-stack")
    assessment, html = build_report(documents_from(sources), config, _now(now_text))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    click.echo(f"Quality report: {out}")
    for line in assessment.summary_lines():
        click.echo(f"  {line}")
    for name, reason in assessment.skipped:
        click.echo(f"skipped {name}: {reason}", err=True)


def _write(folder: Path, documents: Iterator[tuple[str, bytes]]) -> int:
    count = 0
    for name, raw in documents:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        count += 1
    return count


@quality.command("synthetic")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--images", default=5_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--audit", "audit_percentage", default=10.0, show_default=True, type=click.FloatRange(0.01, 100)
)
@click.option("--now", "now_text", help="The traffic's last day (ISO 8601, UTC); default: now.")
@click.option("--seed", default=1, show_default=True)
def synthetic_command(
    folder: str, images: int, audit_percentage: float, now_text: str | None, seed: int
) -> None:
    """Write synthetic records with a known truth (and a drop in 'dog' over the last week) to FOLDER.

    Routed by top-score-below with an audit sample, as the config `{"routing": {"preset":
    "top-score-below", "sampling_percentage": AUDIT}}` does; try the report on it.
    """
    traffic = Traffic(images, end=_now(now_text), audit_percentage=audit_percentage, seed=seed)
    written = _write(Path(folder), traffic_objects(traffic))
    click.echo(f"{written} file(s) written under {folder} (labels person, car, dog)")
