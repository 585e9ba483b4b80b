"""Every check in order, each isolated: a refused or failed call makes that check a warning
("could not check"), never a crash, and the other checks still run."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from hitl.preflight import (
    bootstrap,
    concurrency,
    endpoint,
    gold_manifest,
    model_classes,
    quotas,
    rekognition,
    review_backend,
    s3_objects,
    sign_in,
)
from hitl.preflight.clients import ClientFactory, error_code, is_access_denied
from hitl.preflight.deployment import BootstrapRequirement, Deployment
from hitl.preflight.identity import caller_identity
from hitl.preflight.result import CheckResult, Status, warned
from hitl_core.config import PipelineConfig
from infra.deploy_config import DeployConfig

Check = Callable[[Deployment, ClientFactory], CheckResult | None]
"""A check: None when the configuration does not ask for what it checks."""

# (name, check) in the order they print; the name is the one the check's results carry.
CHECKS: tuple[tuple[str, Check], ...] = (
    (bootstrap.NAME, bootstrap.check_bootstrap),
    (endpoint.ENDPOINT_NAME, endpoint.check_existing_endpoint),
    (endpoint.PACKAGE_NAME, endpoint.check_model_package),
    (endpoint.IMAGE_NAME, endpoint.check_builtin_image),
    (s3_objects.ARTIFACT_NAME, s3_objects.check_model_artifact),
    (model_classes.NAME, model_classes.check_model_classes),
    (rekognition.MODEL_NAME, rekognition.check_rekognition_model),
    (rekognition.LABELS_NAME, rekognition.check_detector_labels),
    (quotas.ENDPOINT_NAME, quotas.check_endpoint_quota),
    (quotas.TRAINING_NAME, quotas.check_training_quota),
    (s3_objects.BASE_MANIFEST_NAME, s3_objects.check_base_manifest),
    (gold_manifest.NAME, gold_manifest.check_gold_manifest),
    (concurrency.NAME, concurrency.check_lambda_concurrency),
    (review_backend.A2I_NAME, review_backend.check_a2i_availability),
    (review_backend.WORKFORCE_NAME, review_backend.check_workforce),
    (review_backend.WORK_TEAM_NAME, review_backend.check_existing_work_team),
    (sign_in.EMAIL_NAME, sign_in.check_invitation_email),
    (sign_in.DOMAIN_NAME, sign_in.check_sign_in_domain),
)


def run_check(name: str, check: Check, deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """The check's result, or a warning naming the call that could not be made."""
    try:
        return check(deployment, clients)
    except ClientError as err:
        operation = err.operation_name
        if is_access_denied(err):
            return warned(
                name,
                f"could not check: {operation} was refused ({error_code(err)})",
                f"allow {operation} to the deploying identity (docs/preflight.md lists every call), "
                "or check by hand",
            )
        message = err.response.get("Error", {}).get("Message", "")
        return warned(
            name,
            f"could not check: {operation} answered {error_code(err)} {message}".rstrip(),
            "run preflight again; if it persists, check by hand",
        )
    except BotoCoreError as err:
        return warned(name, f"could not check: {err}", "run preflight again; check by hand")


def run_preflight(
    pipeline: PipelineConfig,
    deploy: DeployConfig,
    bootstrap_needs: BootstrapRequirement,
    region: str | None,
    clients: ClientFactory,
    checks: Sequence[tuple[str, Check]] = CHECKS,
) -> list[CheckResult]:
    """The identity check, then, with an account to check, every check the configuration asks for."""
    identity, account = caller_identity(region, clients)
    if account is None or region is None:
        return [identity]
    deployment = Deployment(pipeline, deploy, region, account, bootstrap_needs)
    results = [identity]
    for name, check in checks:
        result = run_check(name, check, deployment, clients)
        if result is not None:
            results.append(result)
    return results


def exit_code(results: Sequence[CheckResult], strict: bool) -> int:
    """0 when nothing failed (and, with `strict`, nothing warned); 1 otherwise."""
    bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
    return 1 if any(result.status in bad for result in results) else 0
