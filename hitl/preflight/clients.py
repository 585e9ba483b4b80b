"""AWS clients for the checks: one per service from the operator's session, each refusing any
operation that is not a Describe, Get, List or Head, so a preflight cannot change the account."""

from __future__ import annotations

from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError
from botocore.model import OperationModel

READ_ONLY_VERBS = ("Describe", "Get", "List", "Head")
ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "403"}
)


class ClientFactory(Protocol):
    """A service name ("sts", "sagemaker", ...) to a boto3 client of the operator's session, in the
    session's region unless another is named."""

    def __call__(self, service: str, region: str | None = None) -> Any: ...


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
    """Clients of one boto3 session (the operator's `--profile` and `--region`), made once per service
    and region."""

    def __init__(self, session: boto3.Session) -> None:
        self._session = session
        self._clients: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self._session.region_name)
        if key not in self._clients:
            self._clients[key] = guard(self._session.client(service, region_name=key[1]))
        return self._clients[key]


def error_code(err: ClientError) -> str:
    """The service's error code ("404" / "403" for HEAD requests, which have no error body)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def is_access_denied(err: ClientError) -> bool:
    return error_code(err) in ACCESS_DENIED
