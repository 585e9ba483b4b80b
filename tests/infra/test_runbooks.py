"""Every alarm of every synthesized scenario (both review backends) has a full section in docs/runbooks.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from docs.doc_blocks import PROJECT_ROOT, Block, fenced_blocks

RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks.md"
PARTS = ("**Means**", "**Metric**", "**Look at**", "**Logs Insights**", "**Command**", "**Do**")
_ALARM_HEADING = re.compile(r"^## (?P<id>[A-Za-z0-9]+)$")

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


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
    owners: dict[int, Runbook | None] = {}  # the section each line belongs to (None: not an alarm's)
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
        owners[number] = current
    for block in fenced_blocks(RUNBOOKS):
        if (owner := owners[block.line]) is not None:
            owner.blocks.append(block)
    return sections


@dataclass(frozen=True)
class ScenarioAlarms:
    """One scenario's template and its alarms by construct id, with the metrics each reads."""

    template: dict[str, Any]
    alarms: dict[str, list[str]]


@pytest.fixture(scope="module")
def scenarios(synthesized: Any) -> dict[str, ScenarioAlarms]:
    """Each scenario's template and alarms, from conftest's `synthesized` app."""
    return {
        name: ScenarioAlarms(synthesized.templates[name], _alarms(stack, synthesized.templates[name]))
        for name, stack in synthesized.stacks.items()
    }


def _alarms(stack: Stack, template: dict[str, Any]) -> dict[str, list[str]]:
    """The stack's alarms by the id a runbook is filed under: the alarm construct's own id."""
    found: dict[str, list[str]] = {}
    for construct in stack.node.find_all():
        if isinstance(construct, cloudwatch.CfnAlarm):
            # an L2 alarm's CfnAlarm is its child "Resource"; the id worth naming is the L2's
            owner = construct.node.scope if construct.node.id == "Resource" else construct
            assert owner.node.id not in found, (
                f"two alarms share the id {owner.node.id}: so would their runbooks"
            )
            properties = template["Resources"][stack.resolve(stack.get_logical_id(construct))]["Properties"]
            found[owner.node.id] = _metric_names(properties)
    in_template = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(in_template) == len(found), "an alarm in the template is missing from the construct tree"
    return found


def _metric_names(properties: dict[str, Any]) -> list[str]:
    if "MetricName" in properties:
        return [properties["MetricName"]]
    return [
        q["MetricStat"]["Metric"]["MetricName"] for q in properties.get("Metrics", []) if "MetricStat" in q
    ]


def alarm_scenarios(scenarios: dict[str, ScenarioAlarms]) -> dict[str, list[str]]:
    """Each alarm id and the scenarios whose stack has it."""
    found: dict[str, list[str]] = {}
    for name, scenario in scenarios.items():
        for alarm_id in scenario.alarms:
            found.setdefault(alarm_id, []).append(name)
    return found


def test_every_alarm_has_a_runbook_and_every_runbook_an_alarm(scenarios: dict[str, ScenarioAlarms]) -> None:
    alarms, sections = alarm_scenarios(scenarios), runbooks()
    assert {"IngestDlqNotEmpty", "HumanLoopsFailed", "ReviewTasksFailed"} <= alarms.keys()
    missing = sorted(alarms.keys() - sections.keys())
    assert not missing, f"alarms without a '## <id>' section in docs/runbooks.md: {missing}"
    orphans = sorted(sections.keys() - alarms.keys())
    assert not orphans, f"runbook sections for alarms the stack does not create: {orphans}"


def test_each_runbook_names_its_metric_a_log_query_and_a_command(
    scenarios: dict[str, ScenarioAlarms],
) -> None:
    problems = []
    for alarm_id, names in alarm_scenarios(scenarios).items():
        runbook = runbooks().get(alarm_id)
        if runbook is None:
            continue  # the test above names it
        problems += [f"{alarm_id}: no {part} paragraph" for part in PARTS if not runbook.paragraph(part)]
        for metric in {metric for name in names for metric in scenarios[name].alarms[alarm_id]}:
            if f"`{metric}`" not in runbook.paragraph("**Metric**"):
                problems.append(f"{alarm_id}: the **Metric** paragraph does not name `{metric}`")
        languages = [block.language for block in runbook.blocks]
        if "logs-insights" not in languages:
            problems.append(f"{alarm_id}: no logs-insights block (a Logs Insights query)")
        if "bash" not in languages:
            problems.append(f"{alarm_id}: no bash block (a command)")
        for name in names:
            problems += _unknown_names(alarm_id, runbook, scenarios[name], name)
    assert not problems, "\n".join(problems)


def _unknown_names(alarm_id: str, runbook: Runbook, stack: ScenarioAlarms, scenario: str) -> list[str]:
    """`resource X` must name exactly one logical id X<8-hex hash>; `output X` a stack output."""
    problems = []
    for name in runbook.shell_names("resource"):
        matches = [lid for lid in stack.template["Resources"] if re.fullmatch(rf"{name}[0-9A-F]{{8}}", lid)]
        if len(matches) != 1:
            problems.append(f"{alarm_id} ({scenario}): `resource {name}` matches {matches or 'no resource'}")
    for name in runbook.shell_names("output"):
        if name not in stack.template.get("Outputs", {}):
            problems.append(f"{alarm_id} ({scenario}): `output {name}` is not a stack output")
    return problems


def test_log_queries_filter_on_messages_the_functions_log() -> None:
    """A query's `message = "..."` (or a plain `message like /.../`) is a message some function logs."""
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "lambdas").rglob("*.py"))
    queries = [block.text for block in fenced_blocks(RUNBOOKS) if block.language == "logs-insights"]
    messages = [
        equal or like
        for query in queries
        for equal, like in re.findall(r'(?<![@\w])message (?:=|like) (?:"([^"]+)"|/([^/]+)/)', query)
    ]
    assert "sweep done" in messages
    unknown = [m for m in messages if not re.search(r"[\\^$.|?*+()\[\]{}]", m) and f'"{m}' not in sources]
    assert not unknown, f"runbook queries filter on messages no function logs: {unknown}"
