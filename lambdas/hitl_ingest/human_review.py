"""Start a human review exactly once per image version, with the backend the deployment chose.

`ReviewStarter` is what ingest needs: the identifier its records name (`flow_definition_arn`:
A2I's flow definition, or the built-in service's id) and `start`. Both backends take the same
deterministic name and the same InputContent text, so a redelivery starts nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from hitl_core import review_tasks
from hitl_core.review_budget import OverBudgetRule, ReviewBudget
from hitl_core.review_priority import PriorityRule

if TYPE_CHECKING:  # their modules import boto3, which a cold start leaves to the first message
    from hitl_aws.review_task_table import ReviewTaskTable
    from hitl_ingest.pending_loops import PendingLoops


class HumanLoopNameTaken(RuntimeError):
    """A loop with this image's name exists under another flow definition; an operator must look."""


class ReviewStarter(Protocol):
    backend: str
    flow_definition_arn: str

    def start(self, loop_name: str, input_content: str, record_uri: str = "") -> bool:
        """True when this call started the review, False when an earlier delivery already had
        (`record_uri`: the prediction record that holds the InputContent)."""
        ...

    def over_budget(self, condition_results: dict[str, Any]) -> bool:
        """True when the image is to be accepted, not reviewed, because the review budget is spent."""
        ...


class HumanReviewStarter:
    """`StartHumanLoop` with a deterministic name; a loop already started for it counts as done."""

    backend = "a2i"

    def __init__(self, a2i_client: Any, flow_definition_arn: str) -> None:
        self._client = a2i_client
        self.flow_definition_arn = flow_definition_arn

    def start(self, loop_name: str, input_content: str, record_uri: str = "") -> bool:
        """True when this call started the loop, False when an earlier delivery already had."""
        try:
            self._client.start_human_loop(
                HumanLoopName=loop_name,
                FlowDefinitionArn=self.flow_definition_arn,
                HumanLoopInput={"InputContent": input_content},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConflictException":
                raise
            existing = self._client.describe_human_loop(HumanLoopName=loop_name)
            if existing["FlowDefinitionArn"] != self.flow_definition_arn:
                raise HumanLoopNameTaken(
                    f"human loop {loop_name} belongs to {existing['FlowDefinitionArn']}"
                ) from None
            return False
        return True

    def over_budget(self, condition_results: dict[str, Any]) -> bool:
        """No budget: every loop starts at once (`BudgetedHumanReviewStarter` is the one with a budget)."""
        return False


class BudgetedHumanReviewStarter:
    """A2I within the team's budget of loops started per hour and day: a loop starts while the budget
    allows, else the image waits for the loop starter (`pending_loops`), unless `over_budget` accepts
    it (`when_spent: accept`)."""

    backend = "a2i"

    def __init__(self, loops: PendingLoops, flow_definition_arn: str, over_budget: OverBudgetRule) -> None:
        self._loops = loops
        self._over_budget = over_budget
        self.flow_definition_arn = flow_definition_arn

    def start(self, loop_name: str, input_content: str, record_uri: str = "") -> bool:
        """True when this call added the image (and started its loop, or left it waiting), False when an
        earlier delivery had."""
        if not record_uri:
            raise ValueError("a budgeted A2I start needs the prediction record that holds the InputContent")
        return self._loops.submit(loop_name, json.loads(input_content), record_uri)

    def over_budget(self, condition_results: dict[str, Any]) -> bool:
        """The rule applied to the loops counted this hour and day (one GetItem each)."""
        now = self._loops.clock()
        windows = self._over_budget.team_windows(now)
        if not windows:
            return False
        used = self._loops.table.counters([w.key for w in windows])
        return self._over_budget.accepts(windows, used, condition_results)


class TaskStoreReviewStarter:
    """A task in the built-in review service's table, by conditional put; an existing one counts as done.

    Its place in the reviewers' queue is fixed here, from the shown scores by `priority`
    (`hitl_core.review_priority`); the budget applies when reviewers take tasks, so none is lost,
    unless `over_budget` accepts images while it is spent (`when_spent: accept`).
    """

    backend = "builtin"

    def __init__(
        self,
        table: ReviewTaskTable,
        service_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        priority: PriorityRule | None = None,
        over_budget: OverBudgetRule | None = None,
    ) -> None:
        self._table = table
        self._over_budget = over_budget or OverBudgetRule(ReviewBudget())
        self._clock = clock
        self._priority = priority or PriorityRule()
        self.flow_definition_arn = review_tasks.review_service_id(service_name)

    def start(self, loop_name: str, input_content: str, record_uri: str = "") -> bool:
        """True when this call created the task, False when an earlier delivery already had."""
        task = review_tasks.new_task(loop_name, input_content, self._clock(), self._priority)
        return self._table.create(task)

    def over_budget(self, condition_results: dict[str, Any]) -> bool:
        """The rule applied to the team's counters as the review service counts them (one GetItem each)."""
        from hitl_aws.review_task_table import TeamRecords  # imports boto3: built on first use

        windows = self._over_budget.team_windows(self._clock())
        if not windows:
            return False
        used = TeamRecords(self._table).counters([w.key for w in windows])
        return self._over_budget.accepts(windows, used, condition_results)
