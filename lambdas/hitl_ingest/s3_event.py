"""The S3 "Object Created" event (as EventBridge delivers it through SQS) the function is fed."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote_plus

from hitl_aws.s3_uri import s3_uri

DETAIL_TYPE = "Object Created"
SOURCE = "aws.s3"


class MalformedMessage(ValueError):
    """A queue message that is not an S3 Object Created event; it is retried, then parked in the DLQ."""


@dataclass(frozen=True)
class ObjectCreated:
    """The object an event announces, exactly as S3 named it.

    EventBridge gives the key as stored (not URL-encoded, unlike S3's own notifications).
    """

    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    event_time: str | None = None

    @property
    def version(self) -> str:
        """The version id, else the ETag: what makes this upload different from any other."""
        return self.version_id or (self.etag or "")

    @property
    def identity(self) -> tuple[str, str, str]:
        """Bucket, key and version: one upload, however many events announce it."""
        return (self.bucket, self.key, self.version)

    @property
    def uri(self) -> str:
        return s3_uri(self.bucket, self.key)

    @property
    def is_folder_marker(self) -> bool:
        return self.key.endswith("/")

    def url_decoded(self) -> ObjectCreated | None:
        """This event with its key form-decoded (as S3 notifications encode keys); None if unchanged."""
        decoded = unquote_plus(self.key)
        return None if decoded == self.key else replace(self, key=decoded)


def _field(mapping: Any, name: str, where: str) -> Any:
    if not isinstance(mapping, dict) or name not in mapping:
        raise MalformedMessage(f"the event lacks {where}{name}")
    return mapping[name]


def parse_object_created(body: str) -> ObjectCreated:
    """Read an SQS message body holding an EventBridge S3 event; MalformedMessage says what is wrong."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError as err:
        raise MalformedMessage(f"the message body is not JSON: {err.msg}") from None
    if _field(event, "source", "") != SOURCE or _field(event, "detail-type", "") != DETAIL_TYPE:
        raise MalformedMessage(
            f"expected source {SOURCE!r} and detail-type {DETAIL_TYPE!r}, "
            f"got {event.get('source')!r} / {event.get('detail-type')!r}"
        )
    detail = _field(event, "detail", "")
    bucket = _field(_field(detail, "bucket", "detail."), "name", "detail.bucket.")
    obj = _field(detail, "object", "detail.")
    key = _field(obj, "key", "detail.object.")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise MalformedMessage("detail.bucket.name and detail.object.key must be non-empty strings")
    etag = obj.get("etag", obj.get("eTag"))
    version_id = obj.get("version-id")
    if version_id in ("", "null"):
        # "null" is the version of every upload to an unversioned (or suspended) bucket: it does not
        # tell one upload from the next, the ETag does.
        version_id = None
    if not etag and not version_id:
        raise MalformedMessage("detail.object has neither etag nor version-id")
    size = obj.get("size")
    return ObjectCreated(
        bucket=bucket,
        key=key,
        size=size if isinstance(size, int) else None,
        etag=etag.strip('"') if isinstance(etag, str) else None,
        version_id=version_id,
        event_time=event.get("time"),
    )
