"""A human review's status change, as EventBridge puts it on the SQS queue.

A2I's "SageMaker A2I HumanLoop Status Change" and the built-in review service's "Review Task
Status Change" carry the same detail (the service writes A2I's shape), so one model reads both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from hitl_core.wiring import A2I_STATUS_DETAIL_TYPE, REVIEW_SERVICE_SOURCE, REVIEW_TASK_STATUS_DETAIL_TYPE

A2I_SOURCE = "aws.sagemaker"
DETAIL_TYPES = {A2I_SOURCE: A2I_STATUS_DETAIL_TYPE, REVIEW_SERVICE_SOURCE: REVIEW_TASK_STATUS_DETAIL_TYPE}


class _A2IModel(BaseModel):
    """A2I spells fields in camelCase and may add new ones: read by alias, ignore the unknown."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class HumanLoopOutput(_A2IModel):
    output_s3_uri: str


class HumanLoopStatusDetail(_A2IModel):
    human_loop_name: str
    human_loop_arn: str
    flow_definition_arn: str
    human_loop_status: Literal["Completed", "Failed", "Stopped"]
    creation_time: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    human_loop_output: HumanLoopOutput | None = None


class HumanLoopStatusChange(BaseModel):
    """The EventBridge envelope (the SQS message body) around the status detail."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    id: str
    source: Literal["aws.sagemaker", "hitl.review-service"]
    detail_type: Literal["SageMaker A2I HumanLoop Status Change", "Review Task Status Change"] = Field(
        alias="detail-type"
    )
    time: str
    detail: HumanLoopStatusDetail

    @model_validator(mode="after")
    def _detail_type_of_its_source(self) -> HumanLoopStatusChange:
        if DETAIL_TYPES[self.source] != self.detail_type:
            raise ValueError(f"source {self.source!r} does not send {self.detail_type!r}")
        return self

    @property
    def from_review_service(self) -> bool:
        """True for the built-in review service's event, False for A2I's."""
        return self.source == REVIEW_SERVICE_SOURCE
