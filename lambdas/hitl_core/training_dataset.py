"""A training dataset from manifests: the base manifest folded with the sealed manifests in order
(the manifest merge rule: newer answer wins), split into train and validation by a hash of each
image's `source-ref`, with statistics and what changed since the last run.

The split depends on nothing but the `source-ref` and the fraction, so an image stays on its
side across runs, whatever else is added: validation never leaks into training.

"Nothing here" lines (no boxes) stay in the folded manifest but are left out of both training
files and counted: Rekognition Custom Labels ignores them with WARNING_NO_ANNOTATIONS and
stops training when over 20% of lines are unusable, and the built-in object-detection algorithm
needs at least one box per record (an empty RecordIO label fails or is skipped as invalid).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitl_core.manifest import (
    ManifestLineError,
    checked_lines,
    dump_line,
    merge_lines,
    parse_lines,
    validate_line,
)

_HASH_SPAN = 2**64


class DatasetError(ValueError):
    """Manifests that cannot make a dataset; the message names the manifest and line."""


@dataclass(frozen=True)
class SourceManifest:
    """One input manifest: where it came from and its text."""

    uri: str
    text: str


@dataclass(frozen=True)
class InvalidLine:
    """A base-manifest line left out of the dataset, and why."""

    uri: str
    line: int
    reason: str


@dataclass(frozen=True)
class Changes:
    """The folded dataset against the previous run's: images added, images with a newer answer."""

    added: int
    updated: int
    removed: int

    @property
    def new_answers(self) -> int:
        return self.added + self.updated


@dataclass(frozen=True)
class Dataset:
    """The folded manifest, its two training files and everything counted about them."""

    attribute: str
    lines: list[dict[str, Any]]
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    empty: int
    invalid: list[InvalidLine]
    changes: Changes

    def stats(self, labels: Sequence[str]) -> dict[str, Any]:
        """The `stats.json` written beside the training files."""
        return {
            "attribute": self.attribute,
            "images": len(self.lines),
            "train": split_stats(self.train, self.attribute, labels),
            "validation": split_stats(self.validation, self.attribute, labels),
            "empty_images": self.empty,
            "invalid_lines": [vars(item) for item in self.invalid],
            "changes": {
                "added": self.changes.added,
                "updated": self.changes.updated,
                "removed": self.changes.removed,
                "new_answers": self.changes.new_answers,
            },
        }


def in_validation(source_ref: str, fraction: float) -> bool:
    """Whether an image belongs to the validation split: the first 8 bytes of its SHA-256, as a
    fraction of 2**64, below `fraction`."""
    digest = hashlib.sha256(source_ref.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < fraction * _HASH_SPAN


def boxes(line: Mapping[str, Any], attribute: str) -> list[dict[str, Any]]:
    return list(line[attribute]["annotations"])


def split_stats(lines: Sequence[Mapping[str, Any]], attribute: str, labels: Sequence[str]) -> dict[str, Any]:
    """Images, boxes and boxes per class name of one training file."""
    per_class: Counter[str] = Counter()
    for line in lines:
        for box in boxes(line, attribute):
            class_id = box["class_id"]
            per_class[labels[class_id] if 0 <= class_id < len(labels) else f"class {class_id}"] += 1
    return {
        "images": len(lines),
        "boxes": sum(per_class.values()),
        "boxes_per_class": dict(sorted(per_class.items())),
    }


def _valid_base_lines(base: SourceManifest, attribute: str) -> tuple[list[str], list[InvalidLine]]:
    """The base manifest's lines that are valid Ground Truth lines; the others, with why."""
    kept, invalid = [], []
    for number, raw in enumerate(base.text.splitlines(keepends=True), start=1):
        if not raw.strip():
            continue
        try:
            validate_line(parse_lines(raw)[0], attribute)
        except ManifestLineError as err:
            invalid.append(InvalidLine(base.uri, number, str(err).removeprefix("line 1: ")))
            continue
        kept.append(raw)
    return kept, invalid


def changes_since(
    previous: Sequence[Mapping[str, Any]] | None, current: Sequence[Mapping[str, Any]]
) -> Changes:
    """Images added, given a different answer, or gone since the previous run's folded manifest."""
    before = {line["source-ref"]: dump_line(dict(line)) for line in previous or []}
    now = {line["source-ref"]: dump_line(dict(line)) for line in current}
    added = sum(1 for ref in now if ref not in before)
    updated = sum(1 for ref, text in now.items() if ref in before and before[ref] != text)
    return Changes(added=added, updated=updated, removed=sum(1 for ref in before if ref not in now))


def build_dataset(
    *,
    base: SourceManifest | None,
    sealed: Sequence[SourceManifest],
    attribute: str,
    validation_fraction: float,
    num_classes: int,
    previous: Sequence[Mapping[str, Any]] | None = None,
) -> Dataset:
    """Fold `base` and `sealed` (oldest first), split, check and count.

    A sealed manifest was validated line by line when written, so a bad line there is an error
    (DatasetError); a bad line of the base manifest (written by anyone) is left out and reported.
    Class ids must lie in 0..num_classes-1, the range the detector is trained for.
    """
    base_lines, invalid = _valid_base_lines(base, attribute) if base else ([], [])
    incoming: list[dict[str, Any]] = []
    for manifest in sealed:
        try:
            lines, _ = checked_lines(manifest.text, attribute, manifest.uri)
        except ManifestLineError as err:
            raise DatasetError(str(err)) from None
        incoming += lines
    folded = parse_lines("".join(merge_lines(base_lines, incoming, attribute).lines))
    usable, kept, empty = [], [], 0
    for line in folded:
        class_ids = [box["class_id"] for box in boxes(line, attribute)]
        outside = [c for c in class_ids if not 0 <= c < num_classes]
        if outside:
            invalid.append(
                InvalidLine(
                    line["source-ref"], 0, f"class_id {outside[0]} is outside 0..{num_classes - 1} (labels)"
                )
            )
            continue
        kept.append(line)
        if class_ids:
            usable.append(line)
        else:
            empty += 1
    validation = [line for line in usable if in_validation(line["source-ref"], validation_fraction)]
    train = [line for line in usable if not in_validation(line["source-ref"], validation_fraction)]
    return Dataset(
        attribute=attribute,
        lines=kept,
        train=train,
        validation=validation,
        empty=empty,
        invalid=invalid,
        changes=changes_since(previous, kept),
    )


def manifest_text(lines: Sequence[Mapping[str, Any]]) -> str:
    """JSON Lines text of `lines`, one compact line each."""
    return "".join(dump_line(dict(line)) for line in lines)


def training_blocker(dataset: Dataset, min_new_answers: int) -> str | None:
    """Why no training run may start on this dataset, or None when one may."""
    if dataset.changes.new_answers < min_new_answers:
        return (
            f"{dataset.changes.new_answers} new answer(s) since the last run, "
            f"fewer than training.min_new_answers ({min_new_answers})"
        )
    if not dataset.train or not dataset.validation:
        sizes = f"train ({len(dataset.train)}) and validation ({len(dataset.validation)})"
        return f"{sizes} both need images with boxes"
    return None
