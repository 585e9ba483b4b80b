"""Gold loops with the a2i backend: A2I picks which worker takes a loop, so gold is a share of the loops
started (not of each reviewer's tasks), counted as the review service counts a reviewer's tasks.

After each image loop starts, the count of loops started (image and gold) and of gold loops decides
whether a gold loop starts next (`GoldRule.serve_gold`), so it is the same on every retry. A gold loop's
known boxes are kept in a record written before it starts, under a key no loop name can have; the
review-complete function finds a gold loop by that record (never by what a worker saw or sent), scores
each worker's answer with `GoldRule.score`, keeps the score in the worker's reviewer record and leaves
the answer out of the training manifest. Gold images must lie under the folder of the gold manifest:
the flow definition's role may read that folder only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitl_core.gold_tasks import GoldLine, GoldRule
from hitl_core.human_loop import loop_name
from hitl_core.review_tasks import SERVICE_RECORD_PREFIX, answer_boxes

GOLD_COUNT_KEY = f"{SERVICE_RECORD_PREFIX}gold/loops"
"""The counter item: loops started (`started`, image and gold) and gold loops started (`gold`)."""
COUNTED_PREFIX = f"{SERVICE_RECORD_PREFIX}gold/counted/"
"""One item per image loop counted (so a redelivery counts nothing), naming the gold loop it started."""
GOLD_LOOP_PREFIX = f"{SERVICE_RECORD_PREFIX}gold/loop/"
"""One item per gold loop: its known boxes, written before the loop starts, marked when scored."""


@dataclass(frozen=True)
class LoopCount:
    """Loops started so far (image and gold) and how many of them were gold."""

    started: int = 0
    gold: int = 0


def after_image_loop(rule: GoldRule, count: LoopCount) -> tuple[LoopCount, int | None]:
    """The count after one more image loop, and the number of the gold loop to start next (None: none);
    a gold loop, when one starts, is counted as the loop after the image's."""
    started = count.started + 1
    if rule.serve_gold(started, count.gold):
        return LoopCount(started + 1, count.gold + 1), count.gold
    return LoopCount(started, count.gold), None


def gold_loop_name(line: GoldLine, number: int) -> str:
    """The `number`-th gold loop's name, made as ingest makes an image's (nothing in it says gold)."""
    bucket, _, key = str(line.input_content["taskObject"]).removeprefix("s3://").partition("/")
    return loop_name(bucket, key, f"gold|a2i|{number}")


def gold_line_for(lines: Sequence[GoldLine], number: int) -> GoldLine:
    """The gold lines are served in turn, as the review service serves a reviewer's."""
    return lines[number % len(lines)]


def counted_key(image_loop: str) -> str:
    return f"{COUNTED_PREFIX}{image_loop}"


def gold_loop_key(gold_loop: str) -> str:
    return f"{GOLD_LOOP_PREFIX}{gold_loop}"


def gold_image_folder(manifest_uri: str) -> str:
    """The s3:// folder holding the gold manifest, where its images must lie; ValueError when the
    manifest is not an s3:// URI in a folder (reviewers see images from S3, the folder bounds the roles
    that show them: A2I's, or the review API's that presigns them)."""
    if not manifest_uri.startswith("s3://"):
        raise ValueError("on AWS the gold manifest is an s3:// URI (reviewers see its images from S3)")
    bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
    folder = key.rpartition("/")[0]
    if not bucket or not folder or not key.rpartition("/")[2]:
        raise ValueError(
            "on AWS the gold manifest lies in a folder (s3://BUCKET/FOLDER/MANIFEST) that holds its "
            "images: the roles that show them (A2I's, the review API's) may read that folder, not the "
            "whole bucket"
        )
    return f"s3://{bucket}/{folder}/"


def check_gold_images(lines: Sequence[GoldLine], folder: str) -> None:
    """ValueError naming the first gold line whose image lies outside `folder` (A2I could not show it)."""
    for number, line in enumerate(lines, start=1):
        image = str(line.input_content["taskObject"])
        if not image.startswith(folder):
            raise ValueError(
                f"gold manifest line {number}: {image} is not under {folder}, the folder of the gold "
                "manifest, which is all a reviewer's image may be read from; move the image there"
            )


def worker_scores(
    rule: GoldRule, known: Sequence[Mapping[str, Any]], output: Mapping[str, Any]
) -> dict[str, float]:
    """Each worker's score (by `workerId`) for a gold loop's A2I output; ValueError when an answer has
    no worker or no boxes."""
    scores: dict[str, float] = {}
    for number, answer in enumerate(output.get("humanAnswers") or [], start=1):
        try:
            worker = str(answer["workerId"])
            boxes = answer_boxes(answer)
        except (KeyError, TypeError) as err:
            raise ValueError(f"humanAnswers[{number - 1}] has no {err}") from None
        scores[worker] = rule.score(known, boxes)
    if not scores:
        raise ValueError("the output holds no humanAnswers")
    return scores


def known_boxes(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The known boxes a gold-loop record keeps (JSON text)."""
    return list(json.loads(str(record["gold"])))
