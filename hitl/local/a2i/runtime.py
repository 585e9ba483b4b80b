"""The A2I runtime's behaviour: the five API operations, answers, failures and event delivery.

Order of effects, so a crash loses nothing: `output.json` is written first, then the loop's new
status and its event are committed together, then the event is put on EventBridge. Events not
yet delivered are sent again by `deliver_pending` (after every change and at start-up): delivery
is at least once, like A2I's.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from hitl.local.a2i.answers import human_answer, output_document
from hitl.local.a2i.errors import (
    ConflictException,
    InternalServerException,
    ResourceNotFoundException,
    ValidationException,
    constraint_error,
)
from hitl.local.a2i.loops import (
    FlowDefinition,
    HumanLoop,
    HumanLoopStatus,
    StartRequest,
    validate_flow_definition_arn,
    validate_loop_name,
    validate_start_request,
)
from hitl.local.a2i.status_events import DEFAULT_BUS, status_change_entry
from hitl.local.a2i.store import LoopStore, Page
from hitl_core.review_tasks import iso_millis, parse_timestamp

logger = logging.getLogger(__name__)

MAX_RESULTS = 100
SORT_ORDERS = ("Ascending", "Descending")
FAILURE_CODES = ("ValidationError", "Expired", "InternalError")
MAX_FAILURE_REASON = 1024


class OutputWriter(Protocol):
    def write(self, uri: str, document: dict[str, Any]) -> None: ...


class EventEmitter(Protocol):
    def emit(self, entry: dict[str, Any]) -> None: ...


def utc_now() -> datetime:
    """Now, in UTC: the default clock."""
    return datetime.now(UTC)


def _encode_token(flow_arn: str, order: str, last: HumanLoop) -> str:
    raw = json.dumps({"f": flow_arn, "o": order, "t": last.creation_time, "n": last.name})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, flow_arn: str, order: str) -> Page:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        page = Page(str(data["t"]), str(data["n"]))
        same_listing = data["f"] == flow_arn and data["o"] == order
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationException("The NextToken is not valid") from None
    if not same_listing:
        raise ValidationException(
            "The NextToken belongs to a listing with another FlowDefinitionArn or SortOrder"
        )
    return page


def _time_bound(params: Mapping[str, str], name: str) -> str | None:
    if name not in params:
        return None
    try:
        return iso_millis(parse_timestamp(params[name]))
    except ValueError:
        raise constraint_error(params[name], name, "be an ISO 8601 timestamp") from None


def _max_results(params: Mapping[str, str]) -> int:
    raw = params.get("MaxResults", str(MAX_RESULTS))
    try:
        value = int(raw)
    except ValueError:
        raise constraint_error(raw, "maxResults", "be an integer") from None
    if not 1 <= value <= MAX_RESULTS:
        raise constraint_error(raw, "maxResults", f"be between 1 and {MAX_RESULTS}")
    return value


class A2IRuntime:
    """Human loops for a set of flow definitions, kept in a LoopStore."""

    def __init__(
        self,
        store: LoopStore,
        output_writer: OutputWriter,
        event_emitter: EventEmitter,
        flow_definitions: Iterable[FlowDefinition],
        *,
        clock: Callable[[], datetime] = utc_now,
        bus_name: str = DEFAULT_BUS,
    ) -> None:
        self.store = store
        self._output = output_writer
        self._emitter = event_emitter
        self.flows = {flow.arn: flow for flow in flow_definitions}
        if not self.flows:
            raise ValueError("the runtime needs at least one flow definition")
        self._clock = clock
        self._bus = bus_name
        self._changes = threading.RLock()
        self._delivery = threading.Lock()

    # --- start-up -----------------------------------------------------------------------------

    def recover(self) -> int:
        """Finish what a crash interrupted: loops left Stopping become Stopped; pending events go out.

        Returns how many events were delivered.
        """
        for loop in self.store.list(None, status=HumanLoopStatus.STOPPING):
            self._finish_stopping(loop)
        return self.deliver_pending()

    def deliver_pending(self) -> int:
        """Put every undelivered status event on EventBridge, oldest first; stop at the first failure."""
        delivered = 0
        with self._delivery:
            for event in self.store.pending_events():
                try:
                    self._emitter.emit(event.entry)
                except Exception:
                    logger.exception(
                        "status event for loop %s not delivered; kept for retry", event.loop_name
                    )
                    break
                self.store.mark_delivered(event.id)
                delivered += 1
        return delivered

    # --- the sagemaker-a2i-runtime API -------------------------------------------------------

    def start(self, body: Any) -> dict[str, Any]:
        request = validate_start_request(body)
        flow = self._flow(request)
        loop = HumanLoop.start(request, flow, self._clock())
        if not self.store.insert(loop):
            raise ConflictException(f"A human loop named {request.name} already exists")
        return {"HumanLoopArn": loop.arn}

    def describe(self, name: str) -> dict[str, Any]:
        return self._existing(name).describe()

    def list(self, params: Mapping[str, str]) -> dict[str, Any]:
        flow_arn = validate_flow_definition_arn(params.get("FlowDefinitionArn"))
        if flow_arn not in self.flows:
            raise ResourceNotFoundException(f"Flow definition {flow_arn} does not exist")
        order = params.get("SortOrder", "Descending")
        if order not in SORT_ORDERS:
            raise constraint_error(order, "sortOrder", f"satisfy enum value set: [{', '.join(SORT_ORDERS)}]")
        limit = _max_results(params)
        token = params.get("NextToken")
        loops = self.store.list(
            flow_arn,
            after=_time_bound(params, "CreationTimeAfter"),
            before=_time_bound(params, "CreationTimeBefore"),
            ascending=order == "Ascending",
            start_after=_decode_token(token, flow_arn, order) if token else None,
            limit=limit + 1,
        )
        response: dict[str, Any] = {"HumanLoopSummaries": [loop.summary() for loop in loops[:limit]]}
        if len(loops) > limit:
            response["NextToken"] = _encode_token(flow_arn, order, loops[limit - 1])
        return response

    def stop(self, body: Any) -> dict[str, Any]:
        name = validate_loop_name(body.get("HumanLoopName") if isinstance(body, dict) else None)
        with self._changes:
            loop = self._existing(name)
            if loop.status in (HumanLoopStatus.STOPPING, HumanLoopStatus.STOPPED):
                return {}
            if loop.status != HumanLoopStatus.IN_PROGRESS:
                raise ValidationException(
                    f"Human loop {name} is {loop.status}; only an InProgress loop can be stopped"
                )
            stopping = loop.moved_to(HumanLoopStatus.STOPPING)
            if not self.store.replace(stopping, HumanLoopStatus.IN_PROGRESS):
                raise ConflictException(f"Human loop {name} changed while being stopped; try again")
            self._finish_stopping(stopping)
        self.deliver_pending()
        return {}

    def delete(self, name: str) -> dict[str, Any]:
        with self._changes:
            loop = self._existing(name)
            if loop.status in (HumanLoopStatus.IN_PROGRESS, HumanLoopStatus.STOPPING):
                raise ValidationException(f"Human loop {name} is {loop.status}; stop it before deleting it")
            if not self.store.delete(name, loop.status):
                raise ConflictException(f"Human loop {name} changed while being deleted; try again")
        return {}

    # --- the local additions: answers and failures ---------------------------------------------

    def loops(self, status: str | None = None) -> list[HumanLoop]:
        """Every loop (or those with `status`), oldest first: the review page's work queue."""
        if status is not None and status not in set(HumanLoopStatus):
            raise constraint_error(status, "status", f"be one of {[str(s) for s in HumanLoopStatus]}")
        return self.store.list(None, status=status)

    def loop(self, name: str) -> HumanLoop:
        return self._existing(name)

    def answers_required(self, loop: HumanLoop) -> int:
        flow = self.flows.get(loop.flow_definition_arn)
        return flow.task_count if flow else 1

    def submit(self, name: str, body: Any) -> HumanLoop:
        """Record one reviewer's answer; with the flow's task count reached, complete the loop."""
        with self._changes:
            loop = self._existing(name)
            if loop.status != HumanLoopStatus.IN_PROGRESS:
                raise ConflictException(f"Human loop {name} is {loop.status}; it takes no more answers")
            now = self._clock()
            answer = human_answer(loop, body, now)
            if any(given["workerId"] == answer["workerId"] for given in loop.answers):
                raise ConflictException(f"Worker {answer['workerId']} has already answered loop {name}")
            answers = (*loop.answers, answer)
            if len(answers) < self.answers_required(loop):
                updated = loop.moved_to(HumanLoopStatus.IN_PROGRESS, answers=answers)
                self._replace(updated, HumanLoopStatus.IN_PROGRESS, event=False)
                return updated
            completed = loop.moved_to(HumanLoopStatus.COMPLETED, answers=answers)
            try:
                self._output.write(completed.output_s3_uri, output_document(completed))
            except Exception as err:
                logger.exception("output.json for loop %s not written", name)
                raise InternalServerException(f"Could not write {completed.output_s3_uri}: {err}") from err
            self._replace(completed, HumanLoopStatus.IN_PROGRESS, event=True, now=now)
        self.deliver_pending()
        return completed

    def fail(self, name: str, body: Any) -> HumanLoop:
        """Fail an InProgress loop, as A2I does when a task expires or cannot be processed."""
        body = body if isinstance(body, dict) else {}
        code, reason = body.get("failureCode"), body.get("failureReason")
        if code not in FAILURE_CODES:
            raise constraint_error(code, "failureCode", f"be one of {list(FAILURE_CODES)}")
        if not isinstance(reason, str) or not 1 <= len(reason) <= MAX_FAILURE_REASON:
            raise constraint_error(
                reason, "failureReason", f"be a string of 1-{MAX_FAILURE_REASON} characters"
            )
        with self._changes:
            loop = self._existing(name)
            if loop.status != HumanLoopStatus.IN_PROGRESS:
                raise ConflictException(
                    f"Human loop {name} is {loop.status}; only an InProgress loop can fail"
                )
            failed = loop.moved_to(HumanLoopStatus.FAILED, failure_code=code, failure_reason=reason)
            self._replace(failed, HumanLoopStatus.IN_PROGRESS, event=True)
        self.deliver_pending()
        return failed

    # --- helpers ------------------------------------------------------------------------------

    def _flow(self, request: StartRequest) -> FlowDefinition:
        flow = self.flows.get(request.flow_definition_arn)
        if flow is None:
            raise ValidationException(f"Flow definition {request.flow_definition_arn} does not exist")
        return flow

    def _existing(self, name: str) -> HumanLoop:
        loop = self.store.get(validate_loop_name(name))
        if loop is None:
            raise ResourceNotFoundException(f"Human loop {name} does not exist")
        return loop

    def _replace(
        self, loop: HumanLoop, expected: HumanLoopStatus, *, event: bool, now: datetime | None = None
    ) -> None:
        entry = status_change_entry(loop, iso_millis(now or self._clock()), self._bus) if event else None
        if not self.store.replace(loop, expected, entry):
            raise ConflictException(f"Human loop {loop.name} changed meanwhile; try again")

    def _finish_stopping(self, stopping: HumanLoop) -> None:
        """Nobody works on a local task, so a stopping loop stops at once (as A2I does then)."""
        self._replace(stopping.moved_to(HumanLoopStatus.STOPPED), HumanLoopStatus.STOPPING, event=True)
