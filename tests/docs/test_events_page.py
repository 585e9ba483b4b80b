"""The events page lists every event the pipeline publishes, by its schema file."""

from __future__ import annotations

from docs.doc_blocks import PROJECT_ROOT

EVENTS_PAGE = PROJECT_ROOT / "docs" / "events.md"
SCHEMAS = PROJECT_ROOT / "schemas" / "events"


def test_every_event_schema_has_a_row_on_the_events_page() -> None:
    page = EVENTS_PAGE.read_text(encoding="utf-8")
    schemas = sorted(path.name for path in SCHEMAS.glob("*.json"))
    assert schemas
    missing = [name for name in schemas if f"| `{name}` |" not in page]
    assert not missing, f"docs/events.md has no row for {missing}"
