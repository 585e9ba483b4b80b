"""The gold manifest `review.gold.manifest` names (S3 GetObject): readable, every line with its known
boxes and the model's (`hitl review gold predict`), and every image under its folder. The
review service and ingest read it when they start; a bad one would stop gold tasks there."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from hitl_aws.gold_manifest import read_gold_lines
from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.gold_tasks import PREDICT_COMMAND

NAME = "gold-manifest"
SETTING = "hitl.review.gold.manifest"


def check_gold_manifest(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    gold = deployment.pipeline.review.gold
    if gold is None or gold.manifest is None:
        return None
    uri = gold.manifest
    try:
        parse_s3_uri(uri)
    except ValueError as err:
        return failed(NAME, str(err), f"upload the gold manifest to S3 and set {SETTING} to its s3:// URI")
    try:
        lines = read_gold_lines(clients("s3"), uri)
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchKey", "NoSuchBucket"):
            return failed(NAME, f"{uri} does not exist", f"upload it, or fix {SETTING}")
        if error_code(err) in ("403", "AccessDenied"):
            return warned(NAME, f"{uri} cannot be read by this identity", f"check that {uri} exists")
        raise
    except ValueError as err:  # UnicodeDecodeError too
        return failed(NAME, f"{uri}: {err}", f"fix the line; model boxes come from `{PREDICT_COMMAND}`")
    if not lines:
        return failed(NAME, f"{uri} has no lines", f"add gold lines, or remove {SETTING}")
    return passed(NAME, f"{uri}: {len(lines)} gold lines, each with the model's boxes")
