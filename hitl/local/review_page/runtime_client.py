"""The review page's calls to the local A2I runtime, over HTTP, through its documented local API.

The page needs more than `sagemaker-a2i-runtime` offers (the loops' InputContent, a way to
submit an answer), which is what the runtime's `/local/...` routes are for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from hitl_core.review_tasks import parse_timestamp

TIMEOUT_SECONDS = 10


class RuntimeUnavailable(RuntimeError):
    """The A2I runtime could not be reached or answered with a server error."""


class AnswerRefused(ValueError):
    """The runtime refused an answer (bad boxes, or the loop is no longer open)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Loop:
    """A human loop as the page needs it."""

    name: str
    status: str
    creation_time: datetime
    input_content: dict[str, Any]
    answers_received: int = 0
    answers_required: int = 1
    output_s3_uri: str | None = None


def _loop(item: dict[str, Any]) -> Loop:
    return Loop(
        name=item["humanLoopName"],
        status=item["humanLoopStatus"],
        creation_time=parse_timestamp(item["creationTime"]),
        input_content=item["inputContent"],
        answers_received=int(item.get("answersReceived", 0)),
        answers_required=int(item.get("answersRequired", 1)),
        output_s3_uri=item.get("outputS3Uri"),
    )


class RuntimeClient:
    """Lists loops with their InputContent and submits answers, against the runtime at `base_url`."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._http = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._http.request(method, self._base + path, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as err:
            raise RuntimeUnavailable(f"the A2I runtime at {self._base} is unreachable: {err}") from err
        if response.status_code >= 500:
            raise RuntimeUnavailable(
                f"the A2I runtime answered {response.status_code}: {response.text[:300]}"
            )
        return response

    def loops(self, status: str | None = None) -> list[Loop]:
        """Every loop (or those with `status`), oldest first."""
        params = {"status": status} if status else {}
        response = self._call("GET", "/local/human-loops", params=params)
        response.raise_for_status()
        return [_loop(item) for item in response.json()["humanLoops"]]

    def loop(self, name: str) -> Loop | None:
        """One loop, or None when the runtime does not know it (or the name cannot be a loop's)."""
        response = self._call("GET", f"/local/human-loops/{quote(name, safe='')}")
        if response.status_code in (400, 404):
            return None
        response.raise_for_status()
        return _loop(response.json())

    def submit(self, name: str, submission: dict[str, Any]) -> None:
        """Record one reviewer's answer; AnswerRefused carries the runtime's reason."""
        response = self._call("POST", f"/local/human-loops/{quote(name, safe='')}/answers", json=submission)
        if response.status_code >= 400:
            raise AnswerRefused(_error_message(response), response.status_code)


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    return str(body.get("Message") or body)
