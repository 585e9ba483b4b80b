"""Feed a DynamoDB table's stream into a Lambda handler, as Lambda's DynamoDB event source does.

Records are read in order from each shard, handed over in batches in the event shape Lambda
passes, and checkpointed after the handler returns. With partial batch responses, a batch that
reports failures is retried from the first failed record (the ones before it are done), after a
back-off, until it succeeds: a status change is never skipped. With a checkpoint file, the
position outlives the process, as the event source mapping's does: a restarted stack carries on
after the last record handled instead of reading the stream again from its start.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitl.local.worker import REGION, Handler, LocalLambdaContext

CHECKPOINT_FILE = "HITL_LOCAL_STREAM_CHECKPOINT"
"""The environment variable naming the file a stream poller keeps its position in (unset: memory)."""
BATCH_SIZE = 100
POLL_SECONDS = 0.5
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record (from GetRecords) as Lambda hands it to the function."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", REGION),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def first_failure(response: Any, records: list[dict[str, Any]]) -> int | None:
    """Index of the first record to retry from, None when the whole batch succeeded.

    As Lambda reads `batchItemFailures` for streams: the lowest reported sequence number; a
    response it cannot read (or that names an unknown record) fails the whole batch.
    """
    if response is None:
        return None
    numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
    try:
        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    except (KeyError, TypeError):
        return 0
    if not failed:
        return None
    if any(number not in numbers for number in failed):
        return 0
    return min(numbers.index(number) for number in failed)


@dataclass
class ShardReader:
    """One shard's position: the iterator to read from next."""

    shard_id: str
    iterator: str | None
    retry_delay: float
    pending: list[dict[str, Any]] = field(default_factory=list)
    retry_at: float = 0.0


class ShardCheckpoints:
    """The last sequence number handled in each shard of one stream, kept in `path` (or in memory)."""

    def __init__(self, stream_arn: str, path: Path | None) -> None:
        self._arn = stream_arn
        self._path = path
        self._after: dict[str, str] = {}
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            if saved.get("stream") == stream_arn:
                self._after = dict(saved["shards"])

    def after(self, shard_id: str) -> str | None:
        return self._after.get(shard_id)

    def handled(self, shard_id: str, sequence_number: str) -> None:
        self._after[shard_id] = sequence_number
        if self._path is not None:
            partial = self._path.with_name(self._path.name + ".partial")
            partial.write_text(json.dumps({"stream": self._arn, "shards": self._after}))
            os.replace(partial, self._path)


class StreamPoller:
    """Reads every shard of `stream_arn` from its start (or its checkpoint) and feeds the handler
    until stopped."""

    def __init__(
        self,
        handler: Handler,
        streams: Any,
        stream_arn: str,
        function_name: str,
        on_line: Callable[[str], None],
        timeout_seconds: int = 60,
        first_retry_seconds: float = RETRY_FIRST_SECONDS,
        checkpoint: Path | None = None,
    ) -> None:
        self._handler = handler
        self._streams = streams
        self._arn = stream_arn
        self._function_name = function_name
        self._say = on_line
        self._timeout = timeout_seconds
        self._first_retry = first_retry_seconds
        self._shards: dict[str, ShardReader] = {}
        self._checkpoints = ShardCheckpoints(stream_arn, checkpoint)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            if not self.poll_once():
                self._stop.wait(POLL_SECONDS)

    def _discover(self) -> None:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self._shards:
                after = self._checkpoints.after(shard["ShardId"])
                start = (
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                )
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard["ShardId"], **start
                )["ShardIterator"]
                self._shards[shard["ShardId"]] = ShardReader(shard["ShardId"], iterator, self._first_retry)

    def poll_once(self) -> bool:
        """One pass over the shards; True when a batch was handed to the function."""
        self._discover()
        worked = False
        for shard in self._shards.values():
            if shard.pending and time.monotonic() < shard.retry_at:
                continue
            if not shard.pending and shard.iterator:
                page = self._streams.get_records(ShardIterator=shard.iterator, Limit=BATCH_SIZE)
                shard.iterator = page.get("NextShardIterator")
                shard.pending = [lambda_record(record, self._arn) for record in page["Records"]]
            if shard.pending:
                self._deliver(shard)
                worked = True
        return worked

    def _deliver(self, shard: ShardReader) -> None:
        batch = shard.pending
        context = LocalLambdaContext(self._function_name, self._timeout)
        try:
            failed_from = first_failure(self._handler({"Records": batch}, context), batch)
            error = None
        except Exception:
            failed_from, error = 0, traceback.format_exc(limit=5)
        handled = batch if failed_from is None else batch[:failed_from]
        if handled:
            self._checkpoints.handled(shard.shard_id, handled[-1]["dynamodb"]["SequenceNumber"])
        if failed_from is None:
            shard.pending = []
            shard.retry_delay = self._first_retry
            self._say(f"[{self._function_name}] batch of {len(batch)} stream records: done")
            return
        shard.pending = batch[failed_from:]
        shard.retry_at = time.monotonic() + shard.retry_delay
        line = (
            f"[{self._function_name}] batch of {len(batch)} stream records: {failed_from} done, "
            f"{len(shard.pending)} retried in {shard.retry_delay:.0f} s"
        )
        shard.retry_delay = min(shard.retry_delay * 2, RETRY_MAX_SECONDS)
        self._say(line + (f"; the handler raised:\n{error.rstrip()}" if error else ""))
