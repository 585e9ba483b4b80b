"""The records the ingest function writes for every image: what was decided, and why.

A prediction record (accepted or sent to review) lives at
`{predictions}{image key}/{version}.json` in the training-data bucket, a rejected-input
record at `{rejected}{image key}/{version}.json`, so a reader finds either from the image's
key and its version (version id, else ETag). `hitl policy replay` reads prediction records.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.events import DetectionOut, ImageRef, RejectionCode, Size
from hitl_core.human_loop import image_identity

RECORD_VERSION = 1
MAX_S3_KEY_BYTES = 1024
HASHED_FOLDER = "_hashed/"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceObject(ImageRef):
    """The image the record is about, with what the S3 event said of it."""

    etag: str | None = None
    version_id: str | None = None
    size_bytes: Annotated[int, Field(ge=0)] | None = None


class Inference(_Record):
    """The copy the detector was sent: upright, and downscaled when over the payload limit."""

    content_type: str
    size: Size
    scale: Annotated[float, Field(gt=0)] = Field(description="displayed width / detector-copy width")
    exif_orientation: Annotated[int, Field(ge=1, le=8)] = 1


class Decision(_Record):
    """The routing policy's outcome; detections below `min_display_score` were hidden from it."""

    outcome: Literal["accept", "review"]
    min_display_score: Annotated[float, Field(ge=0, le=1)]
    hidden_count: Annotated[int, Field(ge=0)]
    condition_results: dict[str, Any]
    reason: Literal["over-budget"] | None = Field(
        default=None, description="why an image the conditions sent to review was accepted"
    )


class HumanLoopRef(_Record):
    """The review started for the image, with the exact InputContent (a retry resends it as is)."""

    name: str
    flow_definition_arn: str
    input_content: dict[str, Any]
    hidden_detections: list[DetectionOut] = Field(
        default_factory=list, description="boxes not shown to the reviewer: their label is not offered"
    )


class Timestamps(_Record):
    event_time: str | None = Field(default=None, description="when S3 announced the object")
    processed_at: str
    detector_latency_ms: Annotated[float, Field(ge=0)] | None = None


class PredictionRecord(_Record):
    """An image the detector scored and the routing policy decided on."""

    record_version: Literal[1] = RECORD_VERSION
    status: Literal["accepted", "review"]
    source: SourceObject
    image_size: Size
    detections: list[DetectionOut] = Field(description="every detection, in displayed-image pixels")
    decision: Decision
    human_loop: HumanLoopRef | None = None
    model: dict[str, str]
    inference: Inference
    timestamps: Timestamps
    event_published_at: str | None = Field(
        default=None,
        description="no longer written: records are never changed once written; kept so that "
        "records written by earlier versions, which marked their event as published, still read",
    )

    def shown_detections(self) -> list[DetectionOut]:
        """The detections the routing policy (and a reviewer) saw."""
        return [d for d in self.detections if d.score >= self.decision.min_display_score]

    def image_detections(self) -> ImageDetections:
        """The detections as the routing policy takes them."""
        return ImageDetections(
            ImageSize.from_dict(self.image_size.model_dump()),
            tuple(Detection.from_dict(d.model_dump(exclude_none=True)) for d in self.detections),
        )

    @property
    def identity(self) -> str:
        """The identity that seeded the policy's Sampling condition."""
        return image_identity(self.source.bucket, self.source.key, self.source.version)


class RejectedRecord(_Record):
    """An upload that could not be scored, and why."""

    record_version: Literal[1] = RECORD_VERSION
    status: Literal["rejected"] = "rejected"
    source: SourceObject
    reason_code: RejectionCode
    reason: str
    timestamps: Timestamps
    event_published_at: str | None = Field(default=None, description="as in PredictionRecord")


def record_key(prefix: str, image_key: str, version: str) -> str:
    """Where an image's record lives; keys S3 would refuse as too long go under a hash of the key."""
    key = f"{prefix}{image_key}/{version}.json"
    if len(key.encode()) <= MAX_S3_KEY_BYTES:
        return key
    digest = hashlib.sha256(image_key.encode()).hexdigest()
    return f"{prefix}{HASHED_FOLDER}{digest}/{version}.json"
