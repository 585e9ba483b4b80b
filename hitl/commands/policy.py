"""`hitl policy`: see what a routing policy decides, before it goes live."""

from __future__ import annotations

import json

import click

from hitl.commands.options import config_option, load_pipeline_config, load_policy, read_json
from hitl.commands.replay import documents_from, replay_command
from hitl_core.detections import ImageDetections
from hitl_core.quality_sample import build_sample
from hitl_core.routing import decide
from hitl_core.threshold_advisor import DEFAULT_THRESHOLDS, Advice, ThresholdOutcome, advise


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


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _row(name: str, outcome: ThresholdOutcome) -> str:
    error = outcome.accepted_error
    interval = f"{_percent(error.low)}-{_percent(error.high)}" if error else "-"
    return (
        f"{name:>9}  {_percent(outcome.review_rate):>8}  {_percent(error.rate if error else None):>8}  "
        f"{interval:>13}  {error.count if error else 0:>7}"
    )


def _advice_lines(advice: Advice) -> list[str]:
    lines = [f"{'threshold':>9}  {'reviewed':>8}  {'wrong':>8}  {'95% interval':>13}  {'answers':>7}"]
    lines.append(_row("today", advice.current))
    lines += [_row(f"{c.threshold:g}", c) for c in advice.candidates]
    lines.append(f"audited images answered: {advice.audited} ({advice.min_audited} needed)")
    error = advice.current.accepted_error
    today = (
        f"{_percent(error.rate)} (95% interval {_percent(error.low)}-{_percent(error.high)})"
        if error
        else "-"
    )
    lines.append(f"today: {_percent(advice.current.review_rate)} reviewed, accepted images wrong {today}")
    lines.append(f"advice for a target of {_percent(advice.target)}: {advice.reason}")
    return lines


@policy.command("advise")
@click.argument("records", nargs=-1, required=True)
@config_option
@click.option(
    "--policy", "policy_spec", help="Preset name or policy JSON file; default: the configured policy."
)
@click.option("--target", type=click.FloatRange(0, 1, min_open=True), help="Accepted images wrong at most; "
              "default: quality.max_accepted_error_rate.")  # fmt: skip
@click.option("--min-audited", type=click.IntRange(min=1), help="Default: quality.min_audited.")
@click.option(
    "--thresholds",
    default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS),
    show_default=True,
    help="Comma-separated candidate thresholds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the advice as JSON.")
def advise_command(
    records: tuple[str, ...],
    config_path: str,
    policy_spec: str | None,
    target: float | None,
    min_audited: int | None,
    thresholds: str,
    as_json: bool,
) -> None:
    """Each candidate threshold's review rate against the accepted images it gets wrong.

    RECORDS are folders, files or s3:// prefixes holding prediction records and review records
    (the training-data bucket's predictions/ and reviews/). Answers are weighted by how each
    image was selected; the lowest review rate whose 95% interval meets the target is named.
    """
    config = load_pipeline_config(config_path)
    try:
        candidates = [float(t) for t in thresholds.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"{thresholds}: not a list of numbers", param_hint="--thresholds") from None
    sample = build_sample(documents_from(records))
    try:
        advice = advise(
            sample.images,
            load_policy(policy_spec) if policy_spec else config.policy,
            target=target or config.quality.max_accepted_error_rate,
            min_audited=min_audited or config.quality.min_audited,
            thresholds=candidates,
        )
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(json.dumps(advice.to_dict(), indent=2) if as_json else "\n".join(_advice_lines(advice)))
    for name, reason in sample.skipped:
        click.echo(f"skipped {name}: {reason}", err=True)
