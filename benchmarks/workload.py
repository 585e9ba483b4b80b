"""The images the benchmarks push through the pipeline: scikit-image's sample photos, repeated."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from hitl.local.sample_photos import SAMPLE_PHOTOS, skimage_data_dir


@dataclass(frozen=True)
class Photo:
    """One image as it is dropped: a file name unique within the workload, its bytes and type."""

    name: str
    data: bytes
    content_type: str


def sample_photos(copies: int = 1) -> list[Photo]:
    """Every sample photo `copies` times over (each copy under its own name), in a fixed order."""
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    folder = skimage_data_dir()
    originals = [(photo.file_name, (folder / photo.file_name).read_bytes()) for photo in SAMPLE_PHOTOS]
    return [
        Photo(
            name=f"{copy:03d}-{file_name}",
            data=data,
            content_type=mimetypes.guess_type(file_name)[0] or "application/octet-stream",
        )
        for copy in range(copies)
        for file_name, data in originals
    ]
