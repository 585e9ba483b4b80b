"""The fenced blocks of the README and docs/ with the marker that says whether a test runs each.

The convention is docs/contributing.md's: `<!-- run -->`, `<!-- run: stack -->` or
`<!-- not-run: REASON -->` on the line before a block; `<!-- output -->` before a `text` block
that the previous run block must print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUNNABLE_LANGUAGES = frozenset({"bash", "python"})
SHOWN_LANGUAGES = frozenset({"text", "json", "jsonl", "mermaid", "logs-insights"})
"""Blocks that show data, output, a diagram or a CloudWatch Logs Insights query: no marker needed."""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|not-run|output)(?:\s*:\s*(?P<detail>.*?))?\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: where it is, its language, its marker and its text (dedented)."""

    page: str
    line: int
    language: str
    text: str
    marker: str | None = None
    detail: str = ""
    expected_output: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def needs_stack(self) -> bool:
        return self.marker == "run" and self.detail == "stack"


def doc_pages() -> list[Path]:
    """The README and every page of the documentation site."""
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]


def fenced_blocks(path: Path, root: Path = PROJECT_ROOT) -> list[Block]:
    """Every fenced block of one page, with the marker on the last non-blank line before it."""
    page = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body, end = [], index + 1
        while end < len(lines) and not re.match(
            rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]
        ):
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        language = opening["info"].strip().split(" ")[0].strip("{}.")
        block = Block(page, index + 1, language, "\n".join(body) + "\n")
        marker = _marker_before(lines, index)
        if marker is not None:
            block.marker, block.detail = marker
        blocks.append(block)
        index = end + 1
    _attach_outputs(blocks)
    return blocks


def all_blocks() -> list[Block]:
    return [block for page in doc_pages() for block in fenced_blocks(page)]


def marker_problem(block: Block) -> str | None:
    """What is wrong with a block's marker under the convention, or None."""
    where = f"{block.id} ({block.language or 'no language'})"
    if not block.language:
        return f"{where}: give the block a language (`text` for output)"
    if block.marker == "output":
        return None if block.language == "text" else f"{where}: <!-- output --> marks a `text` block"
    if block.marker == "run":
        if block.language not in RUNNABLE_LANGUAGES:
            return f"{where}: only {sorted(RUNNABLE_LANGUAGES)} blocks run; mark it <!-- not-run: REASON -->"
        if block.detail not in ("", "stack"):
            return f"{where}: <!-- run --> or <!-- run: stack -->, not run: {block.detail}"
        return None
    if block.marker == "not-run":
        return None if block.detail else f"{where}: <!-- not-run: REASON --> needs its reason"
    if block.language in SHOWN_LANGUAGES:
        return None
    markers = "<!-- run -->, <!-- run: stack --> or <!-- not-run: REASON -->"
    return f"{where}: mark it {markers} (docs/contributing.md)"


def _marker_before(lines: list[str], index: int) -> tuple[str, str] | None:
    previous = index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    match = _MARKER.match(lines[previous]) if previous >= 0 else None
    return (match["kind"], (match["detail"] or "").strip()) if match else None


def _attach_outputs(blocks: list[Block]) -> None:
    """An <!-- output --> block's lines belong to the run block before it on the page."""
    last_run: Block | None = None
    for block in blocks:
        if block.marker == "run":
            last_run = block
        elif block.marker == "output" and last_run is not None:
            last_run.expected_output += [line.rstrip() for line in block.text.splitlines() if line.strip()]
