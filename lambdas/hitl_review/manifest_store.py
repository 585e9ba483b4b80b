"""The rolling Ground Truth manifest in S3, appended safely by any number of writers at once.

Objects under the `manifests` prefix of the training bucket:

- `00000001.manifest`, `00000002.manifest`, ...: one JSON Lines manifest per generation. Only
  the newest is open; each older one is sealed (full) and never written again.
- `open.json`: `{"generation": N}`, the open manifest. It may lag behind a manifest that just
  filled up; whoever sees that announces the sealed manifest and moves the pointer on.
- `index/<sha256 of source-ref>.json`: the latest answer written for an image, in any
  generation, so a redelivered or older answer is recognised after its line was sealed.

Every write is conditional (If-Match on the ETag read, If-None-Match for a new object) and a
412 or 409 means "someone else wrote first": read again, decide again, write again. A manifest's
content only ever grows or takes strictly newer lines, and the pointer only counts up, so an
ETag never comes back to an earlier value (no ABA).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.s3_uri import s3_uri
from hitl_core.config import Rotation
from hitl_core.events import ManifestSealed
from hitl_review.manifest_plan import (
    Answer,
    ManifestLines,
    Outcome,
    Version,
    judge,
    manifest_key,
    place,
    reduce_batch,
)

POINTER_NAME = "open.json"
INDEX_FOLDER = "index/"
CONTENT_TYPE = "application/x-ndjson"
_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"}
_PARALLEL_REQUESTS = 8


class ManifestBusy(RuntimeError):
    """Other writers kept winning; the batch fails and SQS redelivers it later."""


def _is_conflict(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in _CONFLICTS or err.response.get(
        "ResponseMetadata", {}
    ).get("HTTPStatusCode") in (409, 412)


def _conditional(etag: str | None) -> dict[str, str]:
    """Write only over the version read (ETag), or only if there was none."""
    return {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}


@dataclass(frozen=True)
class Placed:
    """Where one answer ended up."""

    outcome: Outcome
    manifest_uri: str | None


@dataclass(frozen=True)
class _IndexEntry:
    version: Version
    manifest_uri: str
    etag: str


class AnswerIndex:
    """The latest answer written for each source-ref: one small object per image."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix + INDEX_FOLDER

    def key(self, source_ref: str) -> str:
        return f"{self._prefix}{hashlib.sha256(source_ref.encode()).hexdigest()}.json"

    def read(self, source_ref: str) -> _IndexEntry | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=self.key(source_ref))
        except self._s3.exceptions.NoSuchKey:
            return None
        data = json.loads(response["Body"].read())
        return _IndexEntry((data["creation-date"], data["job-name"]), data["manifest"], response["ETag"])

    def record(self, answer: Answer, manifest_uri: str, known: _IndexEntry | None) -> None:
        """Store `answer` as the latest for its image unless a newer one got there first."""
        body = json.dumps(
            {
                "source-ref": answer.source_ref,
                "creation-date": answer.version[0],
                "job-name": answer.version[1],
                "manifest": manifest_uri,
            }
        ).encode()
        entry = known
        while entry is None or entry.version < answer.version:
            try:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=self.key(answer.source_ref),
                    Body=body,
                    ContentType="application/json",
                    **_conditional(entry.etag if entry else None),
                )
                return
            except ClientError as err:
                if not _is_conflict(err):
                    raise
            entry = self.read(answer.source_ref)


@dataclass(frozen=True)
class _Read:
    generation: int
    pointer_etag: str | None
    manifest: ManifestLines
    manifest_etag: str | None


