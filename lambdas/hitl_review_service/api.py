"""The review API: HTTP API (payload 2.0) routes for reviewers to list, open, claim, release and answer
tasks, and for administrators to stop one.

The caller comes from the JWT authorizer's claims; every route requires the reviewers or the
admin group. Errors are `{"message": ...}` with 400 (bad request or answer), 401 (no identity),
403 (not in a group allowed), 404 (no such task), 409 (the task's state refuses the operation) or
413 (an answer larger than a task can hold). `tasks/next` hands out the best task the caller may
take, and `admin/*` gives administrators the team's figures (docs/review-team.md). Every answer
carries `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError

from hitl_aws.gold_manifest import read_gold_lines
from hitl_aws.review_task_table import BadPageToken, ReviewTaskTable
from hitl_aws.s3_uri import parse_s3_uri
from hitl_core import gold_tasks, review_budget, review_tasks
from hitl_core.events import put_events_entry
from hitl_core.manifest import IOU_MATCH
from hitl_core.review_tasks import AnswerInvalid, ReviewTask, TaskRefused, TaskStatus, WorkerIdentity
from hitl_core.review_team_summary import reviewer_rows, rows_csv
from hitl_review_service.settings import ApiSettings
from hitl_review_service.task_store import Clock, TaskNotFound, TaskStore, utc_now

SERVICE = "review-api"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_ANSWER_BOXES = 1_000
"""Boxes in one answer. A task item (its input, up to three answers, its audit trail) must stay under
DynamoDB's 400 KB; a box takes some 60 bytes there, so three full answers fit beside the input."""
MAX_ANSWER_BODY_BYTES = 128 * 1024
"""An answer's request body: room for MAX_ANSWER_BOXES boxes with long labels, and no more."""
ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"
"""DynamoDB's ValidationException message for a write over its 400 KB item limit."""
_ETAG = re.compile(r"[0-9a-f]{32}(-[0-9]+)?")
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
BUDGET_HEADER = "X-Review-Budget"
MAX_SKIPPED = 500
"""Names a `tasks/next` body may list as skipped in one session."""
DEFAULT_SUMMARY_HOURS = 24
MAX_SUMMARY_HOURS = 24 * 14

logger = Logger(service=SERVICE)
app = APIGatewayHttpResolver()


class BadRequest(ValueError):
    """A request the API cannot read (query, body or token)."""


class NotAdmin(PermissionError):
    """A route for administrators called by someone outside the admin group."""


class AnswerTooLarge(ValueError):
    """An answer larger than a task can hold; the task is unchanged and still takes a smaller one."""


