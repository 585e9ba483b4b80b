"""Start an A2I human loop exactly once per image version."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class HumanLoopNameTaken(RuntimeError):
    """A loop with this image's name exists under another flow definition; an operator must look."""


class HumanReviewStarter:
    """`StartHumanLoop` with a deterministic name; a loop already started for it counts as done."""

    def __init__(self, a2i_client: Any, flow_definition_arn: str) -> None:
        self._client = a2i_client
        self.flow_definition_arn = flow_definition_arn

    def start(self, loop_name: str, input_content: str) -> bool:
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
