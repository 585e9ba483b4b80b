"""Records written once with a conditional put, never overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import BaseModel

from hitl_ingest.record_store import RecordStore


class Note(BaseModel):
    text: str
    done: bool = False


@pytest.fixture
def store() -> Iterator[RecordStore]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="records")
        yield RecordStore(s3, "records")


def body_of(store: RecordStore, key: str) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    return Note.model_validate_json(s3.get_object(Bucket=store.bucket, Key=key)["Body"].read())


def test_missing_record_loads_as_none(store: RecordStore) -> None:
    assert store.load("p/none.json", Note) is None


def test_create_writes_once_and_never_overwrites(store: RecordStore) -> None:
    assert store.create("p/a.json", Note(text="first")) is True

    assert store.create("p/a.json", Note(text="second")) is False

    assert body_of(store, "p/a.json") == Note(text="first")
    assert store.load("p/a.json", Note) == Note(text="first")


def test_uri_names_the_bucket(store: RecordStore) -> None:
    assert store.uri("predictions/a b.jpg/e.json") == "s3://records/predictions/a b.jpg/e.json"
