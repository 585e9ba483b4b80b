"""Read and check an uploaded image, and prepare the copy the detector is sent.

Pure Pillow, no AWS. Accepted formats are JPEG (including camera MPO files, read as their
first frame) and PNG: what the SageMaker built-in detector, Rekognition Custom Labels and
the reviewer's browser all read. The size reported is the image as a viewer displays it
(EXIF orientation applied); the detector copy is turned upright and downscaled to fit the
endpoint's payload limit when needed, and `PreparedImage.restore` maps its boxes back.

An image sent as uploaded is not decoded here (the detector decodes it anyway): it is checked
from its header and its structure instead, which catches what a decode would (a cut-off
upload, a damaged PNG chunk); `check_decodes` decodes it when the detector refuses it.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from hitl_core.detections import ImageDetections, ImageSize

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
"""Pillow format name -> content type sent to the endpoint (MPO: a camera JPEG with extra frames)."""
EXIF_ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 90
SHRINK_MARGIN = 0.97
MIN_SIDE = 32
_GRAYSCALE_MODES = {"1", "L", "LA", "I", "I;16", "F"}
_JPEG_START_OF_SCAN = 0xDA
_JPEG_FILL = 0xFF
_JPEG_END_OF_IMAGE = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK_FRAME = 12  # length, type and CRC around each chunk's data
_PNG_EXIF = b"eXIf"
_PNG_END = b"IEND"
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error)

RejectionCode = Literal["not-an-image", "unsupported-format", "corrupt", "too-large"]


class ImageRejected(ValueError):
    """An upload that cannot be scored; `code` is the machine-readable reason."""

    def __init__(self, code: RejectionCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class PreparedImage:
    """An accepted image and the bytes to send to the detector."""

    format: str
    size: ImageSize
    orientation: int
    inference_bytes: bytes
    inference_content_type: str
    inference_size: ImageSize

    @property
    def scale(self) -> float:
        """Displayed width over detector-copy width (1.0 when the copy is full size)."""
        return self.size.width / self.inference_size.width

    def restore(self, detections: ImageDetections) -> ImageDetections:
        """Detections made on the detector copy, in the displayed image's pixels."""
        if self.inference_size == self.size:
            return ImageDetections(self.size, detections.detections)
        return detections.rescaled(self.scale, self.size)


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected("not-an-image", "the file is not an image Pillow can identify") from None
    except Image.DecompressionBombError as err:
        raise ImageRejected("too-large", f"too many pixels: {err}") from None
    except _UNREADABLE as err:
        raise ImageRejected("corrupt", f"the image header cannot be read: {err}") from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected("unsupported-format", f"{image.format} images are not accepted; send JPEG or PNG")
    return image


def _decode(image: Image.Image) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except Image.DecompressionBombError as err:
        raise ImageRejected("too-large", f"too many pixels: {err}") from None
    except _UNREADABLE as err:
        raise ImageRejected("corrupt", f"the {image.format} data cannot be decoded: {err}") from None


def _jpeg_scan_is_closed(data: bytes) -> bool:
    """Whether the JPEG's segments lead to image data that an end-of-image marker closes.

    Entropy-coded data never holds 0xFFD9 (a 0xFF there is followed by 0x00 or a restart
    marker), so its presence after the first scan header means the upload was not cut off.
    Searched from the end, where a whole file has it, rather than through the scan.
    """
    position = 2
    while position + 4 <= len(data):
        if data[position] != _JPEG_FILL:
            return False
        marker = data[position + 1]
        if marker == _JPEG_FILL:
            position += 1
            continue
        segment_end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker == _JPEG_START_OF_SCAN:
            return data.rfind(_JPEG_END_OF_IMAGE, segment_end) != -1
        position = segment_end
    return False


def _png_chunk_types(data: bytes) -> set[bytes]:
    """The PNG's chunk types up to IEND, each chunk checked against its CRC; corrupt if one fails."""
    view, types, position = memoryview(data), set(), len(_PNG_SIGNATURE)
    while position + _PNG_CHUNK_FRAME <= len(data):
        length, chunk_type = struct.unpack_from(">I4s", data, position)
        end = position + _PNG_CHUNK_FRAME + length
        if end > len(data):
            break
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[position + 4 : end - 4]) != crc:
            raise ImageRejected("corrupt", f"the PNG's {chunk_type.decode('latin-1')} chunk is damaged")
        types.add(chunk_type)
        if chunk_type == _PNG_END:
            return types
        position = end
    raise ImageRejected("corrupt", "the PNG data is cut off: no IEND chunk")


