"""Reading, checking and preparing uploads: formats, rejections, EXIF orientation, downscaling."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_ingest.image_input import EXIF_ORIENTATION_TAG, ImageRejected, check_decodes, prepare_image
from ingest.builders import png_chunks, png_from_chunks, png_with_undecodable_pixels

LIMITS = {"max_bytes": 5_000_000, "payload_limit": 1_000_000}


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 7) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def rejection(data: bytes, **limits: int) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        prepare_image(data, **{**LIMITS, **limits})
    return caught.value


@pytest.mark.parametrize(("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_small_upright_image_is_sent_unchanged(fmt: str, content_type: str) -> None:
    data = encode(Image.new("RGB", (120, 80), (10, 200, 30)), fmt)

    image = prepare_image(data, **LIMITS)

    assert image.inference_bytes == data
    assert image.inference_content_type == content_type
    assert image.size == image.inference_size == ImageSize(120, 80, 3)
    assert image.scale == 1.0
    assert image.orientation == 1


def test_grayscale_image_has_depth_one() -> None:
    image = prepare_image(encode(Image.new("L", (30, 20), 128), "PNG"), **LIMITS)

    assert image.size == ImageSize(30, 20, 1)


def test_text_file_is_not_an_image() -> None:
    assert rejection(b"name,score\ncat,0.9\n").code == "not-an-image"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_other_image_formats_are_unsupported(fmt: str) -> None:
    rejected = rejection(encode(Image.new("RGB", (16, 16), (1, 2, 3)), fmt))

    assert rejected.code == "unsupported-format"
    assert fmt in rejected.reason


def test_truncated_jpeg_is_corrupt() -> None:
    data = encode(noise(200, 150), "JPEG")

    rejected = rejection(data[: len(data) // 2])

    assert rejected.code == "corrupt"


def test_jpeg_cut_inside_its_header_is_corrupt() -> None:
    assert rejection(encode(noise(50, 50), "JPEG")[:300]).code == "corrupt"


def test_png_with_a_damaged_body_is_corrupt() -> None:
    data = bytearray(encode(noise(60, 40), "PNG"))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64

    assert rejection(bytes(data)).code == "corrupt"


def test_file_over_the_maximum_is_too_large() -> None:
    data = encode(noise(100, 100), "PNG")

    rejected = rejection(data, max_bytes=len(data) - 1)

    assert rejected.code == "too-large"
    assert f"{len(data):,}" in rejected.reason


def test_too_many_pixels_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    data = encode(Image.new("RGB", (100, 100)), "PNG")

    assert rejection(data).code == "too-large"


def exif_rotated_jpeg(orientation: int) -> bytes:
    """A 60x40 stored image, red in its stored top-left 10x10 corner, with an EXIF orientation."""
    stored = Image.new("RGB", (60, 40), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    return encode(stored, "JPEG", exif=exif.tobytes(), quality=95)


def red_corner(image_bytes: bytes) -> tuple[int, int]:
    """(x, y) of the red block's centre in a decoded image, ignoring EXIF."""
    pixels = np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB")).astype(int)
    red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 80) & (pixels[:, :, 2] < 80)
    ys, xs = np.nonzero(red)
    return round(xs.mean()), round(ys.mean())


def test_exif_rotated_image_is_reported_and_sent_as_displayed() -> None:
    # Orientation 6: a viewer rotates the stored image 90 degrees clockwise, so the stored
    # top-left corner is shown at the top-right of a 40x60 image.
    image = prepare_image(exif_rotated_jpeg(6), **LIMITS)

    assert image.orientation == 6
    assert image.size == image.inference_size == ImageSize(40, 60, 3)
    assert image.inference_content_type == "image/jpeg"
    x, y = red_corner(image.inference_bytes)
    assert 30 <= x <= 39 and 0 <= y <= 9


def test_exif_orientation_one_is_left_alone() -> None:
    data = exif_rotated_jpeg(1)

    assert prepare_image(data, **LIMITS).inference_bytes == data


