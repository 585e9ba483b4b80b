"""Prediction and rejected-input records in S3, each written once (a conditional put) and never changed."""

from __future__ import annotations

from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from hitl_aws.s3_create import put_new_object
from hitl_aws.s3_uri import s3_uri

Record = TypeVar("Record", bound=BaseModel)


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class RecordStore:
    """JSON records under one bucket; `create` never overwrites."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return s3_uri(self.bucket, key)

    def load(self, key: str, model: type[Record]) -> Record | None:
        """The record at `key`, or None when there is none yet."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _error_code(err) in {"NoSuchKey", "404"}:
                return None
            raise
        return model.model_validate_json(response["Body"].read())

    def create(self, key: str, record: BaseModel) -> bool:
        """Write a new record; False (nothing written) when a record is already there."""
        return put_new_object(self._s3, self.bucket, key, record.model_dump_json(indent=2).encode())
