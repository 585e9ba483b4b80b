"""The errors of the `sagemaker-a2i-runtime` API, with the HTTP status each one is sent with.

The codes and statuses are those of botocore's service model, so a boto3 client raises
`ClientError` with the same `Error.Code` it would get from A2I.
"""

from __future__ import annotations


class A2IError(Exception):
    """An API error: `code` goes in `x-amzn-ErrorType`, `status` is the HTTP status."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(A2IError):
    code = "ValidationException"
    status = 400


class ResourceNotFoundException(A2IError):
    code = "ResourceNotFoundException"
    status = 404


class ConflictException(A2IError):
    code = "ConflictException"
    status = 409


class InternalServerException(A2IError):
    code = "InternalServerException"
    status = 500


def constraint_error(value: object, member: str, constraint: str) -> ValidationException:
    """A ValidationException worded the way AWS words a failed member constraint."""
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must {constraint}"
    )
