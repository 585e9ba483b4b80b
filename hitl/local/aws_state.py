"""The AWS stand-in's state kept across restarts: moto's own backend objects (S3, SQS, EventBridge,
DynamoDB), pickled whole to one file when the stand-in stops and loaded before it serves again.

Pickling moto's objects keeps what a user can see: object bodies and their version ids, messages
with their receive counts and in-flight deadlines, rules and targets, items and stream records.
Nothing is replayed, so nothing is re-announced (moto's request recorder would replay every call:
new version ids, new receipts, and every replayed upload emits its S3 event again).
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import moto
from moto.backends import get_backend
from moto.s3.utils import _VersionedKeyStore

SERVICES = ("s3", "sqs", "events", "dynamodb")


class StateUnreadable(RuntimeError):
    """The state file cannot be loaded (another moto version, or damaged); names the file and why."""


def _versioned_key_store(versions: dict[str, list[Any]]) -> _VersionedKeyStore:
    store = _VersionedKeyStore()
    for key, kept in versions.items():
        store.setlist(key, kept)
    return store


class _BackendPickler(pickle.Pickler):
    """A pickler for moto's backends: a lock comes back new and free; a bucket's key store keeps
    every version of a key (its `items()` shows only the latest, which plain pickling would keep)."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[threading.Condition] = lambda _: (threading.Condition, ())
    dispatch_table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    dispatch_table[type(threading.RLock())] = lambda _: (threading.RLock, ())
    dispatch_table[_VersionedKeyStore] = lambda store: (_versioned_key_store, (dict(dict.items(store)),))


def save_state(path: Path) -> None:
    """Write every service's backends to `path`, replacing it whole (a crash mid-write keeps the old)."""
    snapshot = {"moto": moto.__version__, "backends": {service: get_backend(service) for service in SERVICES}}
    buffer = io.BytesIO()
    _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(snapshot)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(buffer.getbuffer())
    os.replace(partial, path)


def restore_state(path: Path) -> bool:
    """Load the backends saved at `path` into this process's moto; False when there is none."""
    if not path.exists():
        return False
    try:
        snapshot = pickle.loads(path.read_bytes())
    except Exception as err:
        raise StateUnreadable(f"{path} cannot be loaded ({type(err).__name__}: {err})") from None
    if snapshot.get("moto") != moto.__version__:
        raise StateUnreadable(
            f"{path} was saved by moto {snapshot.get('moto')}, this is moto {moto.__version__}"
        )
    for service, saved in snapshot["backends"].items():
        live = get_backend(service)
        live.update(saved)
        live.__dict__.update({name: value for name, value in vars(saved).items() if name != "_id"})
    return True
