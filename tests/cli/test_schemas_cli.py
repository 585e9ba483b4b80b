"""`hitl schemas write` / `check`, and the checked-in schemas equal the event models."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hitl.cli import cli
from hitl_core.events import EVENT_TYPES, event_schema

CHECKED_IN = Path(__file__).resolve().parents[2] / "schemas" / "events"


def run(*args: str):
    return CliRunner().invoke(cli, ["schemas", *args])


def test_the_checked_in_schemas_equal_the_event_models():
    result = run("check", "--dir", str(CHECKED_IN))
    assert result.exit_code == 0, (
        f"{result.output}\nrun `.venv/bin/hitl schemas write` and commit schemas/events/"
    )
    assert sorted(p.name for p in CHECKED_IN.glob("*.json")) == sorted(
        f"{t.schema_name}.json" for t in EVENT_TYPES
    )


def test_write_renders_one_file_per_event_type(tmp_path):
    target = tmp_path / "events"
    result = run("write", "--dir", str(target))
    assert result.exit_code == 0, result.output
    for event_type in EVENT_TYPES:
        path = target / f"{event_type.schema_name}.json"
        assert json.loads(path.read_text()) == event_schema(event_type)
        assert f"wrote {path}" in result.output
    assert run("check", "--dir", str(target)).exit_code == 0


def test_check_names_a_changed_file(tmp_path):
    run("write", "--dir", str(tmp_path))
    changed = tmp_path / f"{EVENT_TYPES[0].schema_name}.json"
    schema = json.loads(changed.read_text())
    schema["properties"].pop(next(iter(schema["properties"])))
    changed.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    result = run("check", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert f"out of date: {changed.name}" in result.output
    assert "hitl schemas write" in result.output


def test_check_names_missing_and_stray_files(tmp_path):
    run("write", "--dir", str(tmp_path))
    missing = tmp_path / f"{EVENT_TYPES[-1].schema_name}.json"
    missing.unlink()
    (tmp_path / "old-event.json").write_text("{}")
    result = run("check", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert f"missing: {missing.name}" in result.output
    assert "no event model: old-event.json" in result.output


def test_check_of_an_empty_folder_fails(tmp_path):
    result = run("check", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert "missing: " in result.output
