"""The review page: what A2I's worker portal gives a reviewer, served on loopback by the local stack.

A task list, a bounding-box task page, and the answer passed on to the local A2I runtime.
Everything the browser loads comes from this app (no outside scripts, styles or fonts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, url_for

from hitl.local.a2i.loops import HumanLoopStatus
from hitl.local.review_app_files import REVIEW_APP_DIR
from hitl.local.review_page.images import ImageBytes, ImageUnavailable, TaskImages
from hitl.local.review_page.runtime_client import AnswerRefused, Loop, RuntimeClient, RuntimeUnavailable
from hitl.local.review_page.task_view import editor_data, task_row, title

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
    runtime = RuntimeClient(a2i_url)
    images = TaskImages(s3_client)

    def open_loop(name: str) -> Loop:
        loop = runtime.loop(name)
        if loop is None:
            abort(404, description=f"There is no task named {name}.")
        return loop

    def next_pending(after: str) -> Loop | None:
        return next((loop for loop in runtime.loops(HumanLoopStatus.IN_PROGRESS) if loop.name != after), None)

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
    def task_page(name: str) -> str | tuple[str, int]:
        loop = open_loop(name)
        if loop.status != HumanLoopStatus.IN_PROGRESS:
            heading = title(loop.input_content)
            text = f"This task is {loop.status}: there is nothing left to review here."
            return render_template("message.html", heading=heading, text=text), 409
        pending = runtime.loops(HumanLoopStatus.IN_PROGRESS)
        editor = editor_data(
            loop,
            image_url=url_for("image", name=name),
            submit_url=url_for("submit_answer", name=name),
        )
        return render_template(
            "task.html",
            task={"name": name, "title": title(loop.input_content)},
            editor=editor,
            pending_count=len(pending),
        )

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
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
            return jsonify(error="answers are taken from this page only"), 403
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return jsonify(error="send the answer as a JSON object"), 415
        submission = {key: body[key] for key in ANSWER_FIELDS if key in body}
        try:
            runtime.submit(name, {**submission, "workerId": worker_id})
        except AnswerRefused as refused:
            return jsonify(error=str(refused)), refused.status
        following = next_pending(name)
        target = url_for("task_page", name=following.name) if following else url_for("task_list")
        return jsonify(next=target, nextTask=following.name if following else None), 200

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
