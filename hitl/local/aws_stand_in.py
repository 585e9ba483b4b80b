"""`python -m hitl.local.aws_stand_in NAME FD [STATE_FILE]`: moto (S3, SQS, EventBridge, DynamoDB) in
a process of its own, served on the listening socket FD that the stack bound for it; `[NAME] ready`
on stderr says it serves. With STATE_FILE its state outlives it (`hitl.local.aws_state`).

Two changes make moto answer as AWS where a user sees it: object keys exactly as put (moto gets
cheroot's raw request URI, `MotoApplication`), and a multipart upload announced once, as
CompleteMultipartUpload (moto also announces the put and the tagging it completes with, so one
upload by the aws CLI became two Object Created events; `announce_as_s3`).

A process of its own, so moto's Python and the detector's do not take turns on one interpreter
lock. Five changes to moto's server keep its answers and cut what they cost under load:

- the backend for a request's host is looked up once per host; moto lists its package folder
  (some 200 `isdir` calls, under a lock) on every request;
- a response class's method names are listed once, and each CamelCase name is converted to
  snake_case once; moto repeats both (with `inspect.getmembers`, and a loop that raises an
  IndexError at each name's end) for every action it dispatches and every queue attribute;
- the JSONPath expressions of an EventBridge target's input template are compiled once; moto
  builds a parser (with ply) for each of its default template's eight paths on every delivery;
- SQS's retention check on a received message reads the queue's retention period; moto computes
  every attribute of the queue for it, counting the queue's messages, so a receive cost grew
  with the messages received times the queue's depth;
- SQS reads the clock with `time.time()`; moto's `unix_time` builds two datetimes and subtracts
  them, and SQS asks it for every message of the queue on each send and receive (a message's
  visibility), some 20 times slower at a depth of 140 messages.

And one makes DynamoDB's writes atomic as AWS's are (`serialize_dynamodb_writes`): moto reads the
item, checks the condition and writes with no lock, so two threads' conditional writes of the
same version could both succeed (two reviewers served one task).
"""

from __future__ import annotations

import functools
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonpath_ng.ext
import moto.core.responses
import moto.s3.notifications
import moto.sqs.models
from moto.core.utils import unix_time as moto_unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import S3Backend
from moto.s3.notifications import S3NotificationEvent
from moto.sqs.models import Message, SQSBackend

from hitl.local.aws_state import StateUnreadable, restore_state, save_state
from hitl.local.servers import ListeningServer
from hitl.local.worker import exit_when_parent_goes

THREADS = 64
"""Requests at once: every function worker, the review outbox and `hitl local` clients may each
hold one in an SQS long poll, and the calls of the functions' batches need threads beside them."""
CACHE_SIZE = 1024


