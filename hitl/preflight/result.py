"""One check's outcome: pass, warn or fail, what was found, and for warn / fail what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """`name` is stable (scripts key on it); `fix` says what to change, for warn and fail."""

    name: str
    status: Status
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": str(self.status)}


def passed(name: str, message: str) -> CheckResult:
    return CheckResult(name, Status.PASS, message)


def warned(name: str, message: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.WARN, message, fix)


def failed(name: str, message: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, message, fix)
