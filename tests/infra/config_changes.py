"""What a configuration change does to the deployed resources, read from two synthesized templates.

Each resource is added, removed, updated or replaced, as CloudFormation decides it: a changed
logical id is a removal plus an addition, and a changed `createOnlyProperties` value (from the
resource schemas cfn-lint ships) is a replacement, which also reaches every resource whose
create-only property refers to a replaced one. CloudFormation creates new and replacing resources
before it deletes anything, so a new resource whose name or key an old one still holds collides.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

SCHEMA_REGION = "us-east-1"
# Resources whose loss loses data: the task table, the buckets (manifests included), the user pool,
# messages waiting in queues, the model registry.
STATEFUL_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Cognito::UserPool",
        "AWS::SQS::Queue",
        "AWS::SageMaker::ModelPackageGroup",
    }
)
# Names unique per account that live inside a configuration object, not in the schema's identifier.
NESTED_NAMES = {
    "AWS::CloudFront::ResponseHeadersPolicy": ("ResponseHeadersPolicyConfig", "Name"),
    "AWS::CloudFront::CachePolicy": ("CachePolicyConfig", "Name"),
    "AWS::CloudFront::OriginRequestPolicy": ("OriginRequestPolicyConfig", "Name"),
    "AWS::CloudFront::OriginAccessControl": ("OriginAccessControlConfig", "Name"),
}

# The account and region both templates are compared in: pseudo parameters resolve to these.
PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::Partition": "aws"}


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    UPDATED = "updated"
    REPLACED = "replaced"


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    resource_type: str
    change: Change
    why: tuple[str, ...] = ()


@dataclass
class Classification:
    """Every changed resource of one configuration change, and what would fail or lose data."""

    changes: list[ResourceChange] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)
    collided_types: list[str] = field(default_factory=list)
    stateful_replaced: list[str] = field(default_factory=list)

    def of(self, change: Change) -> list[ResourceChange]:
        return [c for c in self.changes if c.change is change]

    @property
    def problems(self) -> list[str]:
        return [*self.collisions, *(f"stateful resource replaced: {s}" for s in self.stateful_replaced)]


@cache
def _schema(resource_type: str) -> dict[str, Any] | None:
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return None
    return PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema


def _paths(schema: dict[str, Any] | None, key: str) -> list[list[str]]:
    """A schema list of `/properties/A/B` pointers as property paths (array steps `*` dropped)."""
    if schema is None:
        return []
    return [[part for part in pointer.split("/")[2:] if part != "*"] for pointer in schema.get(key, []) or []]


def _at(properties: dict[str, Any], path: list[str]) -> Any:
    value: Any = properties
    for part in path:
        if not isinstance(value, dict):
            return value
        value = value.get(part)
    return value


def _references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, Fn::Sub's ${Id})."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and not inner.startswith("AWS::"):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _create_only_changes(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        "/".join(path)
        for path in _paths(_schema(resource_type), "createOnlyProperties")
        if _at(old, path) != _at(new, path)
    ]


def resolved(value: Any) -> Any:
    """A template value with pseudo parameters filled in and joins of plain strings joined."""
    if isinstance(value, list):
        return [resolved(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    inner = {k: resolved(v) for k, v in value.items()}
    if set(inner) == {"Fn::Join"}:
        separator, parts = inner["Fn::Join"]
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            return separator.join(parts)
    return inner


def unique_key(resource: dict[str, Any]) -> str | None:
    """What the account allows once: the identifier the template sets, or a fixed create-only name."""
    resource_type, properties = resource["Type"], resource.get("Properties", {})
    schema = _schema(resource_type)
    parts: list[Any] = []
    if resource_type == "AWS::Cognito::UserPoolDomain":
        # A pool has one prefix domain and one custom domain, whatever their names.
        parts = [properties.get("UserPoolId"), "custom" if properties.get("CustomDomainConfig") else "prefix"]
    elif resource_type in NESTED_NAMES:
        config, name = NESTED_NAMES[resource_type]
        parts = [properties.get(config, {}).get(name)]
    else:
        read_only = {tuple(p) for p in _paths(schema, "readOnlyProperties")}
        identifier = _paths(schema, "primaryIdentifier")
        if identifier and all(tuple(p) not in read_only for p in identifier):
            parts = [_at(properties, p) for p in identifier]
        else:
            # A name is unique within its parents' names (a schema's within its registry's): all of them.
            names = [p for p in _paths(schema, "createOnlyProperties") if p and p[-1].endswith("Name")]
            parts = [_at(properties, p) for p in names]
            if not any(isinstance(part, str) for part in parts):
                return None
            parts = [part for part in parts if part is not None]
    if not parts or any(part is None for part in parts):
        return None
    return f"{resource_type} {json.dumps(parts, sort_keys=True)}"


def classify(old: dict[str, Any], new: dict[str, Any]) -> Classification:
    """Every resource the change touches, the collisions it causes, the stateful resources it replaces."""
    old_resources, new_resources = resolved(old.get("Resources", {})), resolved(new.get("Resources", {}))
    replaced: dict[str, tuple[str, ...]] = {}
    updated: set[str] = set()
    gone = set(old_resources) - set(new_resources)
    for logical_id in set(old_resources) & set(new_resources):
        before, after = old_resources[logical_id], new_resources[logical_id]
        if before["Type"] != after["Type"]:
            replaced[logical_id] = ("Type",)
        elif why := _create_only_changes(
            after["Type"], before.get("Properties", {}), after.get("Properties", {})
        ):
            replaced[logical_id] = tuple(why)
        elif before.get("Properties") != after.get("Properties"):
            updated.add(logical_id)
    # A resource whose create-only property names a replaced (or re-created) resource is replaced too.
    while True:
        moved = set(replaced) | gone
        newly = {}
        for logical_id in set(old_resources) & set(new_resources) - set(replaced):
            after = new_resources[logical_id]
            for path in _paths(_schema(after["Type"]), "createOnlyProperties"):
                if _references(_at(after.get("Properties", {}), path)) & moved:
                    newly[logical_id] = (f"{'/'.join(path)} (refers to a replaced resource)",)
                    break
        if not newly:
            break
        replaced |= newly
    updated -= set(replaced)

    result = Classification()
    for logical_id in sorted(set(new_resources) - set(old_resources)):
        result.changes.append(ResourceChange(logical_id, new_resources[logical_id]["Type"], Change.ADDED))
    for logical_id in sorted(gone):
        result.changes.append(ResourceChange(logical_id, old_resources[logical_id]["Type"], Change.REMOVED))
    for logical_id in sorted(updated):
        result.changes.append(ResourceChange(logical_id, new_resources[logical_id]["Type"], Change.UPDATED))
    for logical_id, why in sorted(replaced.items()):
        result.changes.append(
            ResourceChange(logical_id, new_resources[logical_id]["Type"], Change.REPLACED, why)
        )

    # The update phase creates every added and replacing resource while all old ones still exist;
    # a key naming a replaced or re-created resource resolves to a new value.
    moved = set(replaced) | gone
    held = {key: logical_id for logical_id, r in old_resources.items() if (key := unique_key(r))}
    for change in result.changes:
        if change.change in (Change.ADDED, Change.REPLACED):
            resource = new_resources[change.logical_id]
            key = unique_key(resource)
            if key is not None and key in held and not _references(json.loads(key.split(" ", 1)[1])) & moved:
                result.collisions.append(
                    f"{change.logical_id} ({change.change}) is created while {held[key]} still holds {key}"
                )
                result.collided_types.append(change.resource_type)
    result.stateful_replaced = [
        c.logical_id for c in result.of(Change.REPLACED) if c.resource_type in STATEFUL_TYPES
    ]
    return result


def _types(changes: list[ResourceChange]) -> str:
    counted = Counter(c.resource_type.removeprefix("AWS::") for c in changes)
    return ", ".join(f"{t} x{n}" if n > 1 else t for t, n in sorted(counted.items())) or "-"


def table_row(description: str, result: Classification) -> str:
    """One line of the documentation's table: what the change adds, removes, replaces and updates."""
    failures = [f"collides: {t.removeprefix('AWS::')}" for t in result.collided_types]
    failures += [f"replaces state: {s}" for s in result.stateful_replaced]
    verdict = "fails, " + "; ".join(failures) if failures else "safe"
    cells = [description, *(_types(result.of(c)) for c in Change), verdict]
    return "| " + " | ".join(cells) + " |"


TABLE_HEADER = "| Change | Added | Removed | Updated | Replaced | Verdict |\n|---|---|---|---|---|---|"
