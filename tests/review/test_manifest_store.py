"""The rolling manifest in S3: one write per batch, idempotent, sealed at the bound, concurrency-safe."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.s3.responses import S3Response

from hitl_core.config import Rotation
from hitl_core.events import ManifestSealed
from hitl_review.manifest_plan import Answer, Outcome
from hitl_review.manifest_store import ManifestBusy, RollingManifest

from .builders import REGION, TRAINING_BUCKET

ATTR = "bounding-box"
PREFIX = "manifests/"
ROOMY = Rotation(max_lines=1000, max_bytes=8_000_000)


def line(ref: str, second: int, job: str = "a2i/loop") -> dict[str, Any]:
    return {
        "source-ref": f"s3://images/{ref}.jpg",
        ATTR: {"image_size": [{"width": 64, "height": 48, "depth": 3}], "annotations": []},
        f"{ATTR}-metadata": {
            "objects": [],
            "class-map": {},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": f"2024-01-01T00:{second // 60:02d}:{second % 60:02d}.000Z",
            "job-name": job,
        },
    }


def answer(key: str, ref: str, second: int = 0, job: str = "a2i/loop") -> Answer:
    return Answer(key=key, line=line(ref, second, job), attribute=ATTR)


class Announcements(list):
    def __call__(self, sealed: ManifestSealed) -> None:
        self.append(sealed)


def store(s3: Any, rotation: Rotation = ROOMY, **kwargs: Any) -> RollingManifest:
    return RollingManifest(s3, TRAINING_BUCKET, PREFIX, rotation, ATTR, Announcements(), **kwargs)


def manifests(s3: Any) -> dict[str, list[dict[str, Any]]]:
    """Every manifest object by key, parsed."""
    listed = s3.list_objects_v2(Bucket=TRAINING_BUCKET, Prefix=PREFIX).get("Contents", [])
    found = {}
    for item in listed:
        if item["Key"].endswith(".manifest"):
            text = s3.get_object(Bucket=TRAINING_BUCKET, Key=item["Key"])["Body"].read().decode()
            found[item["Key"]] = [json.loads(raw) for raw in text.splitlines()]
    return found


def refs(lines: list[dict[str, Any]]) -> list[str]:
    return [entry["source-ref"].split("/")[-1].removesuffix(".jpg") for entry in lines]


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


def record_calls(s3: Any) -> list[tuple[str, str]]:
    """(operation, key) of every S3 call the client makes from now on."""
    calls: list[tuple[str, str]] = []

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("Key", "")))

    s3.meta.events.register("provide-client-params.s3.*", note)
    return calls


def test_a_batch_is_one_read_and_one_write_of_the_manifest(s3: Any) -> None:
    rolling = store(s3)
    rolling.append([answer("m0", "seed")])
    calls = record_calls(s3)
    placed = rolling.append([answer(f"m{i}", f"img{i}", i) for i in range(1, 8)])
    assert {p.outcome for p in placed.values()} == {Outcome.ADDED}
    manifest_calls = Counter(op for op, key in calls if key.endswith(".manifest"))
    assert manifest_calls == {"GetObject": 1, "PutObject": 1}
    assert refs(manifests(s3)["manifests/00000001.manifest"]) == ["seed"] + [f"img{i}" for i in range(1, 8)]


def test_the_same_answer_twice_adds_one_line(s3: Any) -> None:
    rolling = store(s3)
    first = rolling.append([answer("m1", "cat", 5)])
    before = s3.get_object(Bucket=TRAINING_BUCKET, Key="manifests/00000001.manifest")["Body"].read()
    again = rolling.append([answer("m2", "cat", 5), answer("m3", "cat", 5)])
    after = s3.get_object(Bucket=TRAINING_BUCKET, Key="manifests/00000001.manifest")["Body"].read()
    assert first["m1"].outcome is Outcome.ADDED
    assert again["m2"].outcome is again["m3"].outcome is Outcome.UNCHANGED
    assert again["m2"].manifest_uri == f"s3://{TRAINING_BUCKET}/manifests/00000001.manifest"
    assert before == after


def test_out_of_order_answers_for_one_image_leave_the_newer(s3: Any) -> None:
    rolling = store(s3)
    rolling.append([answer("new", "cat", 30, job="a2i/second"), answer("x", "dog", 1)])
    placed = rolling.append([answer("old", "cat", 10, job="a2i/first")])
    assert placed["old"] == placed["old"].__class__(Outcome.SUPERSEDED, None)
    lines = manifests(s3)["manifests/00000001.manifest"]
    assert [entry[f"{ATTR}-metadata"]["job-name"] for entry in lines] == ["a2i/second", "a2i/loop"]
    replaced = rolling.append([answer("newest", "cat", 50, job="a2i/third")])
    assert replaced["newest"].outcome is Outcome.REPLACED
    lines = manifests(s3)["manifests/00000001.manifest"]
    assert refs(lines) == ["cat", "dog"], "replaced in place"
    assert lines[0][f"{ATTR}-metadata"]["job-name"] == "a2i/third"


def test_rotation_seals_full_manifests_and_announces_them(s3: Any) -> None:
    rolling = store(s3, Rotation(max_lines=3, max_bytes=1_000_000))
    rolling.append([answer("a", "a", 1), answer("b", "b", 2)])
    rolling.append([answer(k, k, i) for i, k in enumerate("cdefg", start=3)])
    found = manifests(s3)
    assert {key: refs(lines) for key, lines in found.items()} == {
        "manifests/00000001.manifest": ["a", "b", "c"],
        "manifests/00000002.manifest": ["d", "e", "f"],
        "manifests/00000003.manifest": ["g"],
    }
    announced = rolling._announce
    assert [(s.generation, s.line_count) for s in announced] == [(1, 3), (2, 3)]
    first = announced[0]
    assert first.manifest_uri == f"s3://{TRAINING_BUCKET}/manifests/00000001.manifest"
    assert (first.first_creation_date, first.last_creation_date) == (
        "2024-01-01T00:00:01.000Z",
        "2024-01-01T00:00:03.000Z",
    )
    size = s3.head_object(Bucket=TRAINING_BUCKET, Key="manifests/00000001.manifest")["ContentLength"]
    assert first.byte_count == size
    pointer = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key="manifests/open.json")["Body"].read())
    assert pointer == {"generation": 3}


def test_sealed_manifests_never_change_and_duplicates_stay_recognised(s3: Any) -> None:
    rolling = store(s3, Rotation(max_lines=2, max_bytes=1_000_000))
    rolling.append([answer("a", "cat", 10), answer("b", "dog", 10)])
    sealed_before = manifests(s3)["manifests/00000001.manifest"]
    redelivered = rolling.append([answer("a2", "cat", 10)])
    older = rolling.append([answer("a3", "dog", 5, job="a2i/earlier")])
    newer = rolling.append([answer("a4", "cat", 20, job="a2i/later")])
    found = manifests(s3)
    assert found["manifests/00000001.manifest"] == sealed_before
    assert redelivered["a2"].outcome is Outcome.UNCHANGED
    assert redelivered["a2"].manifest_uri.endswith("00000001.manifest")
    assert older["a3"].outcome is Outcome.SUPERSEDED
    assert newer["a4"].outcome is Outcome.ADDED
    assert refs(found["manifests/00000002.manifest"]) == ["cat"], "the newer answer opens the next manifest"


def test_a_seal_interrupted_before_the_pointer_moved_is_finished_by_the_next_writer(s3: Any) -> None:
    failing = Announcements()

    def announce_fails(sealed: ManifestSealed) -> None:
        failing.append(sealed)
        raise RuntimeError("EventBridge down")

    rotation = Rotation(max_lines=2, max_bytes=1_000_000)
    broken = RollingManifest(s3, TRAINING_BUCKET, PREFIX, rotation, ATTR, announce_fails)
    with pytest.raises(RuntimeError):
        broken.append([answer("a", "a", 1), answer("b", "b", 2), answer("c", "c", 3)])
    assert refs(manifests(s3)["manifests/00000001.manifest"]) == ["a", "b"]
    retry = store(s3, rotation)
    placed = retry.append([answer("a", "a", 1), answer("b", "b", 2), answer("c", "c", 3)])
    assert [placed[k].outcome for k in "abc"] == [Outcome.UNCHANGED, Outcome.UNCHANGED, Outcome.ADDED]
    assert [s.generation for s in retry._announce] == [1], "announced again, at least once"
    assert {k: refs(v) for k, v in manifests(s3).items()} == {
        "manifests/00000001.manifest": ["a", "b"],
        "manifests/00000002.manifest": ["c"],
    }


def interloper(s3: Any, rounds: int) -> None:
    """Before each of the next `rounds` manifest writes, another writer appends first."""
    other = store(boto3.client("s3", region_name=REGION))
    counter = iter(range(rounds))

    def cut_in(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").endswith(".manifest") and next(counter, None) is not None:
            other.append([answer(f"o{len(params['Key'])}{id(params)}", f"other{id(params)}")])

    s3.meta.events.register("provide-client-params.s3.PutObject", cut_in)


def test_a_conflicting_write_is_read_again_and_both_answers_land(s3: Any) -> None:
    rolling = store(s3, sleep=lambda _: None)
    rolling.append([answer("seed", "seed")])
    interloper(s3, rounds=1)
    placed = rolling.append([answer("mine", "mine", 3)])
    assert placed["mine"].outcome is Outcome.ADDED
    names = refs(manifests(s3)["manifests/00000001.manifest"])
    assert names[0] == "seed" and names[-1] == "mine" and len(names) == 3


def test_endless_conflicts_give_up_with_manifest_busy(s3: Any) -> None:
    rolling = store(s3, max_attempts=3, sleep=lambda _: None)
    rolling.append([answer("seed", "seed")])
    interloper(s3, rounds=100)
    with pytest.raises(ManifestBusy, match="3 conflicting writes"):
        rolling.append([answer("mine", "mine", 3)])


def test_other_s3_errors_are_not_taken_for_conflicts(s3: Any) -> None:
    rolling = RollingManifest(s3, "no-such-bucket-here", PREFIX, ROOMY, ATTR, Announcements())
    with pytest.raises(ClientError, match="NoSuchBucket"):
        rolling.append([answer("a", "a")])


@pytest.fixture
def atomic_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's check-then-write of a conditional PutObject atomic, as it is on S3.

    moto checks If-Match and stores the object in two steps, so two threads can both pass the
    check; S3 guarantees that only one conditional write wins.
    """
    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self: S3Response) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", put_object)


