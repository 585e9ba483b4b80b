"""A task's image from the local S3, as stored and as a small thumbnail for the task list.

Only the image a loop names is ever read (the page asks by loop name, never by URI), so the
review page cannot be used to read anything else from the buckets.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageOps, UnidentifiedImageError

from hitl_aws.s3_uri import parse_s3_uri

THUMBNAIL_SIZE = (192, 144)
THUMBNAIL_CACHE = 256


class ImageUnavailable(LookupError):
    """The task's image cannot be read or decoded."""


@dataclass(frozen=True)
class ImageBytes:
    body: bytes
    content_type: str


class TaskImages:
    """Reads task images (s3:// URIs) through a boto3 S3 client.

    Thumbnails are cached by loop name and URI: a loop names one version of an image.
    """

    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client
        self.thumbnail = lru_cache(maxsize=THUMBNAIL_CACHE)(self._thumbnail)

    def original(self, uri: str) -> ImageBytes:
        """The image's bytes as stored, with a content type a browser can use."""
        try:
            bucket, key = parse_s3_uri(uri)
            obj = self._s3.get_object(Bucket=bucket, Key=key)
        except (ValueError, ClientError, BotoCoreError) as err:
            raise ImageUnavailable(f"cannot read {uri}: {err}") from err
        body = obj["Body"].read()
        content_type = obj.get("ContentType", "")
        if not content_type.startswith("image/"):
            content_type = _sniffed_type(body, uri)
        return ImageBytes(body, content_type)

    def _thumbnail(self, loop_name: str, uri: str) -> ImageBytes:
        """A JPEG no larger than THUMBNAIL_SIZE, upright (EXIF orientation applied)."""
        body = self.original(uri).body
        try:
            with Image.open(io.BytesIO(body)) as image:
                small = ImageOps.exif_transpose(image)
                small.thumbnail(THUMBNAIL_SIZE)
                out = io.BytesIO()
                small.convert("RGB").save(out, format="JPEG", quality=80)
        except (UnidentifiedImageError, OSError) as err:
            raise ImageUnavailable(f"cannot decode {uri}: {err}") from err
        return ImageBytes(out.getvalue(), "image/jpeg")


def _sniffed_type(body: bytes, uri: str) -> str:
    try:
        with Image.open(io.BytesIO(body)) as image:
            return Image.MIME.get(image.format or "", "application/octet-stream")
    except (UnidentifiedImageError, OSError) as err:
        raise ImageUnavailable(f"{uri} is not an image: {err}") from err
