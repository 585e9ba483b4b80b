"""The report is one self-contained HTML page with every section and figure, from a small fixture."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from hitl.quality_traffic import Traffic, traffic_documents
from hitl_core.config import load_config
from hitl_core.quality_assessment import assess
from hitl_core.quality_report import FIGURES, render_report
from hitl_core.quality_sample import build_sample

END = datetime(2026, 12, 7, tzinfo=UTC)
CONFIG = load_config(
    {"labels": ["person", "car", "dog"], "routing": {"preset": "top-score-below", "sampling_percentage": 10}}
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_report_holds_every_section_and_each_figure_as_an_embedded_png():
    documents = [*traffic_documents(Traffic(600, end=END)), ("odd<b>.json", b"not json")]
    html = render_report(assess(build_sample(documents), CONFIG, END))

    sections = re.findall(r'<section id="([a-z-]+)">', html)
    assert sections == [
        "summary",
        "errors-let-through",
        "class-quality",
        "review-rate",
        "drift",
        "advisor",
        "most-changed",
        "skipped",
    ]
    figures = dict(
        re.findall(r'<img data-figure="([a-z-]+)" alt="[^"]*" src="data:image/png;base64,([^"]+)"', html)
    )
    assert sorted(figures) == sorted(FIGURES)
    for encoded in figures.values():
        assert base64.b64decode(encoded).startswith(PNG_SIGNATURE)
    assert "odd&lt;b&gt;.json: not JSON" in html  # names are escaped
    assert not re.search(r'(src|href)="(https?:)?//', html), "nothing is fetched from elsewhere"
    assert "s3://hitl-input/incoming/" in html  # the reviews that changed the most name their images


def test_with_no_answers_the_report_says_what_it_cannot_estimate():
    documents = [
        (n, raw) for n, raw in traffic_documents(Traffic(50, end=END)) if n.startswith("predictions/")
    ]
    html = render_report(assess(build_sample(documents), CONFIG, END))
    assert "No audited image was answered in the recent window" in html
    assert "too few audited images to answer: 0 answered audit(s), 20 needed" in html
    assert "No review changed the model's boxes." in html
