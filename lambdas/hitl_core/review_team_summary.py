"""The review team's figures for administrators: per reviewer, from the answers in a time window.

Per reviewer: answers submitted in the window, answers per hour of the window, the median time
spent, the share of answers that changed the model's boxes, the mean gold score (from the
reviewer's record) and the mean agreement with the other reviewers of the same tasks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from statistics import median
from typing import Any

from hitl_core.manifest import IOU_MATCH
from hitl_core.review_agreement import pair_agreement
from hitl_core.review_tasks import ReviewTask, answer_boxes, parse_timestamp

COLUMNS = (
    "reviewer",
    "tasks",
    "tasksPerHour",
    "medianSeconds",
    "changedShare",
    "goldScore",
    "goldTasks",
    "agreement",
    "name",
)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def reviewer_rows(
    tasks: Iterable[ReviewTask],
    gold: Mapping[str, tuple[int, float]],
    since: datetime,
    now: datetime,
    names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per reviewer who answered in [since, now] or has gold answers (`gold`: sub ->
    (gold answers, sum of their scores)), sorted by reviewer; `names`: sub -> the name shown."""
    seconds: dict[str, list[float]] = {}
    changed: dict[str, list[float]] = {}
    agreement: dict[str, list[float]] = {}
    for task in tasks:
        for human_answer in task.answers:
            submitted = parse_timestamp(str(human_answer["submissionTime"]))
            if not since <= submitted <= now:
                continue
            sub = str(human_answer["workerId"])
            seconds.setdefault(sub, []).append(float(human_answer.get("timeSpentInSeconds", 0.0)))
            modified = human_answer["answerContent"]["annotatedResult"].get("initialValueModified")
            if isinstance(modified, bool):
                changed.setdefault(sub, []).append(1.0 if modified else 0.0)
            others = [a for a in task.answers if a is not human_answer]
            agreement.setdefault(sub, []).extend(
                pair_agreement(answer_boxes(human_answer), answer_boxes(other), IOU_MATCH) for other in others
            )
    hours = max((now - since).total_seconds() / 3600, 1e-9)
    rows = []
    for sub in sorted(set(seconds) | set(gold)):
        spent = seconds.get(sub, [])
        gold_count, gold_sum = gold.get(sub, (0, 0.0))
        rows.append(
            {
                "reviewer": sub,
                "tasks": len(spent),
                "tasksPerHour": round(len(spent) / hours, 2),
                "medianSeconds": round(median(spent), 1) if spent else None,
                "changedShare": _mean(changed.get(sub, [])),
                "goldScore": round(gold_sum / gold_count, 4) if gold_count else None,
                "goldTasks": gold_count,
                "agreement": _mean(agreement.get(sub, [])),
                "name": (names or {}).get(sub),
            }
        )
    return rows


def rows_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV with a header line (an absent figure is an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()