class RollingManifest:
    """Appends batches of answers to the open manifest; seals it at the rotation bound.

    `announce` is called with every sealed manifest before the pointer moves past it, so a
    crash in between leads to a second announcement, never to none (consumers key on the URI).
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        prefix: str,
        rotation: Rotation,
        attribute: str,
        announce: Callable[[ManifestSealed], None],
        *,
        max_attempts: int = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._rotation = rotation
        self._attribute = attribute
        self._announce = announce
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.index = AnswerIndex(s3, bucket, prefix)

    @property
    def pointer_key(self) -> str:
        return f"{self._prefix}{POINTER_NAME}"

    def manifest_uri(self, generation: int) -> str:
        return s3_uri(self._bucket, manifest_key(self._prefix, generation))

    def append(self, answers: Sequence[Answer]) -> dict[str, Placed]:
        """Write a batch with one read-modify-write (more only on conflicts or at a seal).

        Returns where each answer (by key) ended up; raises ManifestBusy or ClientError, in
        which case nothing was lost and the whole batch can be appended again.
        """
        plan = reduce_batch(answers)
        known = self._parallel(lambda a: self.index.read(a.source_ref), plan.candidates)
        placed: dict[str, Placed] = {}
        fresh = []
        for answer, entry in zip(plan.candidates, known, strict=True):
            outcome = judge(entry.version if entry else None, answer.version)
            if entry is not None and outcome is Outcome.UNCHANGED:
                placed[answer.key] = Placed(outcome, entry.manifest_uri)
            elif outcome is Outcome.SUPERSEDED:
                placed[answer.key] = Placed(outcome, None)
            else:
                fresh.append(answer)
        placed.update(self._write(fresh, {a.key: e for a, e in zip(plan.candidates, known, strict=True)}))
        for leader, keys in plan.followers.items():
            placed.update(dict.fromkeys(keys, placed[leader]))
        placed.update(dict.fromkeys(plan.superseded, Placed(Outcome.SUPERSEDED, None)))
        return placed

    def _write(self, pending: list[Answer], known: dict[str, _IndexEntry | None]) -> dict[str, Placed]:
        placed: dict[str, Placed] = {}
        conflicts = 0
        while pending:
            state = self._read()
            placement = place(state.manifest, pending, self._rotation)
            uri = self.manifest_uri(state.generation)
            if placement.changed:
                try:
                    self._put_manifest(state.generation, placement.lines, state.manifest_etag)
                except ClientError as err:
                    if not _is_conflict(err):
                        raise
                    conflicts += 1
                    if conflicts >= self._max_attempts:
                        raise ManifestBusy(f"{uri}: {conflicts} conflicting writes in a row") from err
                    self._sleep(random.uniform(0, min(1.0, 0.01 * 2**conflicts)))
                    continue
            here = {a.key: a for a in pending if a.key in placement.settled}
            for key, outcome in placement.settled.items():
                placed[key] = Placed(outcome, None if outcome is Outcome.SUPERSEDED else uri)
            self._parallel(
                partial(self._record_latest, manifest_uri=uri, known=known),
                [a for k, a in here.items() if placement.settled[k] is not Outcome.SUPERSEDED],
            )
            if placement.full:
                self._seal(state, placement.lines)
            pending = placement.overflow
        return placed

    def _record_latest(
        self, answer: Answer, *, manifest_uri: str, known: dict[str, _IndexEntry | None]
    ) -> None:
        self.index.record(answer, manifest_uri, known.get(answer.key))

    def _read(self) -> _Read:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=self.pointer_key)
            generation, pointer_etag = json.loads(response["Body"].read())["generation"], response["ETag"]
        except self._s3.exceptions.NoSuchKey:
            generation, pointer_etag = 1, None
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=manifest_key(self._prefix, generation))
            text, etag = response["Body"].read().decode("utf-8"), response["ETag"]
        except self._s3.exceptions.NoSuchKey:
            text, etag = "", None
        return _Read(generation, pointer_etag, ManifestLines.parse(text, self._attribute), etag)

    def _put_manifest(self, generation: int, lines: ManifestLines, etag: str | None) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=manifest_key(self._prefix, generation),
            Body=lines.text().encode("utf-8"),
            ContentType=CONTENT_TYPE,
            **_conditional(etag),
        )

    def _seal(self, state: _Read, lines: ManifestLines) -> None:
        """Announce the full manifest, then point writers at the next one (unless someone did)."""
        dates = sorted(version[0] for version in lines.versions)
        self._announce(
            ManifestSealed(
                manifest_uri=self.manifest_uri(state.generation),
                generation=state.generation,
                line_count=len(lines.lines),
                byte_count=lines.byte_count,
                first_creation_date=dates[0],
                last_creation_date=dates[-1],
            )
        )
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=self.pointer_key,
                Body=json.dumps({"generation": state.generation + 1}).encode(),
                ContentType="application/json",
                **_conditional(state.pointer_etag),
            )
        except ClientError as err:
            if not _is_conflict(err):
                raise

    @staticmethod
    def _parallel(work: Callable[[Answer], Any], answers: Iterable[Answer]) -> list[Any]:
        items = list(answers)
        if len(items) <= 1:
            return [work(a) for a in items]
        with ThreadPoolExecutor(max_workers=min(_PARALLEL_REQUESTS, len(items))) as pool:
            return list(pool.map(work, items))