@pytest.fixture
def server_s3(moto_server_url: str, atomic_conditional_puts: None) -> Iterator[Any]:
    client = boto3.client("s3", region_name=REGION, endpoint_url=moto_server_url)
    bucket = TRAINING_BUCKET + "-threads"
    client.create_bucket(Bucket=bucket)
    yield client, bucket
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "rotation", [ROOMY, Rotation(max_lines=7, max_bytes=1_000_000)], ids=["open", "rotating"]
)
def test_concurrent_appenders_lose_and_duplicate_nothing(server_s3: Any, rotation: Rotation) -> None:
    client, bucket = server_s3
    writers, batches, per_batch = 6, 4, 3
    announced = Announcements()
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def writer(w: int) -> None:
        rolling = RollingManifest(client, bucket, PREFIX, rotation, ATTR, announced, max_attempts=200)
        start.wait()
        try:
            for b in range(batches):
                rolling.append([answer(f"{w}-{b}-{i}", f"w{w}b{b}i{i}", w) for i in range(per_batch)])
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    listed = client.list_objects_v2(Bucket=bucket, Prefix=PREFIX)["Contents"]
    keys = sorted(item["Key"] for item in listed if item["Key"].endswith(".manifest"))
    everything: list[str] = []
    for key in keys:
        text = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        lines = refs([json.loads(raw) for raw in text.splitlines()])
        everything += lines
        if key != keys[-1]:
            assert len(lines) == rotation.max_lines, f"{key} sealed at the bound"
    expected = {f"w{w}b{b}i{i}" for w in range(writers) for b in range(batches) for i in range(per_batch)}
    assert len(everything) == len(expected), "nothing duplicated"
    assert set(everything) == expected, "nothing lost"
    assert sorted({s.generation for s in announced}) == list(range(1, len(keys)))
