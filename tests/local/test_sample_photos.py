"""Sample photos come from the installed scikit-image wheel, with their credits; or from a folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hitl.local.sample_photos import (
    CREDITS_FILE,
    SAMPLE_PHOTOS,
    SamplePhotoError,
    copy_sample_photos,
    list_images,
    skimage_data_dir,
)


def test_the_photos_are_copied_byte_for_byte_with_their_credits(tmp_path: Path) -> None:
    copied = copy_sample_photos(tmp_path / "photos")

    assert [path.name for path in copied] == [photo.file_name for photo in SAMPLE_PHOTOS]
    for path in copied:
        assert path.read_bytes() == (skimage_data_dir() / path.name).read_bytes()
        with Image.open(path) as image:
            assert image.format in {"JPEG", "PNG"}
            assert min(image.size) >= 300
    credits = (tmp_path / "photos" / CREDITS_FILE).read_text()
    assert "chelsea.png: Chelsea the cat. Stefan van der Walt; CC0." in credits
    assert all(photo.file_name in credits for photo in SAMPLE_PHOTOS)


def test_copying_again_overwrites_and_lists_the_same_photos(tmp_path: Path) -> None:
    first = copy_sample_photos(tmp_path)
    (tmp_path / "chelsea.png").write_bytes(b"stale")

    assert copy_sample_photos(tmp_path) == first
    assert (tmp_path / "chelsea.png").read_bytes() == (skimage_data_dir() / "chelsea.png").read_bytes()
    assert list_images(tmp_path) == sorted(first)


def test_a_data_folder_without_the_photos_is_reported(tmp_path: Path) -> None:
    (tmp_path / "astronaut.png").write_bytes(b"x")

    with pytest.raises(SamplePhotoError, match=r"lacks sample photos .*'chelsea\.png'"):
        copy_sample_photos(tmp_path / "out", source=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_folder_lists_only_its_jpeg_and_png_files(tmp_path: Path) -> None:
    for name in ["b.JPG", "a.png", "c.jpeg", "notes.txt", ".hidden.jpg", "d.gif"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()

    assert [path.name for path in list_images(tmp_path)] == ["a.png", "b.JPG", "c.jpeg"]


def test_a_folder_without_images_or_a_missing_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no photos here")

    with pytest.raises(SamplePhotoError, match=r"holds no \.jpg, \.jpeg or \.png files"):
        list_images(tmp_path)
    with pytest.raises(SamplePhotoError, match="is not a folder"):
        list_images(tmp_path / "missing")
