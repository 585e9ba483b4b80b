"""The quality report: one self-contained HTML page (figures embedded as PNG) from an assessment.

matplotlib renders with its Agg backend (no display); it is imported here only, so the functions
that never draw do not load it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hitl_core.config import PipelineConfig
from hitl_core.quality_assessment import QualityAssessment, assess
from hitl_core.quality_sample import build_sample

FIGURE_SIZE = (8.0, 3.2)
FIGURES = ("class-quality", "review-rate", "errors-let-through", "advisor")


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=96)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _image(name: str, figure: Any, alt: str) -> str:
    return f'<img data-figure="{name}" alt="{escape(alt)}" src="data:image/png;base64,{_png(figure)}">'


def _legend(axes: Any, **options: Any) -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, **options)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _class_quality_figure(assessment: QualityAssessment) -> Any:
    figure, (precision, recall) = plt.subplots(1, 2, figsize=FIGURE_SIZE, sharey=True)
    starts = [week.start for week in assessment.weeks]
    for label in assessment.series_labels:
        for axes, metric in ((precision, "precision"), (recall, "recall")):
            values = [
                week.classes[label].value(metric) if label in week.classes else None
                for week in assessment.weeks
            ]
            axes.plot(starts, [float("nan") if v is None else v for v in values], marker="o", label=label)
    for axes, title in ((precision, "Precision by week"), (recall, "Recall by week")):
        axes.set_title(title)
        axes.set_ylim(0, 1.02)
        axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    _legend(recall, loc="lower left")
    return figure


def _review_rate_figure(assessment: QualityAssessment) -> Any:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    days = [day for day in assessment.days if day.images]
    axes.plot([d.start for d in days], [d.review_rate for d in days], marker=".", color="tab:purple")
    axes.set_title("Share of images sent to a person, by day")
    axes.set_ylim(0, 1.02)
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    return figure


def _errors_figure(assessment: QualityAssessment) -> Any:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    weeks = [(w.start, w.accepted_error.estimate) for w in assessment.weeks if w.accepted_error.estimate]
    if weeks:
        starts = [start for start, _ in weeks]
        rates = [e.rate for _, e in weeks]
        axes.errorbar(
            starts,
            rates,
            yerr=[[e.rate - e.low for _, e in weeks], [e.high - e.rate for _, e in weeks]],
            fmt="o",
            capsize=4,
            label="audited images of the week (95% interval)",
        )
    axes.axhline(assessment.max_accepted_error_rate, color="tab:red", linestyle="--", label="maximum allowed")
    axes.set_title("Share of accepted images the model got wrong")
    axes.set_ylim(bottom=0)
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    _legend(axes)
    return figure


def _advisor_figure(assessment: QualityAssessment) -> Any:
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    advice = assessment.advice
    if advice is not None:
        points = [c for c in advice.candidates if c.accepted_error is not None]
        rates = [c.review_rate for c in points]
        axes.fill_between(
            rates,
            [c.accepted_error.low for c in points],
            [c.accepted_error.high for c in points],
            alpha=0.2,
            label="95% interval",
        )
        axes.plot(rates, [c.accepted_error.rate for c in points], marker="o", label="candidate thresholds")
        for candidate in points[:: max(1, len(points) // 6)]:
            axes.annotate(f"{candidate.threshold:g}", (candidate.review_rate, candidate.accepted_error.rate))
        if advice.current.accepted_error is not None:
            axes.plot(
                advice.current.review_rate,
                advice.current.accepted_error.rate,
                "s",
                color="black",
                label="today",
            )
        if advice.recommended is not None and advice.recommended.accepted_error is not None:
            axes.plot(
                advice.recommended.review_rate,
                advice.recommended.accepted_error.rate,
                "*",
                markersize=14,
                color="tab:green",
                label="lowest review rate meeting the target",
            )
        axes.axhline(advice.target, color="tab:red", linestyle="--", label="target")
    axes.set_xlabel("share of images a person sees")
    axes.set_ylabel("accepted images wrong")
    axes.set_title("Review rate against errors let through")
    axes.set_xlim(0, 1)
    axes.set_ylim(bottom=0)
    _legend(axes)
    return figure


def _error_section(assessment: QualityAssessment) -> str:
    error = assessment.accepted_error
    if error.estimate is None:
        verdict = "No audited image was answered in the recent window: the errors let through are unknown."
    else:
        verdict = (
            f"{_percent(error.estimate.rate)} of accepted images were wrong "
            f"(95% interval {_percent(error.estimate.low)} to {_percent(error.estimate.high)}), "
            f"from {error.audited} audited image(s), {error.wrong} wrong, "
            f"at a {error.audit_percentage:g}% audit."
        )
        if not error.enough:
            verdict += f" Fewer than {error.min_audited} audited images: too few to raise an alarm."
    alarm = "above the maximum" if assessment.error_exceeded else "not above the maximum"
    return (
        f"<p>{escape(verdict)}</p><p>Maximum allowed {_percent(assessment.max_accepted_error_rate)}: "
        f"the interval's lower bound is {alarm}.</p>"
    )


def _drift_section(assessment: QualityAssessment) -> str:
    if not assessment.drops:
        return f"<p>No class's precision or recall fell by more than {assessment.drift_margin:g}.</p>"
    rows = "".join(
        f"<tr><td>{escape(d.label)}</td><td>{d.metric}</td><td>{d.baseline:.3f}</td><td>{d.recent:.3f}</td>"
        f"<td>{d.drop:.3f}</td><td>{d.baseline_reviews}</td><td>{d.recent_reviews}</td></tr>"
        for d in assessment.drops
    )
    return (
        "<table><tr><th>label</th><th>metric</th><th>baseline</th><th>recent</th><th>drop</th>"
        f"<th>reviews (baseline)</th><th>reviews (recent)</th></tr>{rows}</table>"
    )


def _advisor_table(assessment: QualityAssessment) -> str:
    advice = assessment.advice
    if advice is None:
        return f"<p>{escape(assessment.advice_problem or '')}</p>"
    rows = []
    for candidate in [advice.current, *advice.candidates]:
        error = candidate.accepted_error
        name = "today" if candidate.threshold is None else f"{candidate.threshold:g}"
        marked = ' class="recommended"' if candidate is advice.recommended else ""
        rows.append(
            f"<tr{marked}><td>{name}</td><td>{_percent(candidate.review_rate)}</td>"
            f"<td>{_percent(error.rate if error else None)}</td>"
            f"<td>{_percent(error.low if error else None)} - {_percent(error.high if error else None)}</td>"
            f"<td>{_percent(candidate.errors_let_through)}</td><td>{error.count if error else 0}</td></tr>"
        )
    return (
        f"<p>{escape(advice.reason)}.</p><table><tr><th>threshold</th><th>review rate</th>"
        "<th>accepted wrong</th><th>95% interval</th><th>all images accepted wrong</th>"
        f"<th>answers behind it</th></tr>{''.join(rows)}</table>"
    )


def _changed_section(assessment: QualityAssessment) -> str:
    if not assessment.most_changed:
        return "<p>No review changed the model's boxes.</p>"
    rows = []
    for image in assessment.most_changed:
        comparison = image.comparison
        assert comparison is not None
        relabels = ", ".join(f"{a} to {b}" for a, b in comparison.relabels) or "-"
        rows.append(
            f"<tr><td>{escape(image.image)}</td><td>{image.processed_at:%Y-%m-%d %H:%M}</td>"
            f"<td>{image.selection.kind}</td><td>{comparison.false_positives}</td>"
            f"<td>{comparison.false_negatives}</td><td>{escape(relabels)}</td></tr>"
        )
    return (
        "<table><tr><th>image</th><th>scored</th><th>selected by</th><th>false boxes</th>"
        f"<th>missed boxes</th><th>relabels</th></tr>{''.join(rows)}</table>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}
tr.recommended{background:#dfd}img{max-width:100%}h2{border-bottom:1px solid #ddd}
"""