@dataclass(frozen=True)
class Caller:
    """The signed-in user, from the JWT authorizer's claims."""

    sub: str
    issuer: str
    groups: frozenset[str]
    email: str | None = None
    username: str | None = None

    def identity(self) -> WorkerIdentity:
        return WorkerIdentity(sub=self.sub, issuer=self.issuer)

    @property
    def shown_name(self) -> str | None:
        """The name people know the caller by: the e-mail, else the user name."""
        return self.email or self.username


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` as the HTTP API's JWT authorizer passes it (`"[a b]"`), or as a JSON list."""
    if value is None:
        return frozenset()
    if isinstance(value, list):
        return frozenset(str(group) for group in value)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return frozenset(str(group) for group in parsed)
        text = text[1:-1]
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_event(event: dict[str, Any]) -> Caller | None:
    """The caller named by `requestContext.authorizer.jwt.claims`, None when there is no subject."""
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        return None
    return Caller(
        sub=str(sub),
        issuer=str(claims.get("iss", "")),
        groups=parse_groups(claims.get("cognito:groups")),
        email=claims.get("email"),
        username=claims.get("cognito:username") or claims.get("name") or claims.get("username"),
    )


@dataclass(frozen=True)
class ApiDependencies:
    settings: ApiSettings
    store: TaskStore
    s3: Any
    events: Any = None
    gold_problem: str | None = None
    """Why gold tasks are off although configured (a manifest that could not be read or was refused)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], clock: Clock = utc_now) -> ApiDependencies:
        """Settings and clients for the deployed environment (`clock`: the time rules are applied at);
        the gold manifest, when configured, is read once here. A bad one turns gold tasks off, said in
        an error log and the team overview, and reviewers go on with the other tasks."""
        settings = ApiSettings.from_env(environ)
        table = ReviewTaskTable(boto3.client("dynamodb"), settings.table_name)
        s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
        budget = settings.team.budget.budget()
        gold = settings.team.gold
        lines, problem = _gold_lines(s3, gold.manifest) if gold and gold.manifest else ([], None)
        rule = gold.rule(IOU_MATCH) if gold else None
        store = TaskStore(table, settings.timing, clock, budget, rule, lines, settings.team.priority.rule())
        events = boto3.client("events") if settings.event_bus_name else None
        return cls(settings, store, s3, events, problem)


def _gold_lines(s3: Any, where: str) -> tuple[list[gold_tasks.GoldLine], str | None]:
    """A gold manifest's lines from an s3:// URI, each image under its folder (all the API's role may
    presign), or from a local path (the local stack's); none, and why, when it cannot be used."""
    try:
        if not where.startswith("s3://"):
            return gold_tasks.gold_lines(Path(where).read_text(encoding="utf-8")), None
        lines = read_gold_lines(s3, where)
    except (OSError, ValueError, ClientError) as err:
        problem = f"{where}: {err}"
        logger.error("gold tasks are off: the gold manifest was refused", extra={"problem": problem})
        return [], problem
    return lines, None


@cache
def dependencies() -> ApiDependencies:
    """Built once per execution environment, from the function's environment."""
    return ApiDependencies.from_env(os.environ)


def _error(status: HTTPStatus, message: str) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": message}),
        headers=dict(SAFE_HEADERS),
    )


def _ok(body: dict[str, Any]) -> Response:
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=dict(SAFE_HEADERS),
    )


def require_reviewer(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    """Every route: a signed-in caller in the reviewers or the admin group."""
    caller = caller_from_event(app.current_event.raw_event)
    if caller is None:
        return _error(HTTPStatus.UNAUTHORIZED, "no signed-in user in the request")
    settings = dependencies().settings
    if not caller.groups & {settings.reviewer_group, settings.admin_group}:
        return _error(
            HTTPStatus.FORBIDDEN,
            f"only members of {settings.reviewer_group} or {settings.admin_group} may review",
        )
    app.append_context(caller=caller)
    return next_middleware(app)


app.use(middlewares=[require_reviewer])


def _caller() -> Caller:
    return app.context["caller"]


def _title(content: dict[str, Any]) -> str:
    task_object = content.get("taskObject")
    return str(task_object).rsplit("/", 1)[-1] if task_object else ""


def task_summary(task: ReviewTask, caller: Caller, now: datetime, timing: review_tasks.ReviewTiming) -> dict:
    """A task as the list shows it."""
    holder = task.lease_holder(now)
    return {
        "name": task.loop_name,
        "title": _title(task.input),
        "status": str(task.status),
        "createdAt": task.created_at,
        "expiresAt": review_tasks.iso_millis(task.expires_at(timing)),
        "leaseOwner": holder,
        "leaseExpiresAt": task.lease_expires_at if holder else None,
        "claimedBy": (task.lease_owner_name or holder) if holder and holder != caller.sub else None,
        "priority": task.priority,
        "claimedByYou": holder == caller.sub,
        "answeredByYou": task.answered_by(caller.sub),
        "answerCount": len(task.answers),
        "taskCount": timing.task_count,
    }


def task_view(task: ReviewTask, caller: Caller, now: datetime, deps: ApiDependencies) -> dict[str, Any]:
    """A task as opening it shows it: its InputContent too (and the audit trail for administrators)."""
    view = task_summary(task, caller, now, deps.settings.timing)
    view.update(
        inputContent=task.input,
        failureCode=task.failure_code,
        failureReason=task.failure_reason,
        updatedAt=task.updated_at,
    )
    if task.status is TaskStatus.COMPLETED:
        view["answers"] = [
            {
                "boundingBoxes": review_tasks.answer_boxes(a),
                "submissionTime": a.get("submissionTime"),
                "byYou": a.get("workerId") == caller.sub,
            }
            for a in task.answers
        ]
    if deps.settings.admin_group in caller.groups:
        view["audit"] = list(task.audit)
    return view


def _status_param(value: str | None) -> TaskStatus:
    try:
        return TaskStatus(value or TaskStatus.IN_PROGRESS)
    except ValueError:
        allowed = ", ".join(status.value for status in TaskStatus)
        raise BadRequest(f"status must be one of {allowed}, got {value!r}") from None


def _limit_param(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}, got {value!r}")
    return int(value)


@app.get("/tasks")
def list_tasks() -> Response:
    """Tasks in one status (open ones by default), oldest first for open ones, newest first otherwise."""
    params = app.current_event.query_string_parameters or {}
    status = _status_param(params.get("status"))
    deps = dependencies()
    try:
        page = deps.store.page(
            status,
            limit=_limit_param(params.get("limit")),
            next_token=params.get("nextToken"),
            newest_first=status is not TaskStatus.IN_PROGRESS,
        )
    except BadPageToken as err:
        raise BadRequest(str(err)) from None
    now = deps.store.now()
    caller = _caller()
    return _ok(
        {
            "tasks": [task_summary(t, caller, now, deps.settings.timing) for t in page.tasks],
            "nextToken": page.next_token,
        }
    )


@app.get("/tasks/<name>")
def get_task(name: str) -> Response:
    """One task with a short-lived GET URL for its image."""
    deps = dependencies()
    return _ok(_opened(deps, deps.store.get(name)))


def _opened(deps: ApiDependencies, task: ReviewTask) -> dict[str, Any]:
    view = task_view(task, _caller(), deps.store.now(), deps)
    view["imageUrl"] = _image_url(deps, task)
    view["imageUrlExpiresIn"] = deps.settings.image_url_ttl_seconds
    return view


@app.post("/tasks/next")
def next_task() -> Response:
    """Claim the best task the caller may take (as `GET tasks/{name}` shows it), or 204 when none is
    (with `X-Review-Budget: spent` when the budget is why). Body: optional `{"skip": [names]}`."""
    skip = _skip_param(_json_body() if app.current_event.body else {})
    deps = dependencies()
    caller = _caller()
    served = deps.store.next(caller.sub, caller.shown_name, skip)
    if served.task is None:
        headers = dict(SAFE_HEADERS) | ({BUDGET_HEADER: "spent"} if served.budget_spent else {})
        logger.info("nothing to serve", extra={"budget_spent": served.budget_spent})
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="", headers=headers)
    logger.info("task served", extra={"loop_name": served.task.loop_name})
    return _ok(_opened(deps, served.task))


def _skip_param(body: Any) -> list[str]:
    skip = body.get("skip", []) if isinstance(body, dict) else None
    if not isinstance(skip, list) or not all(isinstance(n, str) for n in skip) or len(skip) > MAX_SKIPPED:
        raise BadRequest(f'the body must be {{"skip": [task names]}} with at most {MAX_SKIPPED} names')
    return skip


def _image_url(deps: ApiDependencies, task: ReviewTask) -> str | None:
    """A GET of the exact upload the task was created for: a later upload of the key is another task."""
    task_object = task.input.get("taskObject")
    try:
        bucket, key = parse_s3_uri(str(task_object))
    except ValueError:
        logger.warning("task object is not an s3 URI", extra={"loop_name": task.loop_name})
        return None
    params = {"Bucket": bucket, "Key": key}
    version = _version_id(task.input.get("source"), bucket, key)
    if version:
        params["VersionId"] = version
    return deps.s3.generate_presigned_url(
        "get_object", Params=params, ExpiresIn=deps.settings.image_url_ttl_seconds
    )


def _version_id(source: Any, bucket: str, key: str) -> str | None:
    """The S3 version id InputContent's `source` names for the task object; None for an unversioned
    bucket's upload, whose `version` is its ETag (which a GET URL cannot name)."""
    if not isinstance(source, dict) or (source.get("bucket"), source.get("key")) != (bucket, key):
        return None
    version = source.get("version")
    if not isinstance(version, str) or not version or _ETAG.fullmatch(version):
        return None
    return version


def _changed(operation: Callable[[TaskStore, Caller], ReviewTask]) -> Response:
    deps = dependencies()
    caller = _caller()
    task = operation(deps.store, caller)
    logger.info("task changed", extra={"loop_name": task.loop_name, "action": task.audit[-1]["action"]})
    return _ok(task_view(task, caller, deps.store.now(), deps))


@app.post("/tasks/<name>/claim")
def claim_task(name: str) -> Response:
    """Take the lease (or renew one's own); 409 while another reviewer holds it."""
    return _changed(lambda store, caller: store.claim(name, caller.sub, caller.shown_name))


@app.post("/tasks/<name>/release")
def release_task(name: str) -> Response:
    """Give one's lease back."""
    return _changed(lambda store, caller: store.release(name, caller.sub))


@app.post("/tasks/<name>/answer")
def answer_task(name: str) -> Response:
    """Submit the lease holder's answer; the task completes once enough reviewers answered."""
    size = len(app.current_event.decoded_body or "")
    if size > MAX_ANSWER_BODY_BYTES:
        raise AnswerTooLarge(
            f"the answer is {size:,} bytes; an answer may be at most {MAX_ANSWER_BODY_BYTES:,} bytes "
            f"and hold at most {MAX_ANSWER_BOXES:,} boxes"
        )
    submission = review_tasks.parse_submission(_json_body(), review_tasks.AnswerSubmission)
    boxes = len(submission.answer_content.annotated_result.bounding_boxes)
    if boxes > MAX_ANSWER_BOXES:
        raise AnswerInvalid(f"the answer has {boxes:,} boxes; an answer holds at most {MAX_ANSWER_BOXES:,}")

    def build(store: TaskStore, caller: Caller) -> ReviewTask:
        answered = store.answer(
            name,
            lambda task, now: review_tasks.build_human_answer(submission, task.input, caller.identity(), now),
        )
        if answered.gold is not None:
            _report_gold_standing(answered, caller.sub)
        return answered

    try:
        answered = _changed(build)
    except ClientError as err:
        if err.response.get("Error", {}).get("Message") != ITEM_TOO_LARGE:
            raise
        raise AnswerTooLarge(
            f"the task cannot hold this answer beside its input and earlier answers (DynamoDB's 400 KB "
            f"item limit); send fewer boxes (at most {MAX_ANSWER_BOXES:,})"
        ) from None
    return answered


def _report_gold_standing(task: ReviewTask, reviewer: str) -> None:
    """After a gold answer: the reviewer's mean gold score below the threshold raises an event."""
    deps = dependencies()
    rule = deps.store.gold
    if rule is None:
        return
    detail = rule.low_score(reviewer, deps.store.gold_standing(reviewer), task.updated_at)
    if detail is None:
        return
    logger.warning("gold score below the threshold", extra=detail.model_dump())
    if deps.events is not None and deps.settings.event_bus_name:
        deps.events.put_events(Entries=[put_events_entry(detail, deps.settings.event_bus_name)])


@app.post("/tasks/<name>/stop")
def stop_task(name: str) -> Response:
    """End an open task as Stopped; administrators only."""
    admin_group = dependencies().settings.admin_group
    if admin_group not in _caller().groups:
        return _error(HTTPStatus.FORBIDDEN, f"only members of {admin_group} may stop a task")
    return _changed(lambda store, caller: store.stop(name, caller.sub))


def _require_admin(action: str) -> None:
    admin_group = dependencies().settings.admin_group
    if admin_group not in _caller().groups:
        raise NotAdmin(f"only members of {admin_group} may {action}")


@app.post("/admin/tasks/<name>/release")
def admin_release_task(name: str) -> Response:
    """Give back anyone's lease (a reviewer who left); administrators only."""
    _require_admin("release another reviewer's task")
    return _changed(lambda store, caller: store.admin_release(name, caller.sub))


@app.get("/admin/summary")
def admin_summary() -> Response:
    """The queue, the budget and per-reviewer figures over the last `hours` (default 24)."""
    _require_admin("see the team's summary")
    deps = dependencies()
    store, now = deps.store, deps.store.now()
    open_count, claimed = store.records.queue_counts(review_tasks.iso_millis(now))
    budget = store.budget
    used = store.records.counters([review_budget.hour_key(now), review_budget.day_key(now)])
    return _ok(
        {
            "queue": {"open": open_count, "claimed": claimed, "oldestCreatedAt": store.records.oldest_open()},
            "budget": {
                "hour": {"used": used[review_budget.hour_key(now)], "limit": budget.per_hour},
                "day": {"used": used[review_budget.day_key(now)], "limit": budget.per_day},
                "perReviewerDay": budget.per_reviewer_day,
            },
            "reviewers": _reviewer_rows(deps, now),
            "gold": {"lines": len(store.gold_lines), "problem": deps.gold_problem},
        }
    )


@app.get("/admin/summary.csv")
def admin_summary_csv() -> Response:
    """The reviewers' table of `admin/summary` as CSV."""
    _require_admin("see the team's summary")
    deps = dependencies()
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type="text/csv; charset=utf-8",
        body=rows_csv(_reviewer_rows(deps, deps.store.now())),
        headers=dict(SAFE_HEADERS) | {"Content-Disposition": 'attachment; filename="review-team.csv"'},
    )


def _reviewer_rows(deps: ApiDependencies, now: datetime) -> list[dict[str, Any]]:
    raw = (app.current_event.query_string_parameters or {}).get("hours")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= MAX_SUMMARY_HOURS):
        raise BadRequest(f"hours must be a whole number from 1 to {MAX_SUMMARY_HOURS}, got {raw!r}")
    since = now - timedelta(hours=int(raw or DEFAULT_SUMMARY_HOURS))
    created_since = since - timedelta(seconds=deps.settings.timing.availability_seconds)
    tasks = list(deps.store.records.since(TaskStatus.COMPLETED, review_tasks.iso_millis(created_since)))
    tasks += list(deps.store.records.since(TaskStatus.IN_PROGRESS, review_tasks.iso_millis(created_since)))
    reviewers = {str(a["workerId"]) for t in tasks for a in t.answers}
    gold = {r: deps.store.gold_standing(r) for r in sorted(reviewers)} if deps.store.gold else {}
    names = deps.store.reviewer_names(sorted(reviewers | set(gold)))
    return reviewer_rows(tasks, {r: g for r, g in gold.items() if g[0]}, since, now, names)


def _json_body() -> Any:
    try:
        return app.current_event.json_body
    except ValueError:
        raise BadRequest("the body is not JSON") from None


@app.exception_handler(BadRequest)
def _bad_request(err: BadRequest) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, str(err))


@app.exception_handler(NotAdmin)
def _not_admin(err: NotAdmin) -> Response:
    return _error(HTTPStatus.FORBIDDEN, str(err))


@app.exception_handler(AnswerTooLarge)
def _too_large(err: AnswerTooLarge) -> Response:
    return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(err))


@app.exception_handler(AnswerInvalid)
def _invalid_answer(err: AnswerInvalid) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, str(err))


@app.exception_handler(TaskNotFound)
def _not_found(err: TaskNotFound) -> Response:
    return _error(HTTPStatus.NOT_FOUND, str(err))


@app.exception_handler(TaskRefused)
def _refused(err: TaskRefused) -> Response:
    return _error(HTTPStatus.CONFLICT, str(err))


@app.not_found
def _no_route(_: Exception) -> Response:
    return _error(HTTPStatus.NOT_FOUND, "no such route")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
