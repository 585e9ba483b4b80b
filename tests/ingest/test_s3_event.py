"""Reading the S3 Object Created events EventBridge delivers through SQS."""

from __future__ import annotations

import json

import pytest

from hitl_ingest.s3_event import MalformedMessage, parse_object_created
from ingest.builders import object_created

AWKWARD_KEYS = [
    "incoming/my photo.jpg",
    "incoming/a+b=c&d.jpg",
    "incoming/100% real.png",
    "incoming/ünïcødé/猫の写真.jpg",
    "incoming/deep/er/and/deeper/still/2026/11/22/x.jpg",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_key_is_taken_exactly_as_eventbridge_gives_it(key: str) -> None:
    event = parse_object_created(json.dumps(object_created(key, size=10, etag="abc")))

    assert event.key == key
    assert event.uri == f"s3://hitl-input/{key}"


def test_version_is_the_version_id_when_the_bucket_is_versioned() -> None:
    event = parse_object_created(json.dumps(object_created("k.jpg", size=1, etag="e", version_id="v1")))

    assert (event.version, event.version_id, event.etag) == ("v1", "v1", "e")


def test_version_is_the_etag_without_quotes_otherwise() -> None:
    body = object_created("k.jpg", size=1, etag='"0123abc-2"')

    assert parse_object_created(json.dumps(body)).version == "0123abc-2"


def test_moto_style_etag_field_is_read() -> None:
    body = object_created("k.jpg", size=1, etag="x")
    body["detail"]["object"] = {"key": "k.jpg", "size": 1, "eTag": "fromMoto", "version-id": None}

    assert parse_object_created(json.dumps(body)).version == "fromMoto"


@pytest.mark.parametrize("placeholder", ["null", ""])
def test_null_version_id_of_an_unversioned_bucket_falls_back_to_the_etag(placeholder: str) -> None:
    body = object_created("k.jpg", size=1, etag="abc")
    body["detail"]["object"]["version-id"] = placeholder

    event = parse_object_created(json.dumps(body))

    assert (event.version_id, event.version) == (None, "abc")


def test_folder_marker_is_recognised() -> None:
    assert parse_object_created(
        json.dumps(object_created("incoming/dir/", size=0, etag="e"))
    ).is_folder_marker


def test_url_decoded_variant_for_keys_encoded_like_s3_notifications() -> None:
    event = parse_object_created(json.dumps(object_created("incoming/my+photo%2B1.jpg", size=1, etag="e")))

    decoded = event.url_decoded()

    assert decoded is not None and decoded.key == "incoming/my photo+1.jpg"
    assert decoded.version == event.version


def test_plain_key_has_no_decoded_variant() -> None:
    event = parse_object_created(json.dumps(object_created("incoming/plain.jpg", size=1, etag="e")))

    assert event.url_decoded() is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "not JSON"),
        (json.dumps({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}), "detail-type"),
        (json.dumps({"source": "aws.s3", "detail-type": "Object Created"}), "detail"),
        (
            json.dumps(
                {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}
            ),
            "detail.object",
        ),
        (
            json.dumps(
                {
                    "source": "aws.s3",
                    "detail-type": "Object Created",
                    "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "size": 3}},
                }
            ),
            "etag",
        ),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(body: str, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        parse_object_created(body)
