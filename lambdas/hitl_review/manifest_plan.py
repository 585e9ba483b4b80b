"""The rolling manifest's decisions, without I/O: where each answer goes and when a manifest is sealed.

A manifest holds one line per `source-ref`. An answer's version is its (creation-date, job-name):
a later version replaces the line in place, the same version changes nothing, an earlier one is
dropped. A manifest is full (sealed) once it holds `max_lines` lines or `max_bytes` bytes; a
sealed manifest never changes again, so answers it cannot take move on to the next one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hitl_core.config import Rotation
from hitl_core.manifest import ManifestLineError, creation_date, dump_line

Version = tuple[str, str]
"""(creation-date, job-name): creation dates are written as `YYYY-MM-DDTHH:MM:SS.mmmZ`, so they
sort in time order as strings; the job name only breaks exact ties, so every writer agrees."""


class Outcome(StrEnum):
    """What an answer did to the manifests."""

    ADDED = "added"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"


def line_version(line: dict[str, Any], attribute: str) -> Version:
    meta = line.get(f"{attribute}-metadata")
    job = meta.get("job-name", "") if isinstance(meta, dict) else ""
    return creation_date(line, attribute), str(job)


def judge(existing: Version | None, incoming: Version) -> Outcome:
    """What `incoming` does to a manifest already holding `existing` for its source-ref."""
    if existing is None:
        return Outcome.ADDED
    if incoming > existing:
        return Outcome.REPLACED
    return Outcome.UNCHANGED if incoming == existing else Outcome.SUPERSEDED


@dataclass(frozen=True)
class Answer:
    """One converted human answer on its way into the manifest; `key` names its message."""

    key: str
    line: dict[str, Any]
    attribute: str
    text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", dump_line(self.line))

    @property
    def source_ref(self) -> str:
        return str(self.line["source-ref"])

    @property
    def version(self) -> Version:
        return line_version(self.line, self.attribute)


@dataclass(frozen=True)
class BatchPlan:
    """A batch reduced to one candidate per source-ref (its latest answer) plus the settled rest.

    `followers` maps a candidate's key to the keys of identical answers (same version) that
    share its outcome; `superseded` holds keys of answers older than their candidate.
    """

    candidates: list[Answer]
    followers: dict[str, list[str]]
    superseded: list[str]


def reduce_batch(answers: Iterable[Answer]) -> BatchPlan:
    """Pick the latest answer per source-ref, so a batch writes each image at most once."""
    best: dict[str, Answer] = {}
    groups: dict[str, list[Answer]] = {}
    for answer in answers:
        groups.setdefault(answer.source_ref, []).append(answer)
        current = best.get(answer.source_ref)
        if current is None or answer.version > current.version:
            best[answer.source_ref] = answer
    followers: dict[str, list[str]] = {}
    superseded: list[str] = []
    for ref, group in groups.items():
        winner = best[ref]
        followers[winner.key] = [a.key for a in group if a is not winner and a.version == winner.version]
        superseded += [a.key for a in group if a.version < winner.version]
    return BatchPlan(list(best.values()), followers, superseded)


@dataclass(frozen=True)
class ManifestLines:
    """One manifest's text lines with the source-ref and version of each, parsed once."""

    lines: list[str]
    refs: dict[str, int]
    versions: list[Version]

    @classmethod
    def parse(cls, text: str, attribute: str) -> ManifestLines:
        lines, refs, versions = [], {}, []
        for number, raw in enumerate(text.splitlines(keepends=True), start=1):
            if not raw.strip():
                continue
            try:
                parsed = json.loads(raw)
                ref = parsed["source-ref"]
            except (json.JSONDecodeError, TypeError, KeyError):
                raise ManifestLineError(f"manifest line {number} is not a Ground Truth line") from None
            refs[ref] = len(lines)
            lines.append(raw if raw.endswith("\n") else raw + "\n")
            versions.append(line_version(parsed, attribute))
        return cls(lines, refs, versions)

    @property
    def byte_count(self) -> int:
        return sum(len(line.encode()) for line in self.lines)

    def is_full(self, rotation: Rotation) -> bool:
        return bool(self.lines) and (
            len(self.lines) >= rotation.max_lines or self.byte_count >= rotation.max_bytes
        )

    def text(self) -> str:
        return "".join(self.lines)


@dataclass(frozen=True)
class Placement:
    """What one manifest does with a batch's candidates.

    `lines` is the manifest's new content (unchanged when `changed` is false); `settled` maps
    candidate keys to their outcome here; `overflow` are the candidates left for the next manifest.
    """

    lines: ManifestLines
    settled: dict[str, Outcome]
    overflow: list[Answer]
    changed: bool
    full: bool


def place(manifest: ManifestLines, candidates: Sequence[Answer], rotation: Rotation) -> Placement:
    """Put candidates into an open manifest until it is full; a sealed one only settles duplicates.

    A candidate whose source-ref the manifest holds is settled here (replacing the line only
    while the manifest is open); one newer than a sealed line, or new once the manifest is
    full, overflows to the next manifest.
    """
    lines, refs, versions = list(manifest.lines), dict(manifest.refs), list(manifest.versions)
    size = manifest.byte_count
    sealed = manifest.is_full(rotation)
    settled: dict[str, Outcome] = {}
    overflow: list[Answer] = []

    def full() -> bool:
        return bool(lines) and (len(lines) >= rotation.max_lines or size >= rotation.max_bytes)

    for answer in candidates:
        at = refs.get(answer.source_ref)
        outcome = judge(versions[at] if at is not None else None, answer.version)
        if outcome in (Outcome.UNCHANGED, Outcome.SUPERSEDED):
            settled[answer.key] = outcome
        elif outcome is Outcome.REPLACED and not sealed:
            size += len(answer.text.encode()) - len(lines[at].encode())
            lines[at], versions[at] = answer.text, answer.version
            settled[answer.key] = outcome
        elif outcome is Outcome.ADDED and not full():
            refs[answer.source_ref] = len(lines)
            lines.append(answer.text)
            versions.append(answer.version)
            size += len(answer.text.encode())
            settled[answer.key] = outcome
        else:
            overflow.append(answer)
    changed = any(o in (Outcome.ADDED, Outcome.REPLACED) for o in settled.values())
    return Placement(ManifestLines(lines, refs, versions), settled, overflow, changed, full())


def manifest_key(prefix: str, generation: int) -> str:
    """The manifest of one generation: zero-padded, so names sort in the order they were filled."""
    return f"{prefix}{generation:08d}.manifest"