def _check_structure(data: bytes, image: Image.Image) -> set[bytes]:
    """Without decoding pixels: a JPEG must not be cut off, every PNG chunk must match its CRC.

    Returns a PNG's chunk types (empty for a JPEG).
    """
    if image.format == "PNG":
        return _png_chunk_types(data)
    if not _jpeg_scan_is_closed(data):
        raise ImageRejected("corrupt", "the JPEG data is cut off: no end-of-image marker after its scan")
    return set()


def _orientation(image: Image.Image, png_chunks: set[bytes]) -> int:
    """The EXIF orientation (1-8) from the header; a PNG whose eXIf chunk follows its pixels is decoded."""
    if image.format == "PNG" and "exif" not in image.info:
        if _PNG_EXIF not in png_chunks:
            return 1
        _decode(image)
    orientation = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    return orientation if orientation in range(1, 9) else 1


def check_decodes(data: bytes) -> None:
    """Decode the whole image; ImageRejected (`corrupt`) when its pixels cannot be read.

    For an image the detector refused: tells a corrupt upload from one only the detector dislikes.
    """
    _decode(_open(data))


def _encode(image: Image.Image, fmt: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue(), "image/jpeg"


def _fit(image: Image.Image, fmt: str, payload_limit: int) -> tuple[bytes, str, Image.Image]:
    """Encode `image` in `fmt` if that fits `payload_limit`, else as JPEG, shrunk until it fits.

    Each step resizes the full image by the square root of the size ratio (JPEG size grows with
    the pixel count), with a margin so every step makes progress.
    """
    data, content_type = _encode(image, fmt)
    if len(data) <= payload_limit:
        return data, content_type, image
    rgb = image.convert("RGB")
    copy = rgb
    if fmt != "JPEG":
        data, content_type = _encode(copy, "JPEG")
    while len(data) > payload_limit:
        factor = SHRINK_MARGIN * (payload_limit / len(data)) ** 0.5
        width, height = round(copy.width * factor), round(copy.height * factor)
        if min(width, height) < MIN_SIDE:
            raise ImageRejected("too-large", "the image cannot be shrunk to the endpoint's payload limit")
        copy = rgb.resize((width, height), Image.Resampling.LANCZOS)
        data, content_type = _encode(copy, "JPEG")
    return data, content_type, copy


def _depth(image: Image.Image) -> int:
    return 1 if image.mode in _GRAYSCALE_MODES else 3


def prepare_image(data: bytes, *, max_bytes: int, payload_limit: int) -> PreparedImage:
    """Check an upload and prepare its detector copy; ImageRejected says why one is refused.

    An upright image within the payload limit is sent as uploaded, checked without a decode.
    """
    if len(data) > max_bytes:
        raise ImageRejected("too-large", f"{len(data):,} bytes is over the {max_bytes:,}-byte maximum")
    image = _open(data)
    source_format = "JPEG" if image.format == "MPO" else str(image.format)
    png_chunks = _check_structure(data, image)
    orientation = _orientation(image, png_chunks)
    fits = len(data) <= payload_limit
    if orientation == 1 and fits:
        size = ImageSize(image.width, image.height, _depth(image))
        return PreparedImage(
            format=source_format,
            size=size,
            orientation=orientation,
            inference_bytes=data,
            inference_content_type=ACCEPTED_FORMATS[source_format],
            inference_size=size,
        )
    _decode(image)
    upright = ImageOps.exif_transpose(image) if orientation != 1 else image
    size = ImageSize(upright.width, upright.height, _depth(upright))
    # Turned upright only: keep the format. Over the limit: JPEG, which is far smaller than PNG.
    copy_bytes, content_type, copy = _fit(upright, source_format if fits else "JPEG", payload_limit)
    return PreparedImage(
        format=source_format,
        size=size,
        orientation=orientation,
        inference_bytes=copy_bytes,
        inference_content_type=content_type,
        inference_size=ImageSize(copy.width, copy.height, size.depth),
    )