def render_report(assessment: QualityAssessment) -> str:
    """The whole report as one HTML document; nothing it shows is fetched from elsewhere."""
    windows = assessment.windows
    summary = "".join(f"<li>{escape(line)}</li>" for line in assessment.summary_lines())
    skipped = "".join(f"<li>{escape(name)}: {escape(reason)}</li>" for name, reason in assessment.skipped)
    sections = [
        ("summary", "Summary", f"<ul>{summary}</ul>"),
        (
            "errors-let-through",
            "Errors let through",
            _error_section(assessment)
            + _image("errors-let-through", _errors_figure(assessment), "accepted images wrong by week"),
        ),
        (
            "class-quality",
            "Precision and recall by class",
            _image(
                "class-quality", _class_quality_figure(assessment), "precision and recall by class and week"
            ),
        ),
        (
            "review-rate",
            "Review rate",
            _image("review-rate", _review_rate_figure(assessment), "share of images reviewed by day"),
        ),
        ("drift", "Drift", _drift_section(assessment)),
        (
            "advisor",
            "Threshold advisor",
            _image("advisor", _advisor_figure(assessment), "review rate against errors let through")
            + _advisor_table(assessment),
        ),
        ("most-changed", "Reviews that changed the most", _changed_section(assessment)),
    ]
    if skipped:
        sections.append(("skipped", "Records left out", f"<ul>{skipped}</ul>"))
    body = "".join(
        f'<section id="{key}"><h2>{title}</h2>{content}</section>' for key, title, content in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Model quality report</title>'
        f"<style>{STYLE}</style></head><body><h1>Model quality report</h1>"
        f"<p>Generated {assessment.generated_at:%Y-%m-%d %H:%M} UTC from {assessment.images} "
        "scored image(s), "
        f"{assessment.answered} answered by a person. Recent window from {windows.recent_start:%Y-%m-%d}, "
        f"baseline from {windows.baseline_start:%Y-%m-%d}.</p>{body}</body></html>"
    )


def build_report(
    documents: Iterable[tuple[str, bytes]], config: PipelineConfig, now: datetime
) -> tuple[QualityAssessment, str]:
    """Prediction and review records (name, JSON bytes) to the assessment and its HTML page."""
    assessment = assess(build_sample(documents), config, now)
    return assessment, render_report(assessment)
