"""Every CloudWatch alarm of the stack, with either review backend, has a complete runbook section."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from docs.conftest import SynthesizedStack
from docs.doc_blocks import PROJECT_ROOT, Block, fenced_blocks

RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks.md"
PARTS = ("**Means**", "**Metric**", "**Look at**", "**Logs Insights**", "**Command**", "**Do**")
_ALARM_HEADING = re.compile(r"^## (?P<id>[A-Za-z0-9]+)$")

pytestmark = pytest.mark.synth


@dataclass
class Runbook:
    """One alarm's section of docs/runbooks.md: its text and its fenced blocks."""

    alarm_id: str
    line: int
    text: str = ""
    blocks: list[Block] = field(default_factory=list)

    def paragraph(self, part: str) -> str:
        """The paragraph that starts with `part` (e.g. **Metric**), joined into one line."""
        for paragraph in self.text.split("\n\n"):
            if paragraph.lstrip().startswith(part):
                return " ".join(paragraph.split())
        return ""

    def shell_names(self, helper: str) -> set[str]:
        """The names passed to a helper (`resource NAME`, `output NAME`) in the section's commands."""
        commands = "".join(block.text for block in self.blocks if block.language == "bash")
        in_commands = re.findall(rf"\$\({helper} ([A-Za-z0-9]+)\)", commands)
        in_prose = re.findall(rf"`{helper} ([A-Za-z0-9]+)`", self.text)
        return set(in_commands + in_prose)


def runbooks() -> dict[str, Runbook]:
    """The alarm sections (a `## Id` heading, the id alone) of docs/runbooks.md."""
    sections: dict[str, Runbook] = {}
    current: Runbook | None = None
    for number, line in enumerate(RUNBOOKS.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("## "):
            match = _ALARM_HEADING.match(line)
            current = Runbook(match["id"], number) if match else None
            if current is not None:
                assert current.alarm_id not in sections, f"two runbooks for {current.alarm_id}"
                sections[current.alarm_id] = current
        elif current is not None:
            current.text += line + "\n"
    for block in fenced_blocks(RUNBOOKS):
        owner = max((r for r in sections.values() if r.line < block.line), key=lambda r: r.line, default=None)
        if owner is not None:
            owner.blocks.append(block)
    return sections


def alarm_backends(stacks: dict[str, SynthesizedStack]) -> dict[str, list[str]]:
    """Each alarm id and the review backends whose stack has it."""
    found: dict[str, list[str]] = {}
    for backend, stack in stacks.items():
        for alarm_id in stack.alarms:
            found.setdefault(alarm_id, []).append(backend)
    return found


def test_every_alarm_has_a_runbook_and_every_runbook_an_alarm(
    stacks_by_backend: dict[str, SynthesizedStack],
) -> None:
    alarms, sections = alarm_backends(stacks_by_backend), runbooks()
    assert {"IngestDlqNotEmpty", "HumanLoopsFailed", "ReviewTasksFailed"} <= alarms.keys()
    missing = sorted(alarms.keys() - sections.keys())
    assert not missing, f"alarms without a '## <id>' section in docs/runbooks.md: {missing}"
    orphans = sorted(sections.keys() - alarms.keys())
    assert not orphans, f"runbook sections for alarms the stack does not create: {orphans}"


def test_each_runbook_names_its_metric_a_log_query_and_a_command(
    stacks_by_backend: dict[str, SynthesizedStack],
) -> None:
    problems = []
    for alarm_id, backends in alarm_backends(stacks_by_backend).items():
        runbook = runbooks().get(alarm_id)
        if runbook is None:
            continue  # the test above names it
        problems += [f"{alarm_id}: no {part} paragraph" for part in PARTS if not runbook.paragraph(part)]
        for metric in {m for backend in backends for m in stacks_by_backend[backend].alarms[alarm_id]}:
            if f"`{metric}`" not in runbook.paragraph("**Metric**"):
                problems.append(f"{alarm_id}: the **Metric** paragraph does not name `{metric}`")
        languages = [block.language for block in runbook.blocks]
        if "logs-insights" not in languages:
            problems.append(f"{alarm_id}: no logs-insights block (a Logs Insights query)")
        if "bash" not in languages:
            problems.append(f"{alarm_id}: no bash block (a command)")
        for backend in backends:
            problems += _unknown_names(alarm_id, runbook, stacks_by_backend[backend], backend)
    assert not problems, "\n".join(problems)


def _unknown_names(alarm_id: str, runbook: Runbook, stack: SynthesizedStack, backend: str) -> list[str]:
    """`resource X` must name exactly one logical id X<8-hex hash>; `output X` a stack output."""
    problems = []
    for name in runbook.shell_names("resource"):
        matches = [lid for lid in stack.template["Resources"] if re.fullmatch(rf"{name}[0-9A-F]{{8}}", lid)]
        if len(matches) != 1:
            problems.append(f"{alarm_id} ({backend}): `resource {name}` matches {matches or 'no resource'}")
    for name in runbook.shell_names("output"):
        if name not in stack.template.get("Outputs", {}):
            problems.append(f"{alarm_id} ({backend}): `output {name}` is not a stack output")
    return problems