def test_image_over_the_payload_limit_is_downscaled_to_fit() -> None:
    data = encode(noise(900, 600), "PNG")
    limit = 100_000
    assert len(data) > limit

    image = prepare_image(data, max_bytes=len(data), payload_limit=limit)

    assert len(image.inference_bytes) <= limit
    assert image.size == ImageSize(900, 600, 3)
    copy = Image.open(io.BytesIO(image.inference_bytes))
    assert copy.format == "JPEG" and image.inference_content_type == "image/jpeg"
    assert (copy.width, copy.height) == (image.inference_size.width, image.inference_size.height)
    assert copy.width < 900
    assert copy.width / copy.height == pytest.approx(1.5, rel=0.01)
    assert image.scale == pytest.approx(900 / copy.width)


def test_boxes_on_the_downscaled_copy_map_back_to_original_pixels() -> None:
    data = encode(noise(900, 600), "PNG")
    image = prepare_image(data, max_bytes=len(data), payload_limit=100_000)
    w, h = image.inference_size.width, image.inference_size.height
    # a box covering the middle half of the copy
    box = Box.from_corners(w / 4, h / 4, 3 * w / 4, 3 * h / 4, image.inference_size)
    on_copy = ImageDetections(image.inference_size, (Detection("cat", 0.8, box),))

    restored = image.restore(on_copy)

    assert restored.image_size == image.size
    got = restored.detections[0].box
    tolerance = image.scale
    assert abs(got.left - 225) <= tolerance and abs(got.top - 150) <= tolerance
    assert abs(got.width - 450) <= 2 * tolerance and abs(got.height - 300) <= 2 * tolerance


def test_rotated_and_oversized_image_is_both_turned_upright_and_shrunk() -> None:
    stored = noise(600, 400)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 8
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)

    image = prepare_image(data, max_bytes=len(data), payload_limit=30_000)

    assert image.size == ImageSize(400, 600, 3)
    assert len(image.inference_bytes) <= 30_000
    assert image.inference_size.height > image.inference_size.width


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_upright_image_within_the_limit_is_checked_without_decoding_its_pixels(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode(noise(120, 80), fmt)

    def no_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("decoded the pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)

    image = prepare_image(data, **LIMITS)

    assert image.inference_bytes == data
    assert image.size == ImageSize(120, 80, 3)


def test_jpeg_cut_off_at_its_last_bytes_is_corrupt() -> None:
    data = encode(noise(200, 150), "JPEG")

    assert rejection(data[:-2]).code == "corrupt"


def test_jpeg_cut_off_in_its_scan_is_corrupt_though_an_end_marker_precedes_the_scan() -> None:
    whole = encode(noise(200, 150), "JPEG", comment=b"thumbnail \xff\xd9 inside")
    assert whole.index(b"\xff\xd9") < whole.index(b"\xff\xda")

    assert rejection(whole[: len(whole) // 2]).code == "corrupt"


def test_jpeg_with_bytes_after_its_end_marker_is_accepted() -> None:
    data = encode(noise(40, 30), "JPEG") + b"camera maker notes"

    assert prepare_image(data, **LIMITS).size == ImageSize(40, 30, 3)


def test_png_whose_pixels_only_a_decode_can_tell_are_broken_passes_the_check_but_not_check_decodes() -> None:
    data = png_with_undecodable_pixels()

    assert prepare_image(data, **LIMITS).inference_bytes == data
    with pytest.raises(ImageRejected) as caught:
        check_decodes(data)
    assert caught.value.code == "corrupt"


def test_check_decodes_accepts_a_sound_image() -> None:
    check_decodes(encode(noise(40, 30), "PNG"))


def test_png_orientation_stored_after_its_pixels_is_applied() -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    chunks = png_chunks(encode(noise(60, 40), "PNG", exif=exif.tobytes()))
    exif_chunk = next(chunk for chunk in chunks if chunk[0] == b"eXIf")
    others = [chunk for chunk in chunks if chunk[0] != b"eXIf"]
    data = png_from_chunks([*others[:-1], exif_chunk, others[-1]])  # eXIf just before IEND
    assert "exif" not in Image.open(io.BytesIO(data)).info

    image = prepare_image(data, **LIMITS)

    assert image.orientation == 6
    assert image.size == image.inference_size == ImageSize(40, 60, 3)
