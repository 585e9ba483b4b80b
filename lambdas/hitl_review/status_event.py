"""A2I's "SageMaker A2I HumanLoop Status Change" event, as EventBridge puts it on the SQS queue."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


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
    source: Literal["aws.sagemaker"]
    detail_type: Literal["SageMaker A2I HumanLoop Status Change"] = Field(alias="detail-type")
    time: str
    detail: HumanLoopStatusDetail
