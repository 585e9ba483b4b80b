"""Test inputs for the ingest function: images, S3 events, SQS batches, endpoint answers."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from PIL import Image

REGION = "us-east-1"
INPUT_BUCKET = "hitl-input"


def jpeg_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG file."""
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG file of these chunks, each with its correct CRC."""
    body = b"".join(
        struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        for kind, payload in chunks
    )
    return b"\x89PNG\r\n\x1a\n" + body


def png_with_undecodable_pixels(width: int = 64, height: int = 48) -> bytes:
    """A PNG whose chunks are intact (CRCs match) but whose pixel data is not zlib: only a decode tells."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(buffer, format="PNG")
    chunks = png_chunks(buffer.getvalue())
    return png_from_chunks([(k, b"not zlib data" * 8 if k == b"IDAT" else p) for k, p in chunks])


def object_created(
    key: str, *, size: int, etag: str, version_id: str | None = None, bucket: str = INPUT_BUCKET
) -> dict[str, Any]:
    """An S3 Object Created event as EventBridge delivers it (key not URL-encoded)."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": etag, "sequencer": "0062E99A88DC407460"}
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": DEFAULT_ACCOUNT_ID,
        "time": "2026-11-22T10:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": DEFAULT_ACCOUNT_ID,
            "reason": "PutObject",
        },
    }


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """The event Lambda receives from SQS, one record per body."""
    records = []
    for body in bodies:
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:ingest",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


@dataclass
class LambdaContextStub:
    function_name: str = "ingest"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:ingest"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sagemaker_answer(*rows: list[float]) -> dict[str, Any]:
    """The built-in object-detection algorithm's answer: [class_id, score, xmin, ymin, xmax, ymax]."""
    return {"prediction": [list(r) for r in rows]}
