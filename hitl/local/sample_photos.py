"""Real photos for the demo: the ones scikit-image ships in its wheel, or any folder of JPEG/PNG files."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import skimage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
CREDITS_FILE = "PHOTO-CREDITS.txt"


class SamplePhotoError(RuntimeError):
    """The photos cannot be found or copied; the message names the folder or file."""


@dataclass(frozen=True)
class SamplePhoto:
    """A photo in scikit-image's data folder with where it comes from and its terms."""

    file_name: str
    subject: str
    credit: str


# Credits and terms as scikit-image's `skimage.data` docstrings state them (0.26).
SAMPLE_PHOTOS = (
    SamplePhoto("astronaut.png", "astronaut Eileen Collins", "NASA; public domain"),
    SamplePhoto("chelsea.png", "Chelsea the cat", "Stefan van der Walt; CC0"),
    SamplePhoto("coffee.png", "a cup of coffee", "Rachel Michetti, courtesy of Pikolo Espresso Bar; CC0"),
    SamplePhoto("camera.png", "a photographer with a camera (greyscale)", "Lav Varshney; CC0"),
    SamplePhoto(
        "motorcycle_left.png",
        "a motorcycle",
        "Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014), as scikit-image distributes it",
    ),
    SamplePhoto("rocket.jpg", "DSCOVR launch on a Falcon 9", "SpaceX; public domain"),
    SamplePhoto("hubble_deep_field.jpg", "Hubble eXtreme Deep Field", "NASA; public domain"),
)


def skimage_data_dir() -> Path:
    """The data folder inside the installed scikit-image package."""
    return Path(skimage.__file__).resolve().parent / "data"


def credits_text() -> str:
    lines = ["Sample photos shipped with scikit-image (skimage/data), with their credits and terms:", ""]
    lines += [f"{photo.file_name}: {photo.subject}. {photo.credit}." for photo in SAMPLE_PHOTOS]
    return "\n".join(lines) + "\n"


def copy_sample_photos(destination: Path, source: Path | None = None) -> list[Path]:
    """Copy the sample photos (and their credits file) into `destination`; returns the photos' paths."""
    source = source or skimage_data_dir()
    missing = [photo.file_name for photo in SAMPLE_PHOTOS if not (source / photo.file_name).is_file()]
    if missing:
        raise SamplePhotoError(f"{source} lacks sample photos {missing}; is scikit-image installed?")
    destination.mkdir(parents=True, exist_ok=True)
    copied = [
        Path(shutil.copyfile(source / photo.file_name, destination / photo.file_name))
        for photo in SAMPLE_PHOTOS
    ]
    (destination / CREDITS_FILE).write_text(credits_text(), encoding="utf-8")
    return copied


def list_images(folder: Path) -> list[Path]:
    """The JPEG and PNG files directly inside `folder`, by name (other and hidden files are ignored)."""
    if not folder.is_dir():
        raise SamplePhotoError(f"{folder} is not a folder")
    images = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise SamplePhotoError(f"{folder} holds no .jpg, .jpeg or .png files")
    return images
