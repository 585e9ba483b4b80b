"""`python -m hitl.local.review_service FUNCTION [ARG]`: one of the built-in review service's
functions in a process of its own whose environment is the function's, as the queue workers run
theirs:

- `review-api FD`: the review site (static app, sign-in stand-in, the API behind the local JWT
  authorizer) on the listening socket FD that the stack bound for it;
- `review-outbox`: the task table's stream fed to the outbox, as Lambda's event source does (with
  failures injected when `HITL_LOCAL_OUTBOX_FAILURE_FRACTION` is set);
- `review-lifecycle SECONDS`: the lifecycle sweep every SECONDS, as the schedule runs it.
- `a2i-loop-starter SECONDS`: with review backend `a2i` and a review budget, the loop starter every
  SECONDS (`hitl_ingest.loop_starter`), as its schedule runs it.
"""

from __future__ import annotations

import contextlib
import os
import pkgutil
import socket
import sys
import threading
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from hitl.local.review_app_files import REVIEW_APP_DIR
from hitl.local.review_service.faults import with_injected_failures
from hitl.local.review_service.site import (
    API_ENVIRONMENTS,
    DEFAULT_API_ENVIRONMENTS,
    SIGN_IN_SECRET,
    SITE_URL,
    TOKEN_LIFETIME,
    create_review_site,
    sign_in_url,
)
from hitl.local.review_service.streams import CHECKPOINT_FILE, StreamPoller
from hitl.local.review_service.tokens import TOKEN_LIFETIME_SECONDS, LocalTokens
from hitl.local.servers import ListeningServer
from hitl.local.worker import (
    ACCOUNT,
    REGION,
    Handler,
    LocalLambdaContext,
    exit_when_parent_goes,
    write_whole_lines,
)

TASKS_TABLE = "REVIEW_TASKS_TABLE"
HANDLERS = {
    "review-api": "hitl_review_service.api:handler",
    "review-outbox": "hitl_review_service.outbox:handler",
    "review-lifecycle": "hitl_review_service.lifecycle:handler",
    "a2i-loop-starter": "hitl_ingest.loop_starter:handler",
}
ARITY = {"review-api": 2, "review-outbox": 1, "review-lifecycle": 2, "a2i-loop-starter": 2}
USAGE = (
    "usage: python -m hitl.local.review_service "
    "{review-api FD | review-outbox | review-lifecycle SECONDS | a2i-loop-starter SECONDS}"
)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """The event an EventBridge schedule delivers to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


class SiteServer:
    """The review site served on an already listening socket until stopped."""

    def __init__(self, handler: Handler, fd: int) -> None:
        site_url = os.environ[SITE_URL]
        tokens = LocalTokens(
            bytes.fromhex(os.environ[SIGN_IN_SECRET]),
            sign_in_url(site_url),
            lifetime_seconds=int(os.environ.get(TOKEN_LIFETIME, TOKEN_LIFETIME_SECONDS)),
        )
        image_origin = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ["AWS_ENDPOINT_URL"]
        environments = int(os.environ.get(API_ENVIRONMENTS) or DEFAULT_API_ENVIRONMENTS)
        app = create_review_site(REVIEW_APP_DIR, site_url, tokens, handler, image_origin, environments)
        self._server = ListeningServer(app, socket.socket(fileno=fd))
        self._server.prepare()

    def run(self) -> None:
        self._server.serve()

    def stop(self) -> None:
        self._server.stop()


class Sweeper:
    """Calls the lifecycle handler with a scheduled event every `seconds` until stopped."""

    def __init__(self, handler: Handler, function: str, seconds: float) -> None:
        self._handler = handler
        self._function = function
        self._seconds = seconds
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._handler(
                    scheduled_event(f"{self._function}-schedule"), LocalLambdaContext(self._function, 60)
                )
            except Exception:
                say(f"[{self._function}] the sweep raised:\n{traceback.format_exc(limit=5).rstrip()}")

    def stop(self) -> None:
        self._stop.set()


def stream_poller(handler: Handler, function: str) -> StreamPoller:
    table = boto3.client("dynamodb").describe_table(TableName=os.environ[TASKS_TABLE])["Table"]
    checkpoint = Path(os.environ[CHECKPOINT_FILE]) if os.environ.get(CHECKPOINT_FILE) else None
    return StreamPoller(
        handler,
        boto3.client("dynamodbstreams"),
        table["LatestStreamArn"],
        function,
        say,
        checkpoint=checkpoint,
    )


def main(argv: list[str]) -> int:
    """Run one function of the service until interrupted or the parent stack exits."""
    function = argv[0] if argv else ""
    if function not in HANDLERS or len(argv) != ARITY[function]:
        print(USAGE, file=sys.stderr)
        return 2
    write_whole_lines()
    handler = pkgutil.resolve_name(HANDLERS[function])
    runner: SiteServer | StreamPoller | Sweeper
    if function == "review-api":
        runner = SiteServer(handler, int(argv[1]))
    elif function == "review-outbox":
        runner = stream_poller(with_injected_failures(handler, function, os.environ, say), function)
    else:
        runner = Sweeper(handler, function, float(argv[1]))
    threading.Thread(target=exit_when_parent_goes, args=(runner.stop,), daemon=True).start()
    say(f"[{function}] ready")
    with contextlib.suppress(KeyboardInterrupt):
        runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
