"""The pipeline's event schemas in an EventBridge schema registry, for consumers to fetch and bind.

The checked-in schemas (`schemas/events/*.json`, JSON Schema 2020-12, each the `detail` of one
detail-type) are published as EventBridge names and shapes its own schemas: one schema per
`source@DetailType`, describing the whole event (envelope + detail), of type
`JSONSchemaDraft4` (the registry takes OpenApi3 or JSONSchemaDraft4; Draft 4 keeps the
schemas' `null` types and needs only mechanical rewriting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

from hitl_core.events import EVENT_SOURCE

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas" / "events"
SCHEMA_TYPE = "JSONSchemaDraft4"
DRAFT4 = "http://json-schema.org/draft-04/schema#"


def _draft4(node: Any) -> Any:
    """A 2020-12 schema fragment rewritten for Draft 4: definitions, refs, numeric exclusive bounds."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = _draft4(value)
        elif key == "$ref" and isinstance(value, str):
            out["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
        elif key in ("$schema", "$id"):
            continue
        else:
            out[key] = _draft4(value)
    return out


def registry_schema_name(detail_type: str) -> str:
    """EventBridge's naming: `<source>@<DetailTypeWithoutSpaces>` (as in `aws.s3@ObjectCreated`)."""
    return f"{EVENT_SOURCE}@{detail_type.replace(' ', '')}"


def event_schema_draft4(detail_schema: dict[str, Any]) -> dict[str, Any]:
    """The whole event (EventBridge envelope around the detail) as a Draft 4 schema."""
    detail = _draft4(detail_schema)
    definitions = detail.pop("definitions", {})
    detail_name = detail_schema["title"].replace(" ", "")
    return {
        "$schema": DRAFT4,
        "title": registry_schema_name(detail_schema["title"]),
        "description": detail_schema.get("description", detail_schema["title"]),
        "type": "object",
        "required": ["detail-type", "source", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [detail_schema["title"]]},
            "source": {"type": "string", "enum": [EVENT_SOURCE]},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": {"$ref": f"#/definitions/{detail_name}"},
        },
        "definitions": {**definitions, detail_name: detail},
    }


@dataclass(frozen=True)
class EventSchemasProps:
    name_prefix: str
    schemas_dir: Path = SCHEMAS_DIR


class EventSchemas(Construct):
    """A schema registry holding one schema per detail-type the pipeline publishes."""

    def __init__(self, scope: Construct, construct_id: str, props: EventSchemasProps) -> None:
        super().__init__(scope, construct_id)
        self.registry = eventschemas.CfnRegistry(
            self,
            "Registry",
            registry_name=f"{props.name_prefix}-pipeline-events",
            description=f"Events the object-detection pipeline publishes (source {EVENT_SOURCE}).",
        )
        self.schemas: list[eventschemas.CfnSchema] = []
        for path in sorted(props.schemas_dir.glob("*.json")):
            detail_schema = json.loads(path.read_text())
            schema = eventschemas.CfnSchema(
                self,
                path.stem,
                registry_name=self.registry.attr_registry_name,
                schema_name=registry_schema_name(detail_schema["title"]),
                type=SCHEMA_TYPE,
                content=json.dumps(event_schema_draft4(detail_schema), sort_keys=True),
                description=detail_schema.get("description", detail_schema["title"])[:256],
            )
            self.schemas.append(schema)