class MotoApplication(DomainDispatcherApplication):
    """moto's dispatcher (a request's service from its host or signature), given the raw request URI
    cheroot keeps, with the backend for each host looked up once."""

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backend_for_host: dict[str | None, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """moto reads the undecoded path from werkzeug's `RAW_URI`; cheroot names it `REQUEST_URI`.
        Without it moto decodes the decoded path again, and a key with `%xx`, `?` or `#` changes."""
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        return super().__call__(environ, start_response)

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backend_for_host:
            self._backend_for_host[host] = super().get_backend_for_host(host)
        return self._backend_for_host[host]


def unix_time(moment: datetime | None = None) -> float:
    """Seconds since the epoch: now by `time.time()`, a given moment as moto computes it."""
    return time.time() if moment is None else moto_unix_time(moment)


def unix_time_millis(moment: datetime | None = None) -> float:
    return unix_time(moment) * 1000.0


def retention_check_by_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """Whether `message` is still within its queue's retention period (as moto's own check)."""
    retention_seconds = self.get_queue(queue_name).message_retention_period
    return bool(retention_seconds + message.sent_timestamp / 1000 > unix_time())


_completing_upload = threading.local()
_moto_send_event = moto.s3.notifications.send_event
_moto_complete_multipart_upload = S3Backend.complete_multipart_upload


def complete_multipart_upload(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
    """moto's completion, announced as S3 announces it: once, as CompleteMultipartUpload."""
    _completing_upload.active = True
    try:
        return _moto_complete_multipart_upload(self, *args, **kwargs)
    finally:
        _completing_upload.active = False


def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    """moto's S3 notification, except the put and tagging events moto adds to a multipart completion."""
    completing = getattr(_completing_upload, "active", False)
    if not completing or event_name == S3NotificationEvent.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT:
        _moto_send_event(account_id, event_name, bucket, key)


def _replace(owner: ModuleType | type, name: str, replacement: Callable[..., Any]) -> None:
    """Put `replacement` in place of the module's function or the class's method `name`."""
    if not callable(getattr(owner, name, None)):
        raise RuntimeError(f"{owner.__name__} has no {name} to replace: check the moto pin")
    setattr(owner, name, replacement)


def _memoize(module: ModuleType, name: str) -> None:
    """Answer a pure function's repeated calls from a cache (once per process)."""
    function = getattr(module, name, None)
    if not hasattr(function, "cache_info"):
        _replace(module, name, functools.lru_cache(maxsize=CACHE_SIZE)(function))  # type: ignore[arg-type]


DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_dynamodb_write_lock = threading.RLock()


def _one_write_at_a_time(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_write_lock:
            return write(*args, **kwargs)

    locked.one_at_a_time = True  # type: ignore[attr-defined]
    return locked


def serialize_dynamodb_writes() -> None:
    """Each DynamoDB write (its condition check and its change) runs alone, as one atomic write."""
    for name in DYNAMODB_WRITES:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, "one_at_a_time", False):
            _replace(DynamoDBBackend, name, _one_write_at_a_time(write))


def speed_up_moto() -> None:
    """Apply the changes the module lists; each keeps moto's answers."""
    _memoize(moto.core.responses, "method_names_from_class")
    _memoize(moto.core.responses, "camelcase_to_underscores")
    _memoize(moto.sqs.models, "camelcase_to_underscores")
    _memoize(jsonpath_ng.ext, "parse")
    _replace(moto.sqs.models, "unix_time", unix_time)
    _replace(moto.sqs.models, "unix_time_millis", unix_time_millis)
    _replace(SQSBackend, "is_message_valid_based_on_retention_period", retention_check_by_period)


def announce_as_s3() -> None:
    """Send S3's notifications as S3 sends them (a multipart upload's completion once, not three times)."""
    _replace(moto.s3.notifications, "send_event", send_event)
    _replace(S3Backend, "complete_multipart_upload", complete_multipart_upload)


def main(argv: list[str]) -> int:
    """Serve moto on the inherited socket until the parent stack closes our stdin; with STATE_FILE,
    start from the state saved there and save the state there on the way out."""
    if len(argv) not in (2, 3) or not argv[1].isdigit():
        print("usage: python -m hitl.local.aws_stand_in NAME FD [STATE_FILE]", file=sys.stderr)
        return 2
    name, fd = argv[0], int(argv[1])
    state_file = Path(argv[2]) if len(argv) == 3 else None
    if state_file is not None:
        try:
            if restore_state(state_file):
                print(f"[{name}] state restored from {state_file}", file=sys.stderr, flush=True)
        except StateUnreadable as err:
            print(f"[{name}] {err}; move it away to start empty", file=sys.stderr, flush=True)
            return 1
    speed_up_moto()
    serialize_dynamodb_writes()
    announce_as_s3()
    server = ListeningServer(MotoApplication(), socket.socket(fileno=fd), THREADS)
    server.prepare()
    threading.Thread(target=exit_when_parent_goes, args=(server.stop,), daemon=True).start()
    print(f"[{name}] ready", file=sys.stderr, flush=True)
    server.serve()
    if state_file is not None:
        save_state(state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
