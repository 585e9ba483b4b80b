"""Time every AWS API call made by one boto3 session's clients, keeping each call's parameters.

Hooks on botocore's events, so the code under measurement runs unchanged; a call's time is
the HTTP round trip with retries, without client-side serialisation or reading a streamed body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import boto3

_PARAMS = "benchmark_call_params"
_STARTED = "benchmark_call_started"


@dataclass(frozen=True)
class TimedCall:
    """One API call: `service:Operation`, its parameters, its HTTP status and how long it took."""

    operation: str
    params: dict[str, Any]
    status: int
    ms: float


class CallTimer:
    """Collects a TimedCall for every call; `take()` hands them over and starts afresh."""

    def __init__(self) -> None:
        self._calls: list[TimedCall] = []

    def session(self) -> boto3.session.Session:
        """A session whose clients report to this timer."""
        session = boto3.session.Session()
        session.events.register("before-parameter-build", self._keep_params)
        session.events.register("before-call", self._start)
        session.events.register("after-call", self._stop)
        return session

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = dict(params)

    def _start(self, context: dict[str, Any], **_: Any) -> None:
        context[_STARTED] = time.perf_counter()

    def _stop(self, model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        elapsed = (time.perf_counter() - context.pop(_STARTED)) * 1000
        operation = f"{model.service_model.service_name}:{model.name}"
        self._calls.append(TimedCall(operation, context.pop(_PARAMS, {}), http_response.status_code, elapsed))

    def take(self) -> list[TimedCall]:
        calls, self._calls = self._calls, []
        return calls
