"""Every configuration key (context `hitl` and `hitl-deploy`) is documented on some page of docs/."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator

from pydantic import BaseModel

from docs.doc_blocks import PROJECT_ROOT
from hitl_core.config import PipelineConfig
from infra.deploy_config import DeployConfig

DOCUMENTS = "policy"  # a whole routing-policy document, described by its grammar, not key by key
MAX_DEPTH = 3


def setting_models(annotation: object) -> list[type[BaseModel]]:
    """The settings models an annotation holds (through Optional, unions, lists)."""
    arguments = typing.get_args(annotation) or (annotation,)
    found: list[type[BaseModel]] = []
    for argument in arguments:
        if isinstance(argument, type) and issubclass(argument, BaseModel):
            found.append(argument)
        elif typing.get_args(argument):
            found += setting_models(argument)
    return found


def keys(model: type[BaseModel], prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Every leaf key of a settings model, dotted as a user writes it in cdk.json."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = setting_models(field.annotation) if depth < MAX_DEPTH and name != DOCUMENTS else []
        if not nested:
            yield key
        for inner in nested:
            yield from keys(inner, f"{key}.", depth + 1)


def test_every_key_is_documented() -> None:
    docs = "\n".join(page.read_text(encoding="utf-8") for page in (PROJECT_ROOT / "docs").glob("*.md"))
    code_spans = " ".join(re.findall(r"`([^`\n]+)`", docs))
    all_keys = {*keys(PipelineConfig), *keys(DeployConfig)}
    assert {"labels", "rotation.max_lines", "endpoint.mode", "review.backend"} <= all_keys
    missing = sorted(
        k for k in all_keys if not re.search(rf"(?<![\w-]){re.escape(k.split('.')[-1])}(?![\w-])", code_spans)
    )
    assert not missing, f"configuration keys no page of docs/ names (in `code`): {missing}"
