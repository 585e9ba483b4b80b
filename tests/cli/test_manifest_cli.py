"""`hitl manifest convert` and `hitl manifest validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hitl.cli import cli

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def reference_config(tmp_path: Path) -> Path:
    path = tmp_path / "hitl.json"
    path.write_text(json.dumps({"labels": ["person", "bicycle"], "manifest_attribute": "ATTR"}))
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_convert_prints_the_reference_line(tmp_path, a2i_output, reference_manifest_line, reference_config):
    output = write_json(tmp_path / "output.json", a2i_output)
    result = run("manifest", "convert", str(output), "--config", str(reference_config))
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert json.loads(result.output) == reference_manifest_line


def test_convert_uses_cdk_json_by_default(tmp_path, a2i_output, monkeypatch):
    output = write_json(tmp_path / "output.json", a2i_output)
    monkeypatch.chdir(PROJECT_ROOT)
    result = run("manifest", "convert", str(output))
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert line["bounding-box"]["annotations"][0]["class_id"] == 1
    assert line["bounding-box-metadata"]["job-name"] == "a2i/LOOPNAME"


def test_convert_refuses_a_label_outside_the_class_list(tmp_path, a2i_output, reference_config):
    a2i_output["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"][0]["label"] = "cat"
    output = write_json(tmp_path / "output.json", a2i_output)
    result = run("manifest", "convert", str(output), "--config", str(reference_config))
    assert result.exit_code == 1
    assert f"{output}: label 'cat' is not in the configured class list" in result.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "A2I output"), ('{"humanAnswers": []}', "lacks 'humanLoopName'")],
)
def test_convert_refuses_bad_output_json(tmp_path, reference_config, content, problem):
    output = tmp_path / "output.json"
    output.write_text(content)
    result = run("manifest", "convert", str(output), "--config", str(reference_config))
    assert result.exit_code == 1
    assert problem in result.output


def test_convert_names_a_bad_configuration(tmp_path, a2i_output):
    output = write_json(tmp_path / "output.json", a2i_output)
    config = write_json(tmp_path / "bad.json", {"labels": ["a", "a"]})
    result = run("manifest", "convert", str(output), "--config", str(config))
    assert result.exit_code == 1
    assert "labels" in result.output and "repeated" in result.output


def test_validate_counts_good_lines(tmp_path, reference_manifest_line):
    manifest = tmp_path / "train.manifest"
    other = reference_manifest_line | {"source-ref": "s3://bucket/other.jpg"}
    manifest.write_text(json.dumps(reference_manifest_line) + "\n\n" + json.dumps(other) + "\n")
    result = run("manifest", "validate", str(manifest))
    assert result.exit_code == 0, result.output
    assert "2 valid line(s)" in result.output


def test_validate_accepts_what_convert_prints(tmp_path, a2i_output, reference_config):
    output = write_json(tmp_path / "output.json", a2i_output)
    manifest = tmp_path / "train.manifest"
    manifest.write_text(run("manifest", "convert", str(output), "--config", str(reference_config)).output)
    assert run("manifest", "validate", str(manifest), "--attribute", "ATTR").exit_code == 0


def test_validate_names_the_first_bad_line(tmp_path, reference_manifest_line):
    bad = json.loads(json.dumps(reference_manifest_line))
    bad["ATTR"]["annotations"][0]["width"] = 99_999
    worse = {"source-ref": "nowhere"}
    lines = [json.dumps(reference_manifest_line), "", json.dumps(bad), json.dumps(worse)]
    manifest = tmp_path / "train.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    result = run("manifest", "validate", str(manifest))
    assert result.exit_code == 1
    assert "line 3: annotations[0] box lies outside the 3911x2608 image" in result.output
    assert "line 4" not in result.output


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        (b"{oops", "line 2: not JSON"),
        (b'"\xff\xfe"', "line 2: not UTF-8 text"),
        (b"[]", "line 2: a line must be a JSON object"),
    ],
)
def test_validate_refuses_lines_that_are_not_json_objects(tmp_path, reference_manifest_line, second, problem):
    manifest = tmp_path / "train.manifest"
    manifest.write_bytes(json.dumps(reference_manifest_line).encode() + b"\n" + second + b"\n")
    result = run("manifest", "validate", str(manifest))
    assert result.exit_code == 1
    assert problem in result.output


def test_validate_requires_one_attribute_throughout(tmp_path, reference_manifest_line):
    renamed = json.loads(json.dumps(reference_manifest_line).replace('"ATTR', '"boxes'))
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps(reference_manifest_line) + "\n" + json.dumps(renamed) + "\n")
    result = run("manifest", "validate", str(manifest))
    assert result.exit_code == 1
    assert "line 2: missing 'ATTR' or 'ATTR-metadata'" in result.output


def test_validate_with_a_named_attribute(tmp_path, reference_manifest_line):
    manifest = write_json(tmp_path / "train.manifest", reference_manifest_line)
    result = run("manifest", "validate", str(manifest), "--attribute", "bounding-box")
    assert result.exit_code == 1
    assert "line 1: missing 'bounding-box'" in result.output


def test_validate_needs_an_existing_file(tmp_path):
    result = run("manifest", "validate", str(tmp_path / "absent.manifest"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
