"""A local stand-in for Amazon A2I: the `sagemaker-a2i-runtime` API over HTTP, loops kept on disk,
`output.json` written to S3 in A2I's layout, and A2I's status-change event put on EventBridge.

See docs/local-a2i.md for the API subset and the answer-submit call.
"""

from hitl.local.a2i.answers import SIMULATED_WORKER_ID, simulated_answer
from hitl.local.a2i.app import create_a2i_app
from hitl.local.a2i.loops import FlowDefinition, HumanLoop, HumanLoopStatus
from hitl.local.a2i.output import S3OutputWriter
from hitl.local.a2i.status_events import DETAIL_TYPE, EVENT_SOURCE, EventBridgeEmitter
from hitl.local.a2i.store import LoopStore

__all__ = [
    "DETAIL_TYPE",
    "EVENT_SOURCE",
    "SIMULATED_WORKER_ID",
    "EventBridgeEmitter",
    "FlowDefinition",
    "HumanLoop",
    "HumanLoopStatus",
    "LoopStore",
    "S3OutputWriter",
    "create_a2i_app",
    "simulated_answer",
]
