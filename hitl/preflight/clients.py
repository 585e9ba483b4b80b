"""AWS clients for the checks: one per service from the operator's session, each refusing any
operation that is not a Describe, Get, List or Head, so a preflight cannot change the account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError
from botocore.model import OperationModel

READ_ONLY_VERBS = ("Describe", "Get", "List", "Head")
ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "403"}
)

ClientFactory = Callable[[str], Any]
"""A service name ("sts", "sagemaker", ...) to a boto3 client of the operator's session."""


class WriteRefused(RuntimeError):
    """A check asked for an operation that could change the account."""


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_ONLY_VERBS)


def refuse_writes(model: OperationModel, **_: Any) -> None:
    """botocore `before-call` hook: stop any operation that is not read-only before it is sent."""
    if not is_read_only(model.name):
        raise WriteRefused(f"preflight makes read-only calls only; refused {model.name}")


def guard(client: Any) -> Any:
    """The client, with `refuse_writes` registered ahead of everything else that handles its calls."""
    client.meta.events.register_first("before-call.*.*", refuse_writes)
    return client


class SessionClients:
    """Clients of one boto3 session (the operator's `--profile` and `--region`), made once per service."""

    def __init__(self, session: boto3.Session) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = guard(self._session.client(service))
        return self._clients[service]


def error_code(err: ClientError) -> str:
    """The service's error code ("404" / "403" for HEAD requests, which have no error body)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def is_access_denied(err: ClientError) -> bool:
    return error_code(err) in ACCESS_DENIED
