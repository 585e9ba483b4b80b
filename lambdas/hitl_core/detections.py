"""Detected objects in integer image pixels, and the image size they belong to."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_BOX_FIELDS = ("left", "top", "width", "height")


@dataclass(frozen=True)
class ImageSize:
    """Size of an image as a viewer displays it (after EXIF orientation)."""

    width: int
    height: int
    depth: int = 3

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.depth <= 0:
            raise ValueError(
                f"image size must be positive, got {self.width}x{self.height} with depth {self.depth}"
            )

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height, "depth": self.depth}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageSize:
        return cls(int(data["width"]), int(data["height"]), int(data.get("depth", 3)))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in integer pixels, inside its image, never empty."""

    left: int
    top: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.left < 0 or self.top < 0 or self.width <= 0 or self.height <= 0:
            raise ValueError(f"a box needs left, top >= 0 and width, height > 0, got {self.to_dict()}")

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    @classmethod
    def from_corners(cls, x1: float, y1: float, x2: float, y2: float, size: ImageSize) -> Box | None:
        """Round and clip pixel corners to the image; None when nothing of the box is left."""
        for value in (x1, y1, x2, y2):
            if not math.isfinite(value):
                raise ValueError(f"box coordinate is not a finite number: {value!r}")
        left = round(min(max(min(x1, x2), 0.0), size.width))
        right = round(min(max(max(x1, x2), 0.0), size.width))
        top = round(min(max(min(y1, y2), 0.0), size.height))
        bottom = round(min(max(max(y1, y2), 0.0), size.height))
        if right <= left or bottom <= top:
            return None
        return cls(left, top, right - left, bottom - top)

    @classmethod
    def from_ltwh(cls, left: float, top: float, width: float, height: float, size: ImageSize) -> Box | None:
        """Clip a left/top/width/height box (pixels) to the image."""
        return cls.from_corners(left, top, left + width, top + height, size)

    def iou(self, other: Box) -> float:
        """Intersection over union of two boxes (0 when they do not overlap)."""
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        return inter / (self.area + other.area - inter)

    def scaled(self, factor: float, size: ImageSize) -> Box | None:
        """This box multiplied by `factor`, clipped to `size` (maps a downscaled image's box back)."""
        return Box.from_corners(
            self.left * factor, self.top * factor, self.right * factor, self.bottom * factor, size
        )

    def fits(self, size: ImageSize) -> bool:
        """True when the box lies wholly inside an image of `size`."""
        return self.right <= size.width and self.bottom <= size.height

    def to_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Detection:
    """One object the model found: a label, a score in 0..1 and a box (None: image-level label)."""

    label: str
    score: float
    box: Box | None

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("detection label must not be empty")
        if not (0.0 <= self.score <= 1.0) or math.isnan(self.score):
            raise ValueError(f"detection score must lie in 0..1, got {self.score!r}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "score": round(self.score, 6)}
        if self.box is not None:
            data.update(self.box.to_dict())
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Detection:
        """Read `to_dict`'s shape; all four box fields or none (an image-level label)."""
        given = [k for k in _BOX_FIELDS if k in data]
        box = None
        if given:
            if len(given) != len(_BOX_FIELDS):
                missing = ", ".join(k for k in _BOX_FIELDS if k not in data)
                raise ValueError(f"detection {data.get('label')!r} has a partial box, lacking {missing}")
            box = Box(*(int(data[k]) for k in _BOX_FIELDS))
        return cls(str(data["label"]), float(data["score"]), box)


@dataclass(frozen=True)
class ImageDetections:
    """Everything the model said about one image, with the image's size."""

    image_size: ImageSize
    detections: tuple[Detection, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "detections", tuple(self.detections))
        for det in self.detections:
            if det.box is not None and not det.box.fits(self.image_size):
                raise ValueError(
                    f"{det.label!r} box {det.box.to_dict()} lies outside the "
                    f"{self.image_size.width}x{self.image_size.height} image"
                )

    @property
    def top_score(self) -> float:
        """Highest score, 0.0 when nothing was detected."""
        return max((d.score for d in self.detections), default=0.0)

    def at_least(self, min_score: float) -> ImageDetections:
        """Only the detections scoring `min_score` or more."""
        return ImageDetections(self.image_size, tuple(d for d in self.detections if d.score >= min_score))

    def rescaled(self, factor: float, original: ImageSize) -> ImageDetections:
        """Map detections made on a downscaled copy back to the original image's pixels."""
        kept = []
        for det in self.detections:
            if det.box is None:
                kept.append(det)
                continue
            box = det.box.scaled(factor, original)
            if box is not None:
                kept.append(Detection(det.label, det.score, box))
        return ImageDetections(original, tuple(kept))

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_size": self.image_size.to_dict(),
            "detections": [d.to_dict() for d in self.detections],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageDetections:
        return cls(
            ImageSize.from_dict(data["image_size"]),
            tuple(Detection.from_dict(d) for d in data["detections"]),
        )
