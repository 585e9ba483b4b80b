"""The review page: what A2I's worker portal gives a reviewer, served on loopback by the local stack.

A task list, a bounding-box task page, and the answer passed on to the local A2I runtime.
Everything the browser loads comes from this app (no outside scripts, styles or fonts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader

from hitl.local.a2i.loops import HumanLoopStatus
from hitl.local.review_app_files import REVIEW_APP_DIR
from hitl.local.review_page.images import ImageBytes, ImageUnavailable, TaskImages
from hitl.local.review_page.runtime_client import AnswerRefused, Loop, RuntimeClient, RuntimeUnavailable
from hitl.local.review_page.submitted import SubmittedAnswers
from hitl.local.review_page.task_view import editor_data, following, queue_place, task_row, title

DEFAULT_WORKER_ID = "local-reviewer"
ANSWER_FIELDS = ("answerContent", "acceptanceTime", "timeSpentInSeconds")
FINISHED_SECTIONS = (
    ("Completed", {HumanLoopStatus.COMPLETED}),
    ("Stopped", {HumanLoopStatus.STOPPING, HumanLoopStatus.STOPPED}),
    ("Failed", {HumanLoopStatus.FAILED}),
)
FINISHED_SHOWN = 50
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_review_app(a2i_url: str, s3_client: Any, *, worker_id: str = DEFAULT_WORKER_ID) -> Flask:
    """The review page for the A2I runtime at `a2i_url`, reading images through `s3_client`."""
    app = Flask(__name__, static_folder=REVIEW_APP_DIR)
    # The editor's markup (`editor.html`) is the review app's: one copy for both pages.
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(REVIEW_APP_DIR)])
    runtime = RuntimeClient(a2i_url)
    images = TaskImages(s3_client)
    submitted = SubmittedAnswers(s3_client)

    def open_loop(name: str) -> Loop:
        loop = runtime.loop(name)
        if loop is None:
            abort(404, description=f"There is no task named {name}.")
        return loop

    def from_elsewhere() -> bool:
        origin = request.headers.get("Origin")
        return origin is not None and origin.rstrip("/") != request.host_url.rstrip("/")

    def pending_names() -> list[str]:
        return [loop.name for loop in runtime.loops(HumanLoopStatus.IN_PROGRESS)]

    def move_on(after: str) -> tuple[Response, int]:
        """The reply naming where the reviewer goes next: the following pending task, else the list."""
        following_name = following(after, pending_names())
        target = url_for("task_page", name=following_name) if following_name else url_for("task_list")
        return jsonify(next=target, nextTask=following_name), 200

    @app.get("/")
    def task_list() -> str:
        loops = runtime.loops()
        now = datetime.now(UTC)
        pending = [task_row(loop, now) for loop in loops if loop.status == HumanLoopStatus.IN_PROGRESS]
        finished = []
        for heading, statuses in FINISHED_SECTIONS:
            done = [task_row(loop, now) for loop in reversed(loops) if loop.status in statuses]
            if done or heading != "Failed":
                finished.append((heading, done[:FINISHED_SHOWN]))
        return render_template("tasks.html", pending=pending, finished=finished)

    @app.get("/tasks/<name>")
    def task_page(name: str) -> Response | tuple[str, int]:
        loop = open_loop(name)
        answered = submitted.boxes(loop.output_s3_uri) if loop.status == HumanLoopStatus.COMPLETED else None
        if loop.status != HumanLoopStatus.IN_PROGRESS and answered is None:
            heading = title(loop.input_content)
            text = f"This task is {loop.status}: there is nothing left to review here."
            return render_template("message.html", heading=heading, text=text), 409
        pending = pending_names()
        next_name = following(name, pending) if answered is None else None
        editor = editor_data(
            loop,
            image_url=url_for("image", name=name),
            submit_url=url_for("submit_answer", name=name),
            release_url=url_for("release_task", name=name) if answered is None else None,
            next_image_url=url_for("image", name=next_name) if next_name else None,
            submitted_boxes=answered,
        )
        page = render_template(
            "task.html",
            task={"name": name, "title": title(loop.input_content)},
            editor=editor,
            queue_place=queue_place(name, pending),
            read_only_note="Submitted: this is the answer that was recorded. It can no longer be changed."
            if answered is not None
            else None,
        )
        response = Response(page, mimetype="text/html")
        # Never restored from the browser's cache: going Back to an answered task asks again.
        response.headers["Cache-Control"] = "no-store"
        return response

    def image_response(found: ImageBytes) -> Response:
        response = Response(found.body, mimetype=found.content_type)
        response.headers["Cache-Control"] = "private, max-age=300"
        return response

    @app.get("/tasks/<name>/image")
    def image(name: str) -> Response:
        return image_response(images.original(open_loop(name).input_content["taskObject"]))

    @app.get("/tasks/<name>/thumbnail")
    def thumbnail(name: str) -> Response:
        return image_response(images.thumbnail(name, open_loop(name).input_content["taskObject"]))

    @app.post("/tasks/<name>/answer")
    def submit_answer(name: str) -> tuple[Response, int]:
        if from_elsewhere():
            return jsonify(error="answers are taken from this page only"), 403
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return jsonify(error="send the answer as a JSON object"), 415
        submission = {key: body[key] for key in ANSWER_FIELDS if key in body}
        try:
            runtime.submit(name, {**submission, "workerId": worker_id})
        except AnswerRefused as refused:
            return jsonify(error=str(refused)), refused.status
        return move_on(name)

    @app.post("/tasks/<name>/release")
    def release_task(name: str) -> tuple[Response, int]:
        """Skip: the local runtime holds no lease, so the task simply stays pending for later."""
        if from_elsewhere():
            return jsonify(error="tasks are handed back from this page only"), 403
        open_loop(name)
        return move_on(name)

    @app.get("/healthz")
    def health() -> tuple[Response, int]:
        return jsonify(status="ok"), 200

    @app.errorhandler(ImageUnavailable)
    def image_unavailable(err: ImageUnavailable) -> tuple[str, int]:
        app.logger.warning("image unavailable: %s", err)
        return "The task's image cannot be read.", 404

    @app.errorhandler(RuntimeUnavailable)
    def runtime_unavailable(err: RuntimeUnavailable) -> tuple[str, int]:
        app.logger.error("%s", err)
        text = f"The review tasks cannot be loaded right now: {err}"
        return render_template("message.html", heading="A2I runtime unavailable", text=text), 503

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return app
