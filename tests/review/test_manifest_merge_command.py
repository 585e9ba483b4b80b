"""`hitl manifest merge`: fold answers into an existing manifest, local files and s3 URIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from hitl.cli import cli
from hitl.commands import manifest_merge

from .builders import REGION

ATTR = "bounding-box"


def line(ref: str, date: str, class_id: int = 0) -> dict[str, Any]:
    return {
        "source-ref": f"s3://images/{ref}.jpg",
        ATTR: {
            "image_size": [{"width": 64, "height": 48, "depth": 3}],
            "annotations": [{"class_id": class_id, "left": 1, "top": 2, "width": 10, "height": 10}],
        },
        f"{ATTR}-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {str(class_id): f"label{class_id}"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": f"2024-01-{date}T00:00:00.000Z",
            "job-name": f"a2i/{ref}-{date}",
        },
    }


def compact(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":")) + "\n"


# Base lines written by other tools: spacing and key order differ from ours, and must survive.
BASE = (
    json.dumps(line("kept", "01"), indent=None)
    + "\n"
    + json.dumps(line("replaced", "01"), sort_keys=True)
    + "\r\n"
    + json.dumps(line("newer-in-base", "20"))
    + "\n"
)
NEW = (
    compact(line("replaced", "05", 1))
    + compact(line("newer-in-base", "10", 1))
    + compact(line("fresh", "07"))
)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["manifest", "merge", *args])


def test_merge_replaces_later_answers_adds_new_ones_and_keeps_the_rest_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "base.manifest").write_bytes(BASE.encode())
    (tmp_path / "new.manifest").write_bytes(NEW.encode())
    out = tmp_path / "out.manifest"
    result = run(str(tmp_path / "base.manifest"), str(tmp_path / "new.manifest"), "-o", str(out))
    assert result.exit_code == 0, result.output
    base_lines = BASE.encode().splitlines(keepends=True)
    assert out.read_bytes().splitlines(keepends=True) == [
        base_lines[0],
        compact(line("replaced", "05", 1)).encode(),
        base_lines[2],
        compact(line("fresh", "07")).encode(),
    ]
    assert "4 line(s), 1 replaced, 1 added, 1 base line(s) kept because they were newer" in result.output


def test_several_new_manifests_are_folded_in_order(tmp_path: Path) -> None:
    (tmp_path / "base.manifest").write_text("")
    (tmp_path / "00000001.manifest").write_text(compact(line("cat", "01")) + compact(line("dog", "01")))
    (tmp_path / "00000002.manifest").write_text(compact(line("cat", "09", 1)))
    out = tmp_path / "all.manifest"
    sealed = [str(tmp_path / "00000001.manifest"), str(tmp_path / "00000002.manifest")]
    assert run(str(tmp_path / "base.manifest"), *sealed, "-o", str(out)).exit_code == 0
    assert out.read_text() == compact(line("cat", "09", 1)) + compact(line("dog", "01"))


def test_on_equal_creation_dates_the_later_file_wins(tmp_path: Path) -> None:
    base = line("tie", "03", 0)
    base[f"{ATTR}-metadata"]["job-name"] = "zz-sorts-last"
    (tmp_path / "base.manifest").write_text(compact(base))
    (tmp_path / "new.manifest").write_text(compact(line("tie", "03", 1)))
    out = tmp_path / "out.manifest"
    result = run(str(tmp_path / "base.manifest"), str(tmp_path / "new.manifest"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == compact(line("tie", "03", 1))
    assert "1 replaced, 0 added, 0 base line(s) kept" in result.output


def test_a_bad_new_line_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "base.manifest").write_text(BASE)
    (tmp_path / "new.manifest").write_text(compact(line("ok", "01")) + '{"source-ref": "not-s3"}\n')
    out = tmp_path / "out.manifest"
    result = run(str(tmp_path / "base.manifest"), str(tmp_path / "new.manifest"), "-o", str(out))
    assert result.exit_code != 0
    assert "new.manifest line 2" in result.output
    assert not out.exists()


def test_a_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.manifest"), str(tmp_path / "nope2.manifest"), "-o", str(tmp_path / "o"))
    assert result.exit_code != 0 and "cannot read" in result.output


@pytest.fixture
def s3_endpoint(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    manifest_merge._s3.cache_clear()
    client = boto3.client("s3", region_name=REGION, endpoint_url=moto_server_url)
    client.create_bucket(Bucket="merge-command-test")
    yield client
    manifest_merge._s3.cache_clear()


def test_merge_reads_and_writes_s3_uris(s3_endpoint: Any) -> None:
    bucket = "merge-command-test"
    s3_endpoint.put_object(Bucket=bucket, Key="train/base.manifest", Body=BASE.encode())
    s3_endpoint.put_object(Bucket=bucket, Key="manifests/00000001.manifest", Body=NEW.encode())
    result = run(
        f"s3://{bucket}/train/base.manifest",
        f"s3://{bucket}/manifests/00000001.manifest",
        "-o",
        f"s3://{bucket}/train/merged.manifest",
    )
    assert result.exit_code == 0, result.output
    merged = s3_endpoint.get_object(Bucket=bucket, Key="train/merged.manifest")["Body"].read()
    assert merged.splitlines()[0] == BASE.encode().splitlines()[0]
    assert [json.loads(raw)["source-ref"] for raw in merged.splitlines()] == [
        "s3://images/kept.jpg",
        "s3://images/replaced.jpg",
        "s3://images/newer-in-base.jpg",
        "s3://images/fresh.jpg",
    ]
